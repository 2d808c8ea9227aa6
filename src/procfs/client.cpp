// Starting, finding and stopping a state root's procfs service (see client.hpp).
#include "procfs/client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "procfs/instances.hpp"
#include "procfs/protocol.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/self.hpp"
#include "util/strings.hpp"

namespace kapsel::procfs {
namespace {

constexpr long kFuseSuperMagic = 0x65735546;
// How long a start may take before kapsel gives up on it: the keeper mounts and listens
// in milliseconds; this bounds a keeper that hangs.
constexpr int kStartTimeoutMs = 10000;
constexpr int kStopTimeoutMs = 5000;

Result<std::string> installed_binary() {
    auto found = self::find_helper("kapsel-procfs");
    if (!found) return make_error("kapsel-procfs, kapsel's procfs server, " + found.error().message);
    return found;
}

// A live service: the mount point is a FUSE mount whose server answers. A mount left by
// a killed keeper answers ENOTCONN; one that is not mounted is the directory itself.
bool alive(const Service& s) {
    struct statfs st {};
    if (::statfs(s.mount.c_str(), &st) != 0) return false;
    if (st.f_type != kFuseSuperMagic) return false;
    return ::access((s.mount + "/meminfo").c_str(), R_OK) == 0;
}

// The keeper named in keeper.pid as a pidfd, if that process is a kapsel-procfs still:
// a pid file can outlive its process, and the pid be reused by another.
unique_fd keeper_pidfd(const Service& s) {
    auto text = fs::read_file(s.dir + "/keeper.pid");
    if (!text) return {};
    auto pid = parse_int(trim(*text));
    if (!pid || *pid <= 1) return {};
    unique_fd fd(static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(*pid), 0)));
    if (!fd) return {};
    auto comm = fs::read_file("/proc/" + std::to_string(*pid) + "/comm");
    if (!comm || trim(*comm) != "kapsel-procfs") return {};
    return fd;
}

bool wait_gone(int pidfd, int timeout_ms) {
    pollfd p{pidfd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1;
}

// The keeper ends itself on SIGTERM (unmounting); one that does not is killed. A mount
// left behind either way is detached, so that a new start finds the directory bare.
void stop_service(const Service& s) {
    if (unique_fd pidfd = keeper_pidfd(s)) {
        ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGTERM, nullptr, 0);
        if (!wait_gone(pidfd.get(), kStopTimeoutMs)) {
            log::warn("procfs: the service of " + s.dir + " did not stop on SIGTERM; killing it");
            ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
            (void)wait_gone(pidfd.get(), kStopTimeoutMs);
        }
    }
    struct statfs st {};
    if (::statfs(s.mount.c_str(), &st) == 0 && st.f_type == kFuseSuperMagic)
        (void)::umount2(s.mount.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
    (void)::unlink(s.control.c_str());
    (void)::unlink((s.dir + "/keeper.pid").c_str());
}

// Runs kapsel-procfs detached (its own session, no fd of ours but the readiness pipe and
// its log) and waits until it says it serves, or why it cannot.
Status start_service(const Service& s) {
    std::string binary = KAPSEL_TRY(installed_binary());
    KAPSEL_TRY(fs::mkdir_p(s.mount, 0755));
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) return sys_error("pipe for kapsel-procfs");
    unique_fd ready_r(pipefd[0]), ready_w(pipefd[1]);
    unique_fd log(::open((s.dir + "/log").c_str(),
                         O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!log) return sys_error("open " + s.dir + "/log");
    unique_fd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!null) return sys_error("open /dev/null");
    std::string linger = "30";
    if (const char* l = ::getenv("KAPSEL_PROCFS_LINGER"); l && parse_int(l) && *parse_int(l) >= 0)
        linger = l;
    std::vector<std::string> words = {binary,     "--control", s.control,
                                      "--lock",   s.dir + "/lock",
                                      "--linger", linger,
                                      "--pid-file", s.dir + "/keeper.pid",
                                      "--ready-fd", "3",
                                      s.mount};
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);

    // kapsel's own run and restore are subreapers (for their containers' processes):
    // the keeper would be adopted by this short-lived process instead of by init, or by
    // the long-lived subreaper above it (podman's conmon), whose adoption the keeper
    // takes as a reason not to linger. So not while it is forked off.
    int subreaper = 0;
    ::prctl(PR_GET_CHILD_SUBREAPER, &subreaper);
    if (subreaper) ::prctl(PR_SET_CHILD_SUBREAPER, 0);
    struct Restore {
        int was;
        ~Restore() {
            if (was) ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        }
    } restore{subreaper};
    pid_t child = ::fork();
    if (child < 0) return sys_error("fork for kapsel-procfs");
    if (child == 0) {
        // Twice forked and in a session of its own: the service outlives this kapsel and
        // is no child of whatever ran it (podman, containerd's shim) to be reaped or killed
        // with it. Only async-signal-safe calls from here on.
        ::setsid();
        if (::fork() != 0) ::_exit(0);
        // Nothing of the caller's stays held: not its working directory (a bundle that
        // is to be removed), not its umask.
        if (::chdir("/") != 0) ::_exit(127);
        ::umask(022);
        ::dup2(null.get(), 0);
        ::dup2(log.get(), 1);
        ::dup2(log.get(), 2);
        ::dup2(ready_w.get(), 3);
        ::syscall(SYS_close_range, 4u, ~0u, 0u);
        for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ready_w.reset();
    ::waitpid(child, nullptr, 0);
    std::string said;
    pollfd p{ready_r.get(), POLLIN, 0};
    for (int left = kStartTimeoutMs; left > 0;) {
        int n = ::poll(&p, 1, 100);
        if (n < 0 && errno != EINTR) return sys_error("wait for kapsel-procfs");
        if (n <= 0) {
            left -= 100;
            continue;
        }
        char buf[512];
        ssize_t got = ::read(ready_r.get(), buf, sizeof buf);
        if (got <= 0) break;
        said.append(buf, static_cast<size_t>(got));
        if (said.size() > 4096 || said.find('\n') != std::string::npos) break;
    }
    said = std::string(trim(said));
    if (said == "ok") return {};
    if (said.empty()) {
        auto logged = fs::read_file(s.dir + "/log");
        std::string why = logged ? std::string(trim(*logged)) : "";
        if (why.size() > 400) why = why.substr(why.size() - 400);
        return make_error("start kapsel-procfs at " + s.mount + ": " +
                          (why.empty() ? "it did not start within 10 s" : why));
    }
    return make_error("start kapsel-procfs at " + s.mount + ": " + said);
}

Result<unique_fd> lock_dir(const Service& s, int how) {
    KAPSEL_TRY(fs::mkdir_p(s.dir, 0700));
    unique_fd fd(::open((s.dir + "/lock").c_str(),
                        O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return sys_error("open " + s.dir + "/lock");
    while (::flock(fd.get(), how) != 0) {
        if (errno == EINTR) continue;
        if (errno == EWOULDBLOCK) return unique_fd{};
        return sys_error("lock " + s.dir + "/lock");
    }
    return fd;
}

// One request to the keeper and its answer ("ok" or "error: WHY").
Status request(const std::string& control, const std::string& text, int fd) {
    unique_fd sock(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!sock) return sys_error("socket for " + control);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (control.size() >= sizeof addr.sun_path)
        return make_error(control + ": path is too long for a unix socket");
    std::memcpy(addr.sun_path, control.c_str(), control.size());
    if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return sys_error("connect to " + control);
    // A keeper that stops answering must not hold a create forever.
    timeval tv{5, 0};
    ::setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(sock.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    KAPSEL_TRY_CTX(send_with_fd(sock.get(), text, fd), "send to " + control);
    auto reply = KAPSEL_TRY_CTX(recv_with_fd(sock.get(), nullptr), "answer of " + control);
    if (reply != "ok") return make_error(control + ": " + (reply.empty() ? "no answer" : reply));
    return {};
}


}  // namespace

Result<std::string> server_binary() {
    return installed_binary();
}

Service service_of(const std::string& root) {
    std::string dir = root + "/procfs";
    return {dir, dir + "/mnt", dir + "/control.sock"};
}

bool running(const std::string& root) {
    return alive(service_of(root));
}

Result<Lease> use(const std::string& root) {
    Service s = service_of(root);
    // Started under the exclusive lock, then held shared: a stop between the two (the
    // lock is converted, not handed over atomically) is seen by the check after it.
    for (int attempt = 0; attempt < 3; ++attempt) {
        {
            unique_fd ex = KAPSEL_TRY(lock_dir(s, LOCK_EX));
            if (!alive(s)) {
                stop_service(s);  // a dead mount, a stale pid file or socket
                KAPSEL_TRY(start_service(s));
            }
            if (::flock(ex.get(), LOCK_SH) != 0) return sys_error("lock " + s.dir + "/lock");
            // The ping also calls off an end the last delete asked for (release_if_unused).
            if (alive(s) && request(s.control, "ping", -1)) return Lease{s, std::move(ex)};
        }
    }
    return make_error("start kapsel-procfs at " + s.mount + ": it stopped again right after starting");
}

void release_if_unused(const std::string& root, bool (*in_use)(const std::string& root)) {
    Service s = service_of(root);
    if (!fs::exists(s.control) || in_use(root)) return;
    if (auto st = request(s.control, "idle", -1); !st)
        log::debug("procfs: " + st.error().message);
}

Status stop(const std::string& root) {
    Service s = service_of(root);
    if (!fs::exists(s.dir)) return {};
    unique_fd ex = KAPSEL_TRY(lock_dir(s, LOCK_EX));
    stop_service(s);
    return {};
}

Status register_listener(const std::string& control, int listener_fd,
                         const std::string& container_id) {
    KAPSEL_TRY_CTX(request(control, std::string(kListenerVerb) + " " + container_id, listener_fd),
                   "hand the seccomp listener to the procfs service");
    return {};
}


std::vector<std::pair<std::string, std::string>> binds(const std::string& service_mount,
                                                       const std::string& container_id,
                                                       bool has_proc, bool has_sys) {
    const std::string mount = service_mount + "/" + instance_name(container_id);
    std::vector<std::pair<std::string, std::string>> out;
    if (has_proc) {
        for (const char* f : {"meminfo", "cpuinfo", "stat", "uptime", "loadavg", "swaps", "diskstats"})
            out.emplace_back(mount + "/" + f, std::string("/proc/") + f);
        // Only where the kernel has PSI: the container's proc has the directory to bind
        // over then, and nothing is made inside a proc mount.
        if (::access("/proc/pressure", F_OK) == 0)
            out.emplace_back(mount + "/pressure", "/proc/pressure");
    }
    // The whole directory: its cpuN entries are the container's CPUs (the service passes
    // the rest of the host's directory through).
    if (has_sys) out.emplace_back(mount + "/sys/devices/system/cpu", "/sys/devices/system/cpu");
    return out;
}

}  // namespace kapsel::procfs
