// The procfs keeper (see keeper.hpp).
#include "procfs/keeper.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <linux/sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <deque>
#include <vector>

#include "procfs/protocol.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/result.hpp"
#include "util/strings.hpp"

namespace kapsel::procfs {
namespace {

using Clock = std::chrono::steady_clock;

// Listeners kept at once: one per container process tree (each exec adds one), freed
// when their processes are gone. Bounds what the keeper holds.
constexpr size_t kMaxListeners = 65536;
constexpr size_t kMaxIdLength = 256;

void say(const char* what) {
    std::fprintf(stderr, "kapsel-procfs: %s\n", what);
}
void say(const std::string& what) {
    say(what.c_str());
}

struct Listener {
    unique_fd fd;
    std::string id;
    unsigned long long number;
};

bool valid_id(std::string_view id) {
    if (id.empty() || id.size() > kMaxIdLength) return false;
    for (char c : id)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
            return false;
    return true;
}

// A listener whose filter has no process left polls as POLLHUP: nothing will ever be
// asked on it again.
bool gone(int listener) {
    pollfd p{listener, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

class Keeper {
  public:
    Keeper(const KeeperOptions& o, ServerMain server) : o_(o), server_main_(server) {}

    int run() {
        if (auto st = setup(); !st) {
            tell_ready("error: " + st.error().message);
            say(st.error().message);
            cleanup();
            return 1;
        }
        if (!spawn(false)) {
            tell_ready("error: could not start the server");
            cleanup();
            return 1;
        }
        tell_ready("ok");
        int rc = loop();
        stop_server();
        cleanup();
        return rc;
    }

  private:
    Status setup() {
        // The signals that end the keeper arrive through a signalfd, so that nothing
        // runs in a handler; the server child unblocks them again.
        sigset_t set;
        sigemptyset(&set);
        for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
        ::sigprocmask(SIG_BLOCK, &set, nullptr);
        sig_.reset(::signalfd(-1, &set, SFD_CLOEXEC));
        if (!sig_) return sys_error("signalfd");
        ::signal(SIGPIPE, SIG_IGN);

        fuse_.reset(::open("/dev/fuse", O_RDWR | O_CLOEXEC));
        if (!fuse_) return sys_error("open /dev/fuse");
        // The keeper mounts by itself (not through libfuse and fusermount): it must own
        // the /dev/fuse fd of the connection from the start. allow_other: the containers'
        // processes are not root in the server's eyes; default_permissions: the kernel
        // checks the modes (0444, 0555) itself; ro, nosuid, nodev, noexec: nothing here is
        // written, a device, or run.
        std::string data = "fd=" + std::to_string(fuse_.get()) +
                           ",rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions";
        if (::mount("kapsel-procfs", o_.mount.c_str(), "fuse.kapsel-procfs",
                    MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, data.c_str()) != 0)
            return sys_error("mount the fuse file system at " + o_.mount);
        mounted_ = true;
        // The mount table names the mount point by its real path, with octal escapes for
        // blanks; kapsel's paths have none, and a path that has them only makes the check
        // say "mounted" (keep serving).
        char real[PATH_MAX];
        mount_path_ = ::realpath(o_.mount.c_str(), real) ? real : o_.mount;
        mountinfo_.reset(::open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC));

        if (!o_.control.empty()) {
            listen_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
            if (!listen_) return sys_error("socket for " + o_.control);
            sockaddr_un addr{};
            addr.sun_family = AF_UNIX;
            if (o_.control.size() >= sizeof addr.sun_path)
                return make_error(o_.control + ": path is too long for a unix socket");
            std::memcpy(addr.sun_path, o_.control.c_str(), o_.control.size());
            (void)::unlink(o_.control.c_str());
            // Only root may hand listeners in: the socket is made 0600 (no window in which
            // it has a wider mode) and each peer's credentials are checked as well.
            mode_t old = ::umask(077);
            int rc = ::bind(listen_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
            ::umask(old);
            if (rc != 0) return sys_error("bind " + o_.control);
            if (::listen(listen_.get(), 64) != 0) return sys_error("listen on " + o_.control);
        }
        if (!o_.pid_file.empty())
            KAPSEL_TRY(fs::write_file_atomic(o_.pid_file, std::to_string(::getpid()) + "\n", 0600));

        timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC));
        if (!timer_) return sys_error("timerfd");
        inflight_.reset(static_cast<int>(::syscall(SYS_memfd_create, "kapsel-procfs-inflight",
                                                   MFD_CLOEXEC)));
        if (!inflight_) return sys_error("memfd for the in-flight record");
        if (::ftruncate(inflight_.get(), 4096) != 0) return sys_error("size the in-flight record");
        return {};
    }

    void tell_ready(const std::string& what) {
        if (o_.ready_fd < 0) return;
        std::string line = what + "\n";
        (void)!::write(o_.ready_fd, line.data(), line.size());
        ::close(o_.ready_fd);
        o_.ready_fd = -1;
    }

    // Starts a server. `attach`: the connection was initialised by an earlier one.
    bool spawn(bool attach) {
        int sp[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
            say("socketpair for the server: " + errno_text(errno));
            return false;
        }
        unique_fd mine(sp[0]), theirs(sp[1]);
        pid_t keeper = ::getpid();
        int pidfd = -1;
        clone_args args{};
        args.flags = CLONE_PIDFD;
        args.pidfd = reinterpret_cast<uintptr_t>(&pidfd);
        args.exit_signal = SIGCHLD;
        long pid = ::syscall(SYS_clone3, &args, sizeof args);
        if (pid < 0) {
            say("start the server: " + errno_text(errno));
            return false;
        }
        if (pid == 0) {
            // The server dies with its keeper: without the keeper nobody restarts it, and a
            // server alone would keep a mount that no `kapsel` can stop any more.
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != keeper) ::_exit(1);
            ::prctl(PR_SET_NAME, "kapsel-procfsd");
            sigset_t none;
            sigemptyset(&none);
            ::sigprocmask(SIG_SETMASK, &none, nullptr);
            ::signal(SIGPIPE, SIG_IGN);
            if (o_.ready_fd >= 0) ::close(o_.ready_fd);
            listen_.reset();
            sig_.reset();
            timer_.reset();
            mountinfo_.reset();
            mine.reset();
            listeners_.clear();
            ::_exit(server_main_(fuse_.get(), attach, theirs.get(), inflight_.get()));
        }
        server_.reset(pidfd);
        server_pid_ = static_cast<pid_t>(pid);
        feed_ = std::move(mine);
        // A server that does not take its listeners within a second is stuck or dying;
        // the next one gets them all again.
        timeval tv{1, 0};
        ::setsockopt(feed_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        for (auto& l : listeners_) forward(l);
        return true;
    }

    void forward(const Listener& l) {
        if (!feed_) return;
        if (!send_with_fd(feed_.get(), l.id + " " + std::to_string(l.number), l.fd.get()))
            feed_.reset();
    }

    void stop_server() {
        if (!server_) return;
        ::syscall(SYS_pidfd_send_signal, server_.get(), SIGTERM, nullptr, 0);
        pollfd p{server_.get(), POLLIN, 0};
        if (::poll(&p, 1, 2000) != 1)
            ::syscall(SYS_pidfd_send_signal, server_.get(), SIGKILL, nullptr, 0);
        ::waitpid(server_pid_, nullptr, 0);
        server_.reset();
    }

    void cleanup() {
        if (mounted_) (void)::umount2(o_.mount.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
        mounted_ = false;
        if (listen_) (void)::unlink(o_.control.c_str());
        if (!o_.pid_file.empty()) (void)::unlink(o_.pid_file.c_str());
    }

    // From the mount table, never by a stat of the mount point: with no server running,
    // a stat of the file system would wait for one, and the keeper is the one to start it.
    bool still_mounted() {
        ::lseek(mountinfo_.get(), 0, SEEK_SET);
        auto table = fs::read_fd(mountinfo_.get(), "/proc/self/mountinfo", 64 << 20);
        if (!table) return true;  // unknown: keep serving
        for (auto line : split(*table, '\n')) {
            auto f = split(line, ' ');
            if (f.size() < 5 || f[4] != mount_path_) continue;
            auto dash = std::find(f.begin(), f.end(), "-");
            if (dash != f.end() && dash + 1 != f.end() && *(dash + 1) == "fuse.kapsel-procfs")
                return true;
        }
        return false;
    }

    // The server ended. Unless the file system went away (unmounted by hand), a new one
    // takes over at once: a server that keeps dying is started at most ten times in ten
    // seconds, then once a second, so that a crash loop does not eat a CPU.
    bool on_server_exit() {
        int status = 0;
        ::waitpid(server_pid_, &status, 0);
        server_.reset();
        feed_.reset();
        if (WIFSIGNALED(status))
            say("the server was killed by signal " + std::to_string(WTERMSIG(status)) +
                "; starting a new one");
        else
            say("the server exited with status " + std::to_string(WEXITSTATUS(status)));
        if (!still_mounted()) return false;
        auto now = Clock::now();
        restarts_.push_back(now);
        while (!restarts_.empty() && now - restarts_.front() > std::chrono::seconds(10))
            restarts_.pop_front();
        if (restarts_.size() > 10) ::usleep(1000 * 1000);
        return spawn(true);
    }

    void on_connection() {
        unique_fd c(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!c) return;
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(c.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != 0)
            return;
        // One message, then the answer; a client that sends nothing is not waited for
        // long (the keeper serves one connection at a time).
        timeval tv{2, 0};
        ::setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(c.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        unique_fd fd;
        auto text = recv_with_fd(c.get(), &fd);
        std::string reply;
        if (!text) {
            reply = "error: " + text.error().message;
        } else if (*text == "ping") {
            linger(false);
            reply = "ok";
        } else if (*text == "idle") {
            linger(true);
            reply = "ok";
        } else if (text->rfind(std::string(kListenerVerb) + " ", 0) == 0) {
            std::string id = text->substr(kListenerVerb.size() + 1);
            if (!valid_id(id)) {
                reply = "error: not a container id";
            } else if (!fd) {
                reply = "error: no listener fd in the message";
            } else {
                std::erase_if(listeners_, [](const Listener& l) { return gone(l.fd.get()); });
                if (listeners_.size() >= kMaxListeners) {
                    reply = "error: the server keeps 65536 listeners already";
                } else {
                    linger(false);
                    listeners_.push_back({std::move(fd), id, ++registered_});
                    forward(listeners_.back());
                    reply = "ok";
                }
            }
        } else {
            reply = "error: unknown request";
        }
        (void)send_with_fd(c.get(), reply, -1);
    }

    void linger(bool on) {
        itimerspec t{};
        // A keeper whose parent is not init was adopted by a subreaper above the kapsel
        // that started it (conmon, under podman), which waits for it before it exits
        // itself: no lingering there, so that it is held no longer than needed.
        int seconds = ::getppid() == 1 ? o_.linger_s : 0;
        if (on && seconds > 0) t.it_value.tv_sec = seconds;
        if (on && seconds <= 0) t.it_value.tv_nsec = 1;  // at once (a zero would disarm)
        ::timerfd_settime(timer_.get(), 0, &t, nullptr);
    }

    // The linger ran out: the service ends unless a create is setting up a container
    // with it (it holds the lock shared; then the next check is a second later). The
    // lock stays held until the keeper has exited, so that the create that waits for it
    // finds the service gone and starts a new one.
    bool may_end() {
        uint64_t ticks;
        (void)!::read(timer_.get(), &ticks, sizeof ticks);
        if (o_.lock.empty()) return true;
        lock_.reset(::open(o_.lock.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
        // No lock file: the state root was removed, and no create can come to need us.
        if (!lock_ && errno == ENOENT) return true;
        if (lock_ && ::flock(lock_.get(), LOCK_EX | LOCK_NB) == 0) return true;
        lock_.reset();
        itimerspec t{};
        t.it_value.tv_sec = 1;
        ::timerfd_settime(timer_.get(), 0, &t, nullptr);
        return false;
    }

    int loop() {
        while (true) {
            pollfd p[4] = {{sig_.get(), POLLIN, 0},
                           {server_ ? server_.get() : -1, POLLIN, 0},
                           {listen_ ? listen_.get() : -1, POLLIN, 0},
                           {timer_.get(), POLLIN, 0}};
            if (::poll(p, 4, -1) < 0) {
                if (errno == EINTR) continue;
                say("poll: " + errno_text(errno));
                return 1;
            }
            if (p[0].revents & POLLIN) {
                signalfd_siginfo si{};
                (void)!::read(sig_.get(), &si, sizeof si);
                return 0;
            }
            if (p[1].revents & POLLIN) {
                if (!on_server_exit()) return still_mounted() ? 1 : 0;
            }
            if (p[2].revents & POLLIN) on_connection();
            if ((p[3].revents & POLLIN) && may_end()) {
                say("no container uses the service any more; stopping");
                return 0;
            }
        }
    }

    KeeperOptions o_;
    ServerMain server_main_;
    unique_fd sig_, fuse_, listen_, inflight_, server_, feed_, mountinfo_, timer_, lock_;
    std::string mount_path_;
    pid_t server_pid_ = -1;
    bool mounted_ = false;
    std::vector<Listener> listeners_;
    unsigned long long registered_ = 0;
    std::deque<Clock::time_point> restarts_;
};

}  // namespace

int run_keeper(const KeeperOptions& o, ServerMain server) {
    return Keeper(o, server).run();
}

}  // namespace kapsel::procfs
