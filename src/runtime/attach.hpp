// What `run` and `exec` do while attached to the process they started: forward
// signals to it, proxy the terminal when kapsel holds the pty master, and
// collect the exit status.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include "util/fd.hpp"

namespace kapsel::runtime {

// The signals kapsel passes on rather than acting on them itself: all but
// SIGKILL, SIGSTOP and the fault signals. Block them before the process
// exists, so that none arriving in between is lost.
sigset_t forwarded_signals();

// Waits until `pid` (a child of ours, behind `pidfd`) exits. Meanwhile signals
// in `fwd` (blocked by the caller) go to it, SIGWINCH resizes the pty, SIGCHLD
// reaps other children (orphans re-parented to a subreaper), and with a
// `master` stdin/stdout are proxied to it with the caller's terminal in raw
// mode. Returns the exit code: the process's, 128+N when signal N killed it,
// 255 when its status cannot be collected.
int wait_attached(pid_t pid, int pidfd, unique_fd master, const sigset_t& fwd);

}  // namespace kapsel::runtime
