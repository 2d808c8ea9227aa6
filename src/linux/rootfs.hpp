// Building a container's file system inside its new mount namespace: the rootfs
// bind, the config's mounts in order, /dev, pivot_root, then the read-only and
// masked paths. Each step is applied through Sys so it can be recorded in tests.
#pragma once

#include <string>
#include <vector>

#include "linux/sys.hpp"
#include "plan/plan.hpp"

namespace kapsel::linux {

// One cgroup hierarchy as the container should see it at a "cgroup" mount.
struct CgroupView {
    std::string name;       // directory under the mount point: "cpu", "systemd", "" for v2
    std::string fs_option;  // what to mount with a cgroup namespace: "cpu", "name=systemd"; v2: ""
    bool v2 = false;
    std::string host_path;  // the container's cgroup directory on the host (bind without cgroupns)
};

struct RootfsOptions {
    bool no_pivot = false;
    bool bind_devices = false;  // in a user namespace mknod is refused: bind host nodes
    // In a user namespace: sysfs and mqueue may be refused there (bind_host_copy).
    bool user_ns = false;
    bool new_cgroup_ns = false;
    std::vector<CgroupView> cgroups;  // for mounts of type "cgroup"
    // For idmapped mounts: a user namespace fd per entry of plan.mounts (-1: none),
    // made by the parent on the host (see make_idmap_userns).
    std::vector<int> idmap_userns;
    // Per entry of plan.mounts: an O_PATH fd of a bind's source, opened by the parent
    // (see bind_sources_from_parent), or -1: the source is resolved by path.
    std::vector<int> bind_sources;
};

// Whether the parent opens the bind sources for the init: in a user namespace the
// init's root may not reach a source (a directory below a 0700 one of the host's
// root), which the host's root can; runc opens them for the same reason. Idmapped
// binds keep their path (their detached copy is made inside).
bool bind_sources_from_parent(const plan::Plan& plan);

// A user namespace with the mount's uidMappings/gidMappings, for an idmapped
// mount. Made on the host, where /proc shows the helper process it needs.
Result<unique_fd> make_idmap_userns(const plan::Mount& m);

// Makes "/" a non-propagating copy (or what rootfsPropagation asks) and binds the
// rootfs onto itself so it can be pivoted to. Returns an O_PATH fd of the rootfs.
Result<unique_fd> prepare_rootfs(Sys& sys, const plan::Plan& plan);
// Mounts an image container's overlay root at `at` (lowerdir+ per layer, or one
// list before Linux 6.8). The init does it inside the container's mount namespace;
// a restore, in a private one of CRIU's, for CRIU to take the root from.
Status mount_overlay_at(Sys& sys, const plan::Plan::Overlay& o, const std::string& at);

// Applies one planned mount below rootfd (userns_fd: for an idmapped bind; source_fd:
// a bind's source opened by the parent).
Status apply_mount(Sys& sys, int rootfd, const plan::Mount& m, const RootfsOptions& opts,
                   int userns_fd = -1, int source_fd = -1);

// All of the plan's mounts, then device nodes and /dev links (none when the config
// binds a directory at /dev: plan::Plan::binds_dev).
Status mount_all(Sys& sys, int rootfd, const plan::Plan& plan, const RootfsOptions& opts);
Status create_devices(Sys& sys, int rootfd, const plan::Plan& plan, bool bind_devices);

// pivot_root into the rootfs and detach the old root (or, with no_pivot, hide the
// host's procfs and sysfs mounts as runc does, then MS_MOVE + chroot).
Status enter_rootfs(Sys& sys, const std::string& rootfs, bool no_pivot);

// With no_pivot: the full (root "/") procfs and sysfs mounts outside the rootfs, from
// a /proc/self/mountinfo text, in its order. `unmount` is false where unmounting
// would propagate to the parent's peers (a shared parent): those are covered.
struct HostMountToHide {
    std::string path;
    bool unmount = true;
};
std::vector<HostMountToHide> host_mounts_to_hide(const std::string& mountinfo,
                                                 const std::string& rootfs);
// Makes each a slave (nothing is unmounted on the host), then detaches it, or covers
// it with an empty read-only tmpfs where unmounting is refused (in a user namespace
// the host's mounts are locked) or not wanted.
Status hide_host_mounts(Sys& sys, const std::vector<HostMountToHide>& mounts);

// After pivot_root: readonlyPaths, maskedPaths, rootfsPropagation, a read-only root.
Status finalize_rootfs(Sys& sys, const plan::Plan& plan);

// Host side, for a container without a mount namespace of its own, whose mounts
// were made in the host's namespace below its rootfs: unmounts all of them,
// deepest first.
Status unmount_below(const std::string& path);

}  // namespace kapsel::linux
