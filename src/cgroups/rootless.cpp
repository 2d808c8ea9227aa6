// Rootless cgroups: the delegation rule and the limits a container without a cgroup loses.
#include "cgroups/rootless.hpp"

#include "util/fs.hpp"

namespace kapsel::cgroups {

Delegation delegation(const Layout& layout, const std::vector<std::string>& dirs,
                      const std::function<bool(const std::string&)>& can_write,
                      const std::function<bool(const std::string&)>& exists) {
    if (!layout.unified || layout.hierarchies.size() != 1 || dirs.size() != 1 ||
        layout.own_paths.size() != 1)
        return {false, layout.unified ? "no single cgroup v2 hierarchy"
                                      : "cgroup v1 hierarchies belong to root"};
    const std::string& mount = layout.hierarchies[0].mount_point;
    std::string dir = dirs[0];
    if (exists(dir)) {
        if (!can_write(dir + "/cgroup.procs"))
            return {false, dir + "/cgroup.procs is not writable by you"};
    } else {
        std::string parent = dir;
        while (parent.size() > mount.size() && !exists(parent)) parent = fs::dirname(parent);
        if (!can_write(parent)) return {false, parent + " is not writable by you"};
    }
    // The common ancestor of the caller's cgroup and the container's.
    std::string own = fs::clean(mount + "/" + layout.own_paths[0]);
    std::string common = dir;
    auto below = [](const std::string& path, const std::string& top) {
        return path == top || path.starts_with(top == "/" ? top : top + "/");
    };
    while (common.size() > mount.size() && !below(own, common)) common = fs::dirname(common);
    if (!can_write(common + "/cgroup.procs"))
        return {false, "moving a process from your cgroup " + own + " needs " + common +
                           "/cgroup.procs, which is not writable by you"};
    return {true, ""};
}

std::vector<std::string> requested_limits(const oci::Resources& r) {
    std::vector<std::string> out;
    if (r.memory) {
        auto& m = *r.memory;
        if (m.limit || m.reservation || m.swap || m.kernel || m.kernel_tcp || m.swappiness ||
            m.disable_oom_killer)
            out.push_back("memory");
    }
    if (r.cpu) {
        auto& c = *r.cpu;
        if (c.shares || c.quota || c.burst || c.period || c.realtime_runtime || c.realtime_period ||
            !c.cpus.empty() || !c.mems.empty() || c.idle)
            out.push_back("cpu");
    }
    if (r.has_pids && r.pids_limit) out.push_back("pids");
    if (r.block_io) {
        auto& b = *r.block_io;
        if (b.weight || b.leaf_weight || !b.weight_device.empty() || !b.throttle_read_bps.empty() ||
            !b.throttle_write_bps.empty() || !b.throttle_read_iops.empty() ||
            !b.throttle_write_iops.empty())
            out.push_back("blockIO");
    }
    if (!r.hugepage_limits.empty()) out.push_back("hugepageLimits");
    if (r.network && (r.network->class_id || !r.network->priorities.empty()))
        out.push_back("network");
    if (!r.rdma.empty()) out.push_back("rdma");
    if (!r.unified.empty()) out.push_back("unified");
    return out;
}

}  // namespace kapsel::cgroups
