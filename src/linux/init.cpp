// The container init sequence. Its order follows the runtime-spec lifecycle and
// runc's: namespaces, rootfs, hooks, pivot_root, console, finalize, identity,
// seccomp, wait for start, startContainer hooks, exec.
#include "linux/init.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "linux/console.hpp"
#include "linux/finish.hpp"
#include "linux/hooks.hpp"
#include "linux/identity.hpp"
#include "linux/path.hpp"
#include "linux/sync.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

namespace kapsel::linux {
namespace {

[[noreturn]] void die(int sync_fd, const Error& e) {
    // One line, and one that fits a message: an error that quotes a 1 MiB value
    // (an argument, a hostname) would not go through the socket at all, and the
    // parent would know nothing.
    std::string line = e.message.size() > 4000
                           ? e.message.substr(0, 4000) + "... (" + std::to_string(e.message.size()) +
                                 " bytes)"
                           : e.message;
    for (auto& c : line)
        if (c == '\n' || c == '\r') c = ' ';
    (void)send_msg(sync_fd, Msg::error, line);
    ::_exit(1);
}

#define INIT_TRY(expr)                                          \
    ({                                                          \
        auto init_r_ = (expr);                                  \
        if (!init_r_) die(sync_fd, std::move(init_r_).error()); \
        std::move(init_r_).take();                              \
    })

Status bring_up_loopback() {
    unique_fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock) return sys_error("socket for the loopback device");
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) < 0) return sys_error("get flags of lo");
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) < 0) return sys_error("bring up lo");
    return {};
}

// After `start` released us: report why the program cannot run, through the
// exec fifo (`start` reads it once we are gone), and exit.
[[noreturn]] void fail_start(int fifo_fd, const std::string& message) {
    (void)!::write(fifo_fd, message.data(), message.size());
    ::_exit(127);
}

// While waiting for `start`, the init is kapsel itself. As pid 1 of its namespace
// it would ignore signals without a handler, and `kill c1 TERM` on a created
// container would do nothing; runc's init dies from it. execve resets these.
void exit_on(int sig) {
    ::_exit(128 + sig);
}

}  // namespace

void run_init(const InitArgs& a) {
    const plan::Plan& plan = *a.plan;
    RealSys sys;
    int sync_fd = a.sync_fd, fifo_fd = a.fifo_fd, console_fd = a.console_fd;
    int log_fd = log::fd();
    std::vector<std::pair<plan::NsType, int>> join = a.join;
    std::vector<CgroupTasks> cgroup_tasks = a.cgroup_tasks;
    RootfsOptions rootfs_opts = a.rootfs;
    {
        std::vector<int*> ours = {&sync_fd, &fifo_fd, &console_fd, &log_fd};
        for (auto& j : join) ours.push_back(&j.second);
        for (auto& t : cgroup_tasks) ours.push_back(&t.fd);
        for (auto& fd : rootfs_opts.idmap_userns)
            if (fd >= 0) ours.push_back(&fd);
        tidy_fds(3 + a.preserve_fds, ours);
        log::set_fd(log_fd);
    }

    // Die with `create` while it is still building us; cleared before `ready`.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    // Non-dumpable: no process in the container may ptrace us or open our
    // /proc/PID entries while we hold host file descriptors (CVE-2016-9962).
    ::prctl(PR_SET_DUMPABLE, a.dumpable_until_go ? 1 : 0, 0, 0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);

    // Into the container's v1 cgroups first, before we allocate or fork anything
    // (the general path's init is our child and inherits them). "0" is the calling
    // thread, and we have only one.
    INIT_TRY(join_cgroups(cgroup_tasks));

    // --- namespaces ---
    if (!join.empty() || a.unshare_flags) {
        // Join namespaces by path first, while we still have the host's privileges;
        // the user namespace goes first so the others are entered as its member.
        for (auto& [type, fd] : join)
            if (type == plan::NsType::user && ::setns(fd, CLONE_NEWUSER) < 0)
                die(sync_fd, sys_error("join user namespace"));
        for (auto& [type, fd] : join)
            if (type != plan::NsType::user && ::setns(fd, plan::ns_clone_flag(type)) < 0)
                die(sync_fd, sys_error(std::string("join ") + plan::ns_name(type) + " namespace"));
        for (auto& [type, fd] : join) ::close(fd);
        if (a.unshare_flags & CLONE_NEWUSER) {
            if (::unshare(CLONE_NEWUSER) < 0) die(sync_fd, sys_error("create user namespace"));
            INIT_TRY(send_msg(sync_fd, Msg::need_maps));
            INIT_TRY(expect_msg(sync_fd, Msg::maps_done));
        }
        int rest = a.unshare_flags & ~(CLONE_NEWUSER | CLONE_NEWCGROUP);
        if (rest && ::unshare(rest) < 0) die(sync_fd, sys_error("create namespaces"));
        if (rest & CLONE_NEWPID) {
            // A new pid namespace takes effect for children: the init is our child.
            // We are still in the parent's pid namespace, so the pid fork() returns
            // is the one the parent sees; we report it and leave.
            pid_t child = ::fork();
            if (child < 0) die(sync_fd, sys_error("fork container init"));
            if (child > 0) {
                (void)send_msg(sync_fd, Msg::hello, std::to_string(child));
                ::_exit(0);
            }
            // Our parent exits right away; `create` (a subreaper) adopts us and
            // only then sends `go`, after which the death signal is armed again.
        } else {
            INIT_TRY(send_msg(sync_fd, Msg::hello));
        }
    } else {
        INIT_TRY(send_msg(sync_fd, Msg::hello));
    }
    // Before `go`, the bind sources the parent opened for us (bind_sources_from_parent).
    std::vector<unique_fd> bind_sources;
    while (true) {
        Message m = INIT_TRY(recv_msg(sync_fd));
        if (m.type == Msg::go) break;
        auto index = parse_uint(m.payload);
        if (m.type != Msg::bind_source || !index || *index >= plan.mounts.size() || !m.fd)
            die(sync_fd, make_error("unexpected message from create before go"));
        rootfs_opts.bind_sources.resize(plan.mounts.size(), -1);
        rootfs_opts.bind_sources[*index] = m.fd.get();
        bind_sources.push_back(std::move(m.fd));
    }
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    // The maps are written: from now on nothing may ptrace us or open /proc/PID
    // (CVE-2016-9962, above), a user's container included.
    if (a.dumpable_until_go) ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

    if (plan.creates(plan::NsType::user)) {
        // Become root of the new user namespace now that its maps exist.
        if (::syscall(SYS_setresgid, 0, 0, 0) < 0)
            die(sync_fd, sys_error("setgid 0 in user namespace"));
        if (::syscall(SYS_setresuid, 0, 0, 0) < 0)
            die(sync_fd, sys_error("setuid 0 in user namespace"));
    }
    // A cgroup namespace rooted at the container's cgroup, which the parent has just
    // put us in.
    if (plan.creates(plan::NsType::cgroup) && ::unshare(CLONE_NEWCGROUP) < 0)
        die(sync_fd, sys_error("create cgroup namespace"));

    if (!a.no_new_keyring) {
        // A fresh session keyring, so the container cannot read the host's keys.
        ::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, nullptr);
    }

    const plan::Process* proc = plan.process ? &*plan.process : nullptr;

    // A new network namespace has only a loopback device, and it is down; runc
    // brings it up, and programs expect localhost to work.
    if (plan.creates(plan::NsType::net)) INIT_TRY(bring_up_loopback());

    // --- rootfs ---
    // Without a mount namespace of its own the container's mounts are made in the
    // host's namespace below the rootfs (delete unmounts them), then chroot.
    bool mountns = plan.has(plan::NsType::mount);
    unique_fd rootfd =
        mountns ? INIT_TRY(prepare_rootfs(sys, plan))
                : INIT_TRY(sys.openat2(AT_FDCWD, plan.rootfs, O_PATH | O_DIRECTORY, 0, 0));
    INIT_TRY(mount_all(sys, rootfd.get(), plan, rootfs_opts));
    for (int fd : rootfs_opts.idmap_userns)
        if (fd >= 0) ::close(fd);
    bind_sources.clear();
    rootfs_opts.bind_sources.clear();
    if (proc) {
        // The working directory exists before the process needs it (runc creates it too).
        auto cwd = mkdir_in_root(sys, rootfd.get(), proc->cwd);
        if (!cwd && cwd.error().code != EACCES)
            die(sync_fd, std::move(cwd).error().context("create cwd"));
    }

    // --- prestart / createRuntime hooks run by the parent; createContainer here ---
    INIT_TRY(send_msg(sync_fd, Msg::run_hooks));
    Message hooks_done = INIT_TRY(expect_msg(sync_fd, Msg::hooks_done));
    std::string state_json = hooks_done.payload;
    if (a.hooks && !a.hooks->create_container.empty()) {
        // From the rootfs, with the container's mounts below it, as runc runs them: a
        // hook's relative paths name files of the container's file system.
        if (::fchdir(rootfd.get()) < 0)
            die(sync_fd, sys_error("chdir to the rootfs " + plan.rootfs));
        INIT_TRY(run_hooks(a.hooks->create_container, "createContainer", state_json));
    }
    rootfd.reset();

    if (mountns) {
        INIT_TRY(enter_rootfs(sys, plan.rootfs, a.no_pivot));
    } else {
        if (::chroot(plan.rootfs.c_str()) < 0 || ::chdir("/") < 0)
            die(sync_fd, sys_error("chroot " + plan.rootfs));
    }

    // stdio that is the host's /dev/null becomes the container's own /dev/null: the same
    // device, but no longer a file of the host's mount tree, so a checkpoint (CRIU) can
    // dump it, and the container holds one host file less.
    if (mountns) {
        for (int fd = 0; fd <= 2; ++fd) {
            struct stat st;
            if (::fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) continue;
            int flags = ::fcntl(fd, F_GETFL);
            unique_fd own(::open("/dev/null", (flags & O_ACCMODE) | O_CLOEXEC));
            if (own && ::dup2(own.get(), fd) < 0) die(sync_fd, sys_error("reopen /dev/null as stdio"));
        }
    }

    if (proc && proc->terminal) {
        if (console_fd < 0)
            die(sync_fd, make_error("process.terminal is true but no console socket was given"));
        INIT_TRY(setup_console(sys, console_fd, proc->console_size, proc->uid, proc->gid));
        ::close(console_fd);
    } else if (::setsid() < 0 && errno != EPERM) {
        // Its own session, as runc's init: the caller's terminal does not signal it
        // (kapsel forwards signals), and a checkpoint finds the session leader inside
        // the container (CRIU refuses a session that reaches outside).
        die(sync_fd, sys_error("setsid"));
    }

    if (plan.set_hostname) INIT_TRY(sys.sethostname(plan.hostname));
    if (plan.set_domainname) INIT_TRY(sys.setdomainname(plan.domainname));
    {
        unique_fd sysdir;
        if (!plan.sysctl.empty()) {
            sysdir.reset(::open("/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC));
            if (!sysdir)
                die(sync_fd,
                    sys_error("open /proc/sys (sysctl needs /proc mounted in the container)"));
        }
        for (auto& [key, value] : plan.sysctl) {
            auto fd = sys.openat2(sysdir.get(), key, O_WRONLY, 0, kInRoot);
            if (!fd) die(sync_fd, std::move(fd).error().context("sysctl"));
            if (::write(fd->get(), value.data(), value.size()) < 0)
                die(sync_fd, sys_error("sysctl " + key + "=" + value));
        }
    }
    INIT_TRY(finalize_rootfs(sys, plan));

    if (!proc) {
        // No process: the container exists; `start` reports the error and releases
        // us, and we exit so the container is stopped.
        ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
        INIT_TRY(send_msg(sync_fd, Msg::ready));
        ::close(sync_fd);
        char c;
        while (::read(fifo_fd, &c, 1) < 0 && errno == EINTR) {
        }
        ::_exit(0);
    }

    FinishOptions finish{.plan = &plan,
                         .process = proc,
                         .seccomp = a.seccomp ? &*a.seccomp : nullptr,
                         .sync_fd = sync_fd,
                         .preserve_fds = a.preserve_fds,
                         .keep = {sync_fd, fifo_fd}};
    ExecImage image = INIT_TRY(finish_process(finish));

    struct sigaction die_quietly {};
    die_quietly.sa_handler = exit_on;
    for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE})
        ::sigaction(sig, &die_quietly, nullptr);

    // From here on `create` may exit; we must survive it.
    ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    INIT_TRY(load_late_seccomp(finish));
    INIT_TRY(send_msg(sync_fd, Msg::ready));
    ::close(sync_fd);

    // Wait for `start`: it writes one byte into the exec fifo. The fifo stays
    // open (O_CLOEXEC) until execve, which is how `start` learns we got there;
    // if we fail instead, the reason goes back through the fifo for `start` to show.
    char c;
    ssize_t n;
    while ((n = ::read(fifo_fd, &c, 1)) < 0 && errno == EINTR) {
    }
    if (n != 1) ::_exit(1);

    if (a.hooks && !a.hooks->start_container.empty()) {
        auto st = run_hooks(a.hooks->start_container, "startContainer", state_json);
        if (!st) fail_start(fifo_fd, st.error().message);
    }

    image.exec();
    fail_start(fifo_fd, "exec " + image.program + ": " + errno_text(errno));
}

}  // namespace kapsel::linux
