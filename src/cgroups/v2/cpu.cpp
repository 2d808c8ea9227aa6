// cgroup v2 cpu controller, and cpuset.
#include "cgroups/resources.hpp"

namespace kapsel::cgroups::v2 {

uint64_t cpu_weight_from_shares(uint64_t shares) {
    // The conversion runc, crun and systemd use: [2, 262144] -> [1, 10000].
    if (shares == 0) return 0;
    if (shares < 2) shares = 2;
    if (shares > 262144) shares = 262144;
    return 1 + ((shares - 2) * 9999) / 262142;
}

Status cpu(const oci::Resources& r, size_t h, ResourcePlan& plan) {
    auto& c = *r.cpu;
    if (c.shares) plan.writes.push_back({h, "cpu.weight", std::to_string(cpu_weight_from_shares(*c.shares))});
    if (c.quota || c.period) {
        // cpu.max is "QUOTA PERIOD"; a period alone keeps the current quota ("$keep").
        std::string quota = c.quota ? (*c.quota < 0 ? "max" : std::to_string(*c.quota)) : "$keep";
        plan.writes.push_back({h, "cpu.max", quota + (c.period ? " " + std::to_string(*c.period) : "")});
    }
    if (c.burst) plan.writes.push_back({h, "cpu.max.burst", std::to_string(*c.burst)});
    if (c.idle) plan.writes.push_back({h, "cpu.idle", std::to_string(*c.idle)});
    if (c.realtime_runtime || c.realtime_period)
        return make_error("linux.resources.cpu.realtimeRuntime/realtimePeriod: cgroup v2 has no real-time bandwidth control");
    return {};
}

Status cpuset(const oci::Resources& r, size_t h, ResourcePlan& plan) {
    auto& c = *r.cpu;
    if (!c.cpus.empty()) plan.writes.push_back({h, "cpuset.cpus", c.cpus});
    if (!c.mems.empty()) plan.writes.push_back({h, "cpuset.mems", c.mems});
    return {};
}

}  // namespace kapsel::cgroups::v2
