// A handle on a container's init process that cannot be fooled by pid reuse.
#pragma once

#include "runtime/store.hpp"
#include "util/fd.hpp"

namespace kapsel::runtime {

// A pidfd for the record's init, or an invalid fd if that process is gone.
unique_fd open_init(const Record& r);
// Waits until the process behind `pidfd` has exited (up to timeout_ms; -1 forever).
bool wait_exit(int pidfd, int timeout_ms);
int pidfd_signal(int pidfd, int sig);

}  // namespace kapsel::runtime
