// Which cgroup hierarchies the host mounts: pure v2, v1, or hybrid (v1 controllers
// plus a cgroup2 mount, as on this project's CI machines).
#pragma once

#include <string>
#include <vector>

#include "util/result.hpp"

namespace kapsel::cgroups {

struct Hierarchy {
    std::string mount_point;               // /sys/fs/cgroup/cpu
    std::vector<std::string> controllers;  // {"cpu"} or {"cpu","cpuacct"}; {"name=systemd"}
    bool v2 = false;
    // The name used for the directory in a container's /sys/fs/cgroup and in state:
    // "cpu,cpuacct", "systemd", "unified".
    std::string name;
};

struct Layout {
    bool unified = false;  // pure cgroup v2: /sys/fs/cgroup is cgroup2
    std::vector<Hierarchy> hierarchies;
    // kapsel's own cgroup path per hierarchy (from /proc/self/cgroup), for relative paths.
    std::vector<std::string> own_paths;

    const Hierarchy* find(std::string_view controller) const;
};

// Reads /proc/self/mountinfo and /proc/self/cgroup.
Result<Layout> detect();
// Parses the two files' contents (for tests).
Layout parse_layout(const std::string& mountinfo, const std::string& self_cgroup);

}  // namespace kapsel::cgroups
