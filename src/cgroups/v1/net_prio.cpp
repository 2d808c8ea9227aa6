// cgroup v1 net_prio controller.
#include "cgroups/resources.hpp"

namespace kapsel::cgroups::v1 {

Status net_prio(const oci::Resources& r, size_t h, ResourcePlan& plan) {
    for (auto& p : r.network->priorities)
        plan.writes.push_back({h, "net_prio.ifpriomap", p.name + " " + std::to_string(p.priority)});
    return {};
}

}  // namespace kapsel::cgroups::v1
