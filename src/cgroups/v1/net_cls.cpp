// cgroup v1 net_cls controller.
#include "cgroups/resources.hpp"

namespace kapsel::cgroups::v1 {

Status net_cls(const oci::Resources& r, size_t h, ResourcePlan& plan) {
    plan.writes.push_back({h, "net_cls.classid", std::to_string(*r.network->class_id)});
    return {};
}

}  // namespace kapsel::cgroups::v1
