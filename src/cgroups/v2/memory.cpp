// cgroup v2 memory controller.
#include "cgroups/resources.hpp"

namespace kapsel::cgroups::v2 {

static std::string max_or(int64_t v) { return v < 0 ? "max" : std::to_string(v); }

Status memory(const oci::Resources& r, size_t h, PlanMode mode, ResourcePlan& plan) {
    (void)mode;
    auto& m = *r.memory;
    if (m.limit) plan.writes.push_back({h, "memory.max", max_or(*m.limit)});
    if (m.reservation) plan.writes.push_back({h, "memory.low", max_or(*m.reservation)});
    if (m.swap) {
        // The spec's swap is memory plus swap (v1's memsw); v2 limits swap alone.
        if (*m.swap < 0) {
            plan.writes.push_back({h, "memory.swap.max", "max"});
        } else {
            if (!m.limit || *m.limit < 0)
                return make_error("linux.resources.memory.swap: on cgroup v2 a swap limit needs memory.limit");
            if (*m.swap < *m.limit)
                return make_error("linux.resources.memory.swap: " + std::to_string(*m.swap) + " is below memory.limit");
            plan.writes.push_back({h, "memory.swap.max", std::to_string(*m.swap - *m.limit)});
        }
    }
    if (m.kernel_tcp) plan.warnings.push_back("linux.resources.memory.kernelTCP is ignored: cgroup v2 has no such limit");
    if (m.swappiness) plan.warnings.push_back("linux.resources.memory.swappiness is ignored: cgroup v2 has no such setting");
    if (m.disable_oom_killer && *m.disable_oom_killer)
        plan.warnings.push_back("linux.resources.memory.disableOOMKiller is ignored: cgroup v2 cannot disable the OOM killer");
    return {};
}

}  // namespace kapsel::cgroups::v2
