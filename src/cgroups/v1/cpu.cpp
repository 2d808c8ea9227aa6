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
    // The kernel checks each write's quota/period against the parent's (v1
    // refuses more than the parent allows, EINVAL). Period first; if that
    // refuses (the old quota over the new, shorter period is too much), the
    // quota and then the period again, as runc does. One of the two orders
    // always passes when the old and the new ratio both fit the parent.
    if (c.period)
        plan.writes.push_back(
            {h, "cpu.cfs_period_us", std::to_string(*c.period), c.quota.has_value()});
    if (c.quota) add("cpu.cfs_quota_us", std::to_string(*c.quota));
    if (c.period && c.quota) add("cpu.cfs_period_us", std::to_string(*c.period));
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
