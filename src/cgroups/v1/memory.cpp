// cgroup v1 memory controller.
#include "cgroups/resources.hpp"

namespace kapsel::cgroups::v1 {

Status memory(const oci::Resources& r, size_t h, PlanMode mode, ResourcePlan& plan) {
    (void)mode;
    auto& m = *r.memory;
    auto add = [&](const char* file, int64_t v) { plan.writes.push_back({h, file, std::to_string(v)}); };
    if (m.swap && m.limit && *m.swap != -1 && *m.limit != -1 && *m.swap < *m.limit)
        return make_error("linux.resources.memory.swap: " + std::to_string(*m.swap) +
                          " is below memory.limit; swap is memory plus swap on cgroup v1");
    // memsw must never be below the memory limit, whichever way both move:
    // lift it first, then set the limit, then the final memsw (unless that is
    // the lifted value already: `update --memory -1` lifts both).
    if (m.swap) add("memory.memsw.limit_in_bytes", -1);
    if (m.limit) add("memory.limit_in_bytes", *m.limit);
    if (m.swap && *m.swap != -1) add("memory.memsw.limit_in_bytes", *m.swap);
    if (m.reservation) add("memory.soft_limit_in_bytes", *m.reservation);
    // memory.kernel is deprecated by the runtime-spec and not settable on current
    // kernels (the kmem limit was removed in Linux 5.16): it is ignored.
    if (m.kernel_tcp) add("memory.kmem.tcp.limit_in_bytes", *m.kernel_tcp);
    if (m.swappiness) {
        if (*m.swappiness > 100)
            return make_error("linux.resources.memory.swappiness: " + std::to_string(*m.swappiness) +
                              " is above 100");
        plan.writes.push_back({h, "memory.swappiness", std::to_string(*m.swappiness)});
    }
    if (m.disable_oom_killer) plan.writes.push_back({h, "memory.oom_control", *m.disable_oom_killer ? "1" : "0"});
    return {};
}

}  // namespace kapsel::cgroups::v1
