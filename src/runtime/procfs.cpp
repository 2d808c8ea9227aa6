// The runtime's use of the container-aware procfs (see procfs.hpp).
#include "runtime/procfs.hpp"

#include <linux/mount.h>

#include "runtime/store.hpp"

namespace kapsel::runtime {
namespace {

bool mounts(const plan::Plan& plan, const char* fstype, const char* at) {
    for (auto& m : plan.mounts)
        if (m.kind == plan::MountKind::filesystem && m.fstype == fstype && m.destination == at)
            return true;
    return false;
}

bool any_uses_procfs(const std::string& root) {
    Store store(root);
    auto ids = store.ids();
    if (!ids) return true;  // unknown: keep the service
    for (auto& id : *ids) {
        auto rec = store.load(id);
        // A create still under way has no record yet; it holds a lease instead.
        if (rec && uses_procfs(rec->annotations)) return true;
    }
    return false;
}

}  // namespace

bool uses_procfs(const std::map<std::string, std::string>& annotations) {
    auto a = annotations.find(plan::kProcfsAnnotation);
    return a != annotations.end() && a->second == "true";
}

void add_procfs_binds(plan::Plan& plan, const procfs::Service& service) {
    // Read-only, and nothing in them is run, a device or setuid: the files are text.
    // They go after the config's mounts, over the /proc and /sys those made.
    for (auto& [source, destination] :
         procfs::binds(service.mount, plan.id, mounts(plan, "proc", "/proc"),
                       mounts(plan, "sysfs", "/sys"))) {
        plan::Mount m;
        m.kind = plan::MountKind::bind;
        m.source = source;
        m.destination = destination;
        m.attrs.set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        plan.mounts.push_back(std::move(m));
    }
}

Result<std::optional<procfs::Lease>> lease_procfs(const Globals& g, plan::Plan& plan) {
    if (!plan.procfs) return std::optional<procfs::Lease>{};
    procfs::Lease lease = KAPSEL_TRY_CTX(procfs::use(g.root), "annotations.run.kapsel.procfs");
    plan.procfs->mount = lease.service.mount;
    plan.procfs->control = lease.service.control;
    add_procfs_binds(plan, lease.service);
    return std::optional<procfs::Lease>(std::move(lease));
}

void release_procfs(const Globals& g) {
    procfs::release_if_unused(g.root, any_uses_procfs);
}

}  // namespace kapsel::runtime
