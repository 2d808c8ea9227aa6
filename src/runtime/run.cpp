// `run`: create + start, then (attached) forward signals and the terminal until
// the container exits, and return its exit code; delete unless --keep.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "linux/console.hpp"
#include "oci/spec.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/process.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace kapsel::runtime {
namespace {

// Signals `run` passes on to the container rather than acting on them itself.
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

Result<int> run(const Globals& g, const RunOptions& o) {
    CreateOptions c = o.create;
    std::string bundle = fs::absolute(c.bundle.empty() ? "." : c.bundle);
    bool terminal = false;
    if (auto spec = oci::load_spec(bundle + "/config.json"); spec && spec->process)
        terminal = spec->process->terminal;

    unique_fd console_ours, console_theirs;
    if (terminal && !o.detach && c.console_socket.empty()) {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
            return sys_error("socketpair for terminal");
        console_ours.reset(sv[0]);
        console_theirs.reset(sv[1]);
        c.console_fd = console_theirs.get();
    }

    // The container's processes may be re-parented to us (a grandchild init); we reap them.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    sigset_t fwd = forwarded_signals(), old;
    // Signals that arrive before the container runs are queued, then forwarded.
    if (!o.detach) sigprocmask(SIG_BLOCK, &fwd, &old);

    Created created = KAPSEL_TRY(create(g, c));
    console_theirs.reset();
    unique_fd master;
    if (console_ours) {
        auto m = linux::recv_fd(console_ours.get());
        if (!m) {
            (void)remove(g, c.id, true);
            return std::move(m).error();
        }
        master = std::move(*m);
    }
    auto started = start(g, c.id);
    if (!started) {
        (void)remove(g, c.id, true);
        return std::move(started).error();
    }
    if (o.detach) return 0;

    unique_fd sfd(::signalfd(-1, &fwd, SFD_CLOEXEC));
    std::optional<RawTerminal> raw;
    if (master) {
        raw.emplace(STDIN_FILENO);
        copy_winsize(STDIN_FILENO, master.get());
    }
    bool stdin_open = master.valid();
    while (true) {
        pollfd fds[4] = {{created.pidfd.get(), POLLIN, 0},
                         {sfd.get(), POLLIN, 0},
                         {-1, POLLIN, 0},
                         {-1, POLLIN, 0}};
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
                    // Reap re-parented orphans, but leave the init for waitid below.
                    siginfo_t info{};
                    while (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                           info.si_pid != 0 && info.si_pid != created.pid)
                        ::waitpid(info.si_pid, nullptr, 0);
                } else {
                    pidfd_signal(created.pidfd.get(), sig);
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
    // Drain what the container wrote before it exited.
    if (master) {
        ::fcntl(master.get(), F_SETFL, O_NONBLOCK);
        while (pump(master.get(), STDOUT_FILENO)) {
        }
    }
    raw.reset();
    siginfo_t info{};
    int rc = 255;
    if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(created.pidfd.get()), &info,
                 WEXITED) == 0)
        rc = exit_code(info);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    if (!o.keep) {
        auto st = remove(g, c.id, true);
        if (!st) log::warn(st.error().message);
    }
    return rc;
}

}  // namespace kapsel::runtime
