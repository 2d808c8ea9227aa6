// seccomp: the config's rules compiled to a BPF program by libseccomp before the
// container exists (so a bad rule fails `create` early), loaded just before exec.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "plan/plan.hpp"
#include "util/fd.hpp"
#include "util/result.hpp"

namespace kapsel::linux {

struct SeccompProgram {
    std::vector<sock_filter> filter;
    unsigned flags = 0;  // SECCOMP_FILTER_FLAG_*
    bool notify = false;
};

Result<SeccompProgram> compile_seccomp(const plan::Seccomp& s);
// compile_seccomp with a cache: libseccomp needs tens of milliseconds for a
// profile with hundreds of rules (podman's, kapsel's default), and clients pass
// the same profile for every container. The cache (a directory, e.g. under the
// state root on tmpfs) is keyed by the rules, the libseccomp version and the
// architecture; an unusable entry is ignored and recompiled.
Result<SeccompProgram> compile_seccomp_cached(const plan::Seccomp& s, const std::string& cache_dir);
// kapsel's own place on tmpfs, whatever --root a client passes: a client's state
// directory is the client's, and runc leaves nothing else in it.
inline constexpr const char* kSeccompCacheDir = "/run/kapsel-cache/seccomp";
// Installs the filter; returns the notify listener fd when the program uses SCMP_ACT_NOTIFY.
Result<unique_fd> load_seccomp(const SeccompProgram& prog);

// kapsel's own filter for the container-aware procfs (issue 14): sysinfo and
// sched_getaffinity of the native architecture go to a listener (kapsel-procfs answers
// them with the container's numbers, procfs/notify.hpp); everything else is allowed. It
// is a filter of its own beside the profile's: the kernel takes the most restrictive
// action of all filters (KILL > TRAP > ERRNO > USER_NOTIF > ... > ALLOW), so a profile
// that forbids these calls still does.
SeccompProgram procfs_filter();
// Whether a process of the container gets it: the procfs is on with its notify half, and
// the profile has no listener of its own (a process may have only one filter with a
// listener: the kernel says EBUSY for a second).
bool wants_procfs_filter(const plan::Plan& p);
// Installs procfs_filter() with a listener (its callers' waits killable once received,
// where the kernel has WAIT_KILLABLE_RECV) and returns the listener. Needs no_new_privs
// or CAP_SYS_ADMIN, as any filter.
Result<unique_fd> load_procfs_filter();

// Every syscall name libseccomp knows for the native architecture.
std::vector<std::string> known_syscall_names();

// Sends the listener fd and the container process state to listenerPath.
Status send_seccomp_listener(const plan::Seccomp& s, int listener_fd, int pid,
                             const std::string& state_json);

}  // namespace kapsel::linux
