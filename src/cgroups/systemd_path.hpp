// systemd's cgroupsPath syntax ("slice:prefix:name") mapped to the directory
// systemd would give that unit, for --systemd-cgroup on a host running systemd.
#pragma once

#include <string>

#include "util/result.hpp"

namespace kapsel::cgroups {

// "machine.slice:libpod:abc" -> "/machine.slice/libpod-abc.scope";
// "a-b.slice" parents expand as systemd does: "/a.slice/a-b.slice".
Result<std::string> systemd_path(const std::string& cgroups_path, const std::string& id);

}  // namespace kapsel::cgroups
