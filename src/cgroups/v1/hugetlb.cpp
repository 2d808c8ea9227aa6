// cgroup v1 hugetlb controller.
#include "cgroups/resources.hpp"

namespace kapsel::cgroups::v1 {

Status hugetlb(const oci::Resources& r, size_t h, ResourcePlan& plan) {
    for (auto& l : r.hugepage_limits) {
        std::string size = KAPSEL_TRY(hugepage_size(l.page_size));
        plan.writes.push_back({h, "hugetlb." + size + ".limit_in_bytes", std::to_string(l.limit)});
    }
    return {};
}

}  // namespace kapsel::cgroups::v1
