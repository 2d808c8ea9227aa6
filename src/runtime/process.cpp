// Init process handles.
#include "runtime/process.hpp"

#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace kapsel::runtime {

unique_fd open_init(const Record& r) {
    if (r.pid <= 0) return {};
    unique_fd fd(static_cast<int>(::syscall(SYS_pidfd_open, r.pid, 0)));
    if (!fd) return {};
    // The pidfd now pins the pid: if the start time still matches, it is our init.
    uint64_t start = process_start_time(r.pid);
    if (start == 0 || (r.pid_start && start != r.pid_start)) return {};
    return fd;
}

bool wait_exit(int pidfd, int timeout_ms) {
    pollfd p{pidfd, POLLIN, 0};
    while (true) {
        int n = ::poll(&p, 1, timeout_ms);
        if (n < 0 && errno == EINTR) continue;
        return n > 0;
    }
}

int pidfd_signal(int pidfd, int sig) {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

pid_t clone_into_cgroup(uint64_t flags, int cgroup_fd, int* pidfd) {
    clone_args args{};
    args.flags = flags | CLONE_PIDFD | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
    args.pidfd = reinterpret_cast<uint64_t>(pidfd);
    args.exit_signal = SIGCHLD;
    if (cgroup_fd >= 0) args.cgroup = static_cast<uint64_t>(cgroup_fd);
    return static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
}

}  // namespace kapsel::runtime
