// cgroup v2 hugetlb controller (also used on a hybrid host, where hugetlb is
// bound to the cgroup2 mount).
#include "cgroups/resources.hpp"

namespace kapsel::cgroups::v2 {

Status hugetlb(const oci::Resources& r, size_t h, ResourcePlan& plan) {
    for (auto& l : r.hugepage_limits) {
        std::string size = KAPSEL_TRY(hugepage_size(l.page_size));
        plan.writes.push_back({h, "hugetlb." + size + ".max", std::to_string(l.limit)});
    }
    return {};
}

}  // namespace kapsel::cgroups::v2
