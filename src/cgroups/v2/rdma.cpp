// cgroup v2 rdma controller.
#include "cgroups/resources.hpp"

namespace kapsel::cgroups::v2 {

Status rdma(const oci::Resources& r, size_t h, ResourcePlan& plan) {
    for (auto& [dev, lim] : r.rdma) {
        std::string v = dev;
        if (lim.hca_handles) v += " hca_handle=" + std::to_string(*lim.hca_handles);
        if (lim.hca_objects) v += " hca_object=" + std::to_string(*lim.hca_objects);
        plan.writes.push_back({h, "rdma.max", v});
    }
    return {};
}

}  // namespace kapsel::cgroups::v2
