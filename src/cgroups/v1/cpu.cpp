// cgroup v1 cpu controller (CFS and real-time bandwidth).
#include "cgroups/resources.hpp"

namespace kapsel::cgroups::v1 {

Status cpu(const oci::Resources& r, size_t h, ResourcePlan& plan) {
    auto& c = *r.cpu;
    auto add = [&](const char* file, std::string v) { plan.writes.push_back({h, file, std::move(v)}); };
    if (c.shares) {
        if (*c.shares < 2) return make_error("linux.resources.cpu.shares: must be at least 2");
        add("cpu.shares", std::to_string(*c.shares));
    }
    // The period first: the kernel checks the quota against it.
    if (c.period) add("cpu.cfs_period_us", std::to_string(*c.period));
    if (c.quota) add("cpu.cfs_quota_us", std::to_string(*c.quota));
    if (c.burst) add("cpu.cfs_burst_us", std::to_string(*c.burst));
    // Real-time: the period before the runtime, for the same reason.
    if (c.realtime_period) add("cpu.rt_period_us", std::to_string(*c.realtime_period));
    if (c.realtime_runtime) add("cpu.rt_runtime_us", std::to_string(*c.realtime_runtime));
    if (c.idle) add("cpu.idle", std::to_string(*c.idle));
    return {};
}

Status cpuset(const oci::Resources& r, size_t h, ResourcePlan& plan) {
    auto& c = *r.cpu;
    if (!c.cpus.empty()) plan.writes.push_back({h, "cpuset.cpus", c.cpus});
    if (!c.mems.empty()) plan.writes.push_back({h, "cpuset.mems", c.mems});
    return {};
}

}  // namespace kapsel::cgroups::v1
