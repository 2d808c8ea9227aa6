// cgroup layout detection from mountinfo.
#include "cgroups/layout.hpp"

#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::cgroups {

const Hierarchy* Layout::find(std::string_view controller) const {
    for (auto& h : hierarchies)
        for (auto& c : h.controllers)
            if (c == controller) return &h;
    return nullptr;
}

Layout parse_layout(const std::string& mountinfo, const std::string& self_cgroup) {
    Layout layout;
    for (auto& line : split(mountinfo, '\n')) {
        // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
        auto sep = line.find(" - ");
        if (sep == std::string::npos) continue;
        auto left = split(line.substr(0, sep), ' ');
        auto right = split(line.substr(sep + 3), ' ');
        if (left.size() < 5 || right.size() < 3) continue;
        const std::string& fstype = right[0];
        if (fstype != "cgroup" && fstype != "cgroup2") continue;
        Hierarchy h;
        h.mount_point = left[4];
        h.v2 = fstype == "cgroup2";
        if (h.v2) {
            h.name = "unified";
            if (h.mount_point == "/sys/fs/cgroup") layout.unified = true;
        } else {
            static const char* known[] = {"cpu",     "cpuacct", "cpuset",   "memory", "devices",
                                          "freezer", "net_cls", "net_prio", "blkio",  "perf_event",
                                          "hugetlb", "pids",    "rdma",     "misc"};
            for (auto& opt : split(right[2], ',')) {
                if (opt.rfind("name=", 0) == 0) h.controllers.push_back(opt);
                for (auto* k : known)
                    if (opt == k) h.controllers.push_back(opt);
            }
            if (h.controllers.empty()) continue;
            std::vector<std::string> names;
            for (auto& c : h.controllers)
                names.push_back(c.rfind("name=", 0) == 0 ? c.substr(5) : c);
            h.name = join(names, ",");
        }
        // The same hierarchy can be mounted twice (bind mounts): keep the first.
        bool dup = false;
        for (auto& x : layout.hierarchies)
            dup = dup || (x.v2 == h.v2 && x.controllers == h.controllers);
        if (!dup) layout.hierarchies.push_back(h);
    }
    if (layout.unified) {
        // Pure v2: ignore anything else that calls itself cgroup.
        std::vector<Hierarchy> only;
        for (auto& h : layout.hierarchies)
            if (h.v2 && h.mount_point == "/sys/fs/cgroup") only.push_back(h);
        layout.hierarchies = only;
    }
    // /proc/self/cgroup: "4:memory:/path", "0::/path"
    layout.own_paths.resize(layout.hierarchies.size(), "/");
    for (auto& line : split(self_cgroup, '\n')) {
        auto first = line.find(':');
        auto second = line.find(':', first + 1);
        if (first == std::string::npos || second == std::string::npos) continue;
        std::string ctrls = line.substr(first + 1, second - first - 1);
        std::string path = line.substr(second + 1);
        for (size_t i = 0; i < layout.hierarchies.size(); ++i) {
            auto& h = layout.hierarchies[i];
            if (h.v2 ? ctrls.empty() : split(ctrls, ',') == h.controllers)
                layout.own_paths[i] = path;
        }
    }
    return layout;
}

Result<Layout> detect() {
    std::string mi = KAPSEL_TRY(fs::read_file("/proc/self/mountinfo"));
    std::string cg = KAPSEL_TRY(fs::read_file("/proc/self/cgroup"));
    Layout l = parse_layout(mi, cg);
    if (l.hierarchies.empty()) return make_error("no cgroup file system is mounted on this host");
    // A cgroup2 hierarchy offers the controllers not bound to a v1 hierarchy.
    for (auto& h : l.hierarchies) {
        if (!h.v2) continue;
        if (auto c = fs::read_file(h.mount_point + "/cgroup.controllers"))
            for (auto& name : split(std::string(trim(*c)), ' '))
                if (!name.empty()) h.controllers.push_back(name);
    }
    return l;
}

}  // namespace kapsel::cgroups
