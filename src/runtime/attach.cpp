// Attached to a container process: signals, terminal, exit status.
#include "runtime/attach.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <optional>

#include "runtime/process.hpp"

namespace kapsel::runtime {
namespace {

// Puts the user's terminal into raw mode while the container owns it.
struct RawTerminal {
    termios saved{};
    bool active = false;
    explicit RawTerminal(int fd) {
        if (!::isatty(fd) || ::tcgetattr(fd, &saved) < 0) return;
        termios raw = saved;
        ::cfmakeraw(&raw);
        active = ::tcsetattr(fd, TCSANOW, &raw) == 0;
    }
    ~RawTerminal() {
        if (active) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    }
};

void copy_winsize(int from, int to) {
    winsize ws{};
    if (::ioctl(from, TIOCGWINSZ, &ws) == 0) ::ioctl(to, TIOCSWINSZ, &ws);
}

bool pump(int from, int to) {
    char buf[16384];
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n <= 0) return false;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        off += w;
    }
    return true;
}

int exit_code(const siginfo_t& info) {
    if (info.si_code == CLD_EXITED) return info.si_status;
    return 128 + info.si_status;
}

}  // namespace

sigset_t forwarded_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int s = 1; s < NSIG; ++s) {
        switch (s) {
            case SIGKILL:
            case SIGSTOP:
            case SIGSEGV:
            case SIGBUS:
            case SIGILL:
            case SIGFPE:
            case SIGTRAP:
            case SIGABRT:
            case SIGSYS:
                continue;
            default:
                sigaddset(&set, s);
        }
    }
    return set;
}

int wait_attached(pid_t pid, int pidfd, unique_fd master, const sigset_t& fwd) {
    unique_fd sfd(::signalfd(-1, &fwd, SFD_CLOEXEC));
    std::optional<RawTerminal> raw;
    if (master) {
        raw.emplace(STDIN_FILENO);
        copy_winsize(STDIN_FILENO, master.get());
    }
    bool stdin_open = master.valid();
    while (true) {
        pollfd fds[4] = {
            {pidfd, POLLIN, 0}, {sfd.get(), POLLIN, 0}, {-1, POLLIN, 0}, {-1, POLLIN, 0}};
        if (master) {
            fds[2].fd = master.get();
            if (stdin_open) fds[3].fd = STDIN_FILENO;
        }
        if (::poll(fds, 4, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[1].revents & POLLIN) {
            signalfd_siginfo si;
            if (::read(sfd.get(), &si, sizeof si) == sizeof si) {
                int sig = static_cast<int>(si.ssi_signo);
                if (sig == SIGWINCH) {
                    if (master) copy_winsize(STDIN_FILENO, master.get());
                } else if (sig == SIGCHLD) {
                    // Reap re-parented orphans, but leave ours for waitid below.
                    siginfo_t info{};
                    while (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                           info.si_pid != 0 && info.si_pid != pid)
                        ::waitpid(info.si_pid, nullptr, 0);
                } else {
                    pidfd_signal(pidfd, sig);
                }
            }
        }
        if (master && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
            if (!pump(master.get(), STDOUT_FILENO) && !(fds[2].revents & POLLIN)) master.reset();
        }
        if (stdin_open && (fds[3].revents & (POLLIN | POLLHUP))) {
            if (!pump(STDIN_FILENO, master.get())) stdin_open = false;
        }
        if (fds[0].revents & POLLIN) break;
    }
    // Drain what the process wrote before it exited.
    if (master) {
        ::fcntl(master.get(), F_SETFL, O_NONBLOCK);
        while (pump(master.get(), STDOUT_FILENO)) {
        }
    }
    raw.reset();
    siginfo_t info{};
    if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED) == 0)
        return exit_code(info);
    return 255;
}

}  // namespace kapsel::runtime
