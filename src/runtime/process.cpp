// Init process handles.
#include "runtime/process.hpp"

#include <poll.h>
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

}  // namespace kapsel::runtime
