// Facts about a host process from /proc/PID, shared by the runtime (is this still our
// init?) and the procfs server (how old is the caller's container?).
#pragma once

#include <sys/stat.h>

#include <cstdint>

namespace kapsel {

// The start time of a process (field 22 of /proc/PID/stat, in clock ticks since boot),
// 0 if it is gone or a zombie.
uint64_t process_start_time(int pid);

// Whether this process runs in a user namespace other than the host's (its uid_map is
// not the whole "0 0 4294967295"): podman runs its runtime so for a user.
bool in_user_namespace();
// Whether kapsel runs without the host's root: an ordinary user, or root of a user
// namespace (podman's rootless runtime). Such a caller has no cgroup v1 hierarchy, no
// mknod, no sysfs without a network namespace of its own.
bool rootless();
// Whether process `pid` runs the very file `bin` was stat'ed from (the same inode: a
// process can call itself anything, and a pid can be reused by another program).
bool process_runs(int pid, const struct stat& bin);

// Whether this process's user namespace maps group `gid` (always, outside one).
bool gid_mapped(uint32_t gid);

}  // namespace kapsel
