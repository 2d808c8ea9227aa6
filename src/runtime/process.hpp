// A handle on a container's init process that cannot be fooled by pid reuse.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "runtime/store.hpp"
#include "util/fd.hpp"

namespace kapsel::runtime {

// A pidfd for the record's init, or an invalid fd if that process is gone.
unique_fd open_init(const Record& r);
// Waits until the process behind `pidfd` has exited (up to timeout_ms; -1 forever).
bool wait_exit(int pidfd, int timeout_ms);
int pidfd_signal(int pidfd, int sig);
// clone3 with a pidfd, straight into the cgroup v2 directory `cgroup_fd` when it is
// valid (CLONE_INTO_CGROUP: no window in which the child runs outside it), else
// where we are. Returns as fork() does.
pid_t clone_into_cgroup(uint64_t flags, int cgroup_fd, int* pidfd);

}  // namespace kapsel::runtime
