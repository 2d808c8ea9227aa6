// The tenant sequence: fds, cgroup (by kapsel), namespaces, root, keyring,
// terminal, then the init's last steps (finish.cpp) and exec.
#include "linux/tenant.hpp"

#include <fcntl.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "linux/console.hpp"
#include "linux/finish.hpp"
#include "linux/sync.hpp"
#include "util/log.hpp"

namespace kapsel::linux {
namespace {

[[noreturn]] void die(int sync_fd, const Error& e) {
    (void)send_msg(sync_fd, Msg::error, e.message);
    ::_exit(1);
}

#define TENANT_TRY(expr)                                            \
    ({                                                              \
        auto tenant_r_ = (expr);                                    \
        if (!tenant_r_) die(sync_fd, std::move(tenant_r_).error()); \
        std::move(tenant_r_).take();                                \
    })

}  // namespace

void run_tenant(const TenantArgs& a) {
    const plan::Process& proc = *a.process;
    int sync_fd = a.sync_fd, pidfd = a.init_pidfd, root_fd = a.root_fd, console_fd = a.console_fd;
    int log_fd = log::fd();
    std::vector<CgroupTasks> cgroup_tasks = a.cgroup_tasks;
    std::vector<int*> ours = {&sync_fd, &pidfd, &root_fd, &console_fd, &log_fd};
    for (auto& t : cgroup_tasks) ours.push_back(&t.fd);
    tidy_fds(3 + a.preserve_fds, ours);
    log::set_fd(log_fd);

    // Die with kapsel while it is still setting us up; cleared just before exec,
    // since a detached exec's kapsel exits right after.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    // Non-dumpable: no process in the container may ptrace us or open our
    // /proc/PID entries while we hold host file descriptors (CVE-2016-9962).
    // execve makes the program dumpable again.
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    // kapsel blocked the signals it forwards; the program starts with none blocked.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);

    // Into the container's cgroups (v1; clone3 did v2), and kapsel sets our rlimits,
    // before we touch anything of the container.
    TENANT_TRY(join_cgroups(cgroup_tasks));
    TENANT_TRY(expect_msg(sync_fd, Msg::go));

    // A container without a mount namespace of its own is a chroot: enter the
    // init's root while we are still the host's root.
    if (root_fd >= 0) {
        if (::fchdir(root_fd) < 0 || ::chroot(".") < 0)
            die(sync_fd, sys_error("enter the root of the container's init"));
        ::close(root_fd);
    }
    // All namespaces at once (Linux 5.8): the user namespace, when the container
    // has one, is entered together with the others, so they are joined as its
    // member. Joining the mount namespace sets our root and cwd to its root.
    if (a.join_flags && ::setns(pidfd, a.join_flags) < 0)
        die(sync_fd, sys_error("join the namespaces of the container's init"));
    ::close(pidfd);
    // New credentials (a user namespace) clear the death signal: arm it again.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    // A fresh session keyring, so the process cannot read the caller's keys.
    ::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, nullptr);

    if (proc.terminal) {
        // From the container's devpts: we are in its mount namespace now.
        RealSys sys;
        Pty pty = TENANT_TRY(open_pty(sys, proc.console_size, proc.uid, proc.gid));
        TENANT_TRY(attach_pty(std::move(pty), console_fd));
    }
    if (console_fd >= 0) ::close(console_fd);

    FinishOptions finish{.plan = a.plan,
                         .process = &proc,
                         .seccomp = a.seccomp,
                         .sync_fd = sync_fd,
                         .preserve_fds = a.preserve_fds,
                         .keep = {sync_fd}};
    ExecImage image = TENANT_TRY(finish_process(finish));

    // From here on a detached kapsel exits as soon as we exec; we must survive it.
    ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    TENANT_TRY(load_late_seccomp(finish));
    TENANT_TRY(send_msg(sync_fd, Msg::ready));
    image.exec();
    // Only write is needed to report this: the late filter may allow little else.
    (void)send_msg(sync_fd, Msg::error, "exec " + image.program + ": " + errno_text(errno));
    ::_exit(127);
}

}  // namespace kapsel::linux
