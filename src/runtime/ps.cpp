// ps: the container's processes, from its cgroup.
#include "cgroups/cgroup.hpp"
#include "runtime/manage.hpp"
#include "runtime/store.hpp"

namespace kapsel::runtime {

Result<std::vector<pid_t>> pids(const Globals& g, const std::string& id) {
    Store store(g.root);
    Record rec = KAPSEL_TRY(store.load(id));
    auto layout = KAPSEL_TRY(cgroups::detect());
    auto list = KAPSEL_TRY(cgroups::open(layout, rec.cgroup_dirs)->pids());
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
    return list;
}

}  // namespace kapsel::runtime
