// kapsel's side of the container-aware procfs (issue 14): the service of one state root
// (--root), started on demand, shared by every container of that root, and stopped
// when the last container that used it is deleted.
//
// <root>/procfs/ holds:
//   mnt/          the FUSE mount the containers' /proc and /sys files are bound from
//   control.sock  the keeper's socket: kapsel hands it each container's seccomp listener
//   keeper.pid    the keeper's pid (kapsel-procfs; its child is the FUSE server)
//   lock          flock: exclusive to start or stop the service, shared while a create
//                 binds its files (so that a stop never pulls them from under it)
//   log           the service's stderr
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "util/fd.hpp"
#include "util/result.hpp"

namespace kapsel::procfs {

struct Service {
    std::string dir;      // <root>/procfs
    std::string mount;    // <root>/procfs/mnt
    std::string control;  // <root>/procfs/control.sock
};
Service service_of(const std::string& root);

// A running service, held for the time a container is set up with it: while a Lease is
// alive the service is not stopped.
struct Lease {
    Service service;
    unique_fd lock;  // LOCK_SH on <dir>/lock
};

// Starts the service of `root` unless it runs (a mount left by a killed keeper is
// unmounted first) and returns it leased. Fails with one line naming what is missing
// (kapsel-procfs not installed, no /dev/fuse, the mount refused).
Result<Lease> use(const std::string& root);

// The kapsel-procfs binary installed beside kapsel (or in its libexec directory).
Result<std::string> server_binary();

// Whether the service of `root` runs and answers (its mount is a live FUSE mount).
bool running(const std::string& root);

// Tells the service of `root` that no container needs it any more when `in_use` says
// so: it ends itself after its linger time (KAPSEL_PROCFS_LINGER seconds, default 30)
// unless a container uses it again first, and never while a create holds a Lease.
// Nothing to do when it does not run.
void release_if_unused(const std::string& root, bool (*in_use)(const std::string& root));

// Stops the service of `root` now (the keeper unmounts and exits); containers that
// still have its files see them fail with ENOTCONN.
Status stop(const std::string& root);

// Hands a container's seccomp listener (sysinfo, sched_getaffinity) to the service.
Status register_listener(const std::string& control, int listener_fd,
                         const std::string& container_id);

// The container paths the service's files are bound over, each with its source below
// the service's mount: the /proc files (and /proc/pressure where the host has PSI) when
// the container mounts a proc at /proc, /sys/devices/system/cpu when it mounts a sysfs
// at /sys. The sources are the container's own copy of the tree (instances.hpp: no
// inode, so no page cache, shared with another container).
std::vector<std::pair<std::string, std::string>> binds(const std::string& mount,
                                                       const std::string& container_id,
                                                       bool has_proc, bool has_sys);

}  // namespace kapsel::procfs
