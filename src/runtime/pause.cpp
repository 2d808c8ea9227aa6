// pause and resume: the container's cgroup is frozen or thawed (v1 freezer,
// v2 cgroup.freeze); its state then reads "paused".
#include "cgroups/cgroup.hpp"
#include "runtime/manage.hpp"
#include "runtime/store.hpp"

namespace kapsel::runtime {

Status pause(const Globals& g, const std::string& id) {
    Store store(g.root);
    Record rec = KAPSEL_TRY(store.load(id));
    unique_fd lock = KAPSEL_TRY(store.lock(id));
    oci::Status s = current_status(store, rec);
    if (s != oci::Status::running && s != oci::Status::created)
        return make_error("cannot pause container \"" + id + "\": it is " + oci::status_name(s));
    auto layout = KAPSEL_TRY(cgroups::detect());
    return cgroups::open(layout, rec.cgroup_dirs)->freeze();
}

Status resume(const Globals& g, const std::string& id) {
    Store store(g.root);
    Record rec = KAPSEL_TRY(store.load(id));
    unique_fd lock = KAPSEL_TRY(store.lock(id));
    oci::Status s = current_status(store, rec);
    if (s != oci::Status::paused)
        return make_error("cannot resume container \"" + id + "\": it is " + oci::status_name(s) + ", not paused");
    auto layout = KAPSEL_TRY(cgroups::detect());
    return cgroups::open(layout, rec.cgroup_dirs)->thaw();
}

}  // namespace kapsel::runtime
