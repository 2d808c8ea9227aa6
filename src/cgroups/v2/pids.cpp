// cgroup v2 pids controller.
#include "cgroups/resources.hpp"

namespace kapsel::cgroups::v2 {

Status pids(const oci::Resources& r, size_t h, ResourcePlan& plan) {
    int64_t limit = *r.pids_limit;
    plan.writes.push_back({h, "pids.max", limit > 0 ? std::to_string(limit) : "max"});
    return {};
}

}  // namespace kapsel::cgroups::v2
