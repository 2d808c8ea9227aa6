// The process's last steps before execve.
#include "linux/finish.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include "linux/identity.hpp"
#include "linux/path.hpp"
#include "linux/sync.hpp"
#include "util/strings.hpp"

namespace kapsel::linux {
namespace {

Status write_attr(const std::string& path, const std::string& value) {
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return sys_error("open " + path);
    if (::write(fd.get(), value.data(), value.size()) < 0) return sys_error("write " + path);
    return {};
}

std::string env_get(const std::vector<std::string>& env, std::string_view key) {
    for (auto& e : env)
        if (e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=')
            return e.substr(key.size() + 1);
    return {};
}

bool env_has(const std::vector<std::string>& env, std::string_view key) {
    for (auto& e : env)
        if (e.size() >= key.size() && e.compare(0, key.size(), key) == 0 &&
            (e.size() == key.size() || e[key.size()] == '='))
            return true;
    return false;
}

// The container's /etc/passwd, resolved inside its root and never through a
// magic link: the process still holds host fds that /proc/self/fd/N would reach.
std::string read_passwd() {
    RealSys sys;
    auto root = sys.openat2(AT_FDCWD, "/", O_PATH | O_DIRECTORY, 0, 0);
    if (!root) return {};
    auto fd = sys.openat2(root->get(), "/etc/passwd", O_RDONLY, 0, kInRoot);
    if (!fd) return {};
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd->get(), buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
    return text;
}

// The home directory of `uid` from the container's /etc/passwd, "/" if none.
std::string home_of(uid_t uid) {
    for (auto& line : split(read_passwd(), '\n')) {
        auto f = split(line, ':');
        if (f.size() >= 6)
            if (auto u = parse_uint(f[2]); u && *u == uid) return f[5].empty() ? "/" : f[5];
    }
    return "/";
}

// $PATH lookup inside the container: a missing program is an error before
// anything runs, not a surprise at exec.
Result<std::string> find_program(const std::string& name, const std::vector<std::string>& env) {
    if (name.find('/') != std::string::npos) {
        if (::access(name.c_str(), X_OK) < 0) return sys_error("exec \"" + name + "\"");
        return name;
    }
    std::string path = env_get(env, "PATH");
    if (!env_has(env, "PATH"))
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (auto& dir : split(path, ':')) {
        std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
        struct stat st;
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            ::access(candidate.c_str(), X_OK) == 0)
            return candidate;
    }
    return make_error("exec \"" + name + "\": executable file not found in $PATH");
}

// Loads the filters: kapsel's procfs filter, then the profile's. A notify listener goes
// to the parent, which passes the profile's on to linux.seccomp.listenerPath and the
// procfs one to the procfs service. We wait for the parent to have registered ours:
// until a server has the listener, the container's sysinfo and sched_getaffinity would
// wait for an answer (and without any listener the kernel fails them with ENOSYS, which
// breaks `free`), so a create whose registration fails fails as a whole.
Status load_filters(const FinishOptions& o) {
    if (o.plan && wants_procfs_filter(*o.plan)) {
        unique_fd listener = KAPSEL_TRY(load_procfs_filter());
        KAPSEL_TRY(send_msg(o.sync_fd, Msg::procfs_fd, {}, listener.get()));
        KAPSEL_TRY(expect_msg(o.sync_fd, Msg::procfs_done));
    }
    if (!o.seccomp) return {};
    unique_fd listener = KAPSEL_TRY(load_seccomp(*o.seccomp));
    if (listener) {
        KAPSEL_TRY(send_msg(o.sync_fd, Msg::seccomp_fd, {}, listener.get()));
        KAPSEL_TRY(expect_msg(o.sync_fd, Msg::seccomp_done));
    }
    return {};
}

}  // namespace

void tidy_fds(int base, std::vector<int*> ours) {
    for (int* fd : ours) {
        if (*fd >= 3 && *fd < base) {
            int moved = ::fcntl(*fd, F_DUPFD_CLOEXEC, base);
            ::close(*fd);
            *fd = moved;
        }
    }
    std::vector<int> keep;
    for (int* fd : ours)
        if (*fd >= base) keep.push_back(*fd);
    std::sort(keep.begin(), keep.end());
    unsigned from = static_cast<unsigned>(base);
    for (int k : keep) {
        if (static_cast<unsigned>(k) > from)
            ::syscall(SYS_close_range, from, static_cast<unsigned>(k) - 1, 0);
        from = static_cast<unsigned>(k) + 1;
    }
    ::syscall(SYS_close_range, from, ~0u, 0);
}

Status join_cgroups(const std::vector<CgroupTasks>& tasks) {
    Status st;
    for (auto& t : tasks) {
        if (st && ::write(t.fd, "0", 1) != 1) st = sys_error("join cgroup " + t.path);
        ::close(t.fd);
    }
    return st;
}

void ExecImage::exec() const {
    ::execve(program.c_str(), argv.data(), envp.data());
}

Result<ExecImage> finish_process(const FinishOptions& o) {
    const plan::Process& proc = *o.process;
    KAPSEL_TRY(apply_process_attributes(*o.plan, proc));
    if (proc.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return sys_error("set no_new_privs");

    ExecImage image;
    image.args = proc.args;
    image.env = proc.env;
    if (!env_has(image.env, "HOME")) image.env.push_back("HOME=" + home_of(proc.uid));

    // The working directory, entered while we still have our capabilities, as runc
    // does: a cwd the container user could not enter itself (a 0700 directory of
    // root's) works. Only when that is refused (EACCES: a directory that only the
    // user may enter, on NFS with root squashed) is it tried again as the user.
    // It must be inside the container. A cwd like /proc/self/fd/N could otherwise
    // lead to a host directory through an fd we still hold (CVE-2024-21626); getcwd
    // reports such a path as unreachable. Checked before any seccomp filter exists:
    // a profile may forbid getcwd.
    bool cwd_as_user = false;
    if (::chdir(proc.cwd.c_str()) < 0) {
        if (errno != EACCES) return sys_error("chdir to cwd " + proc.cwd);
        cwd_as_user = true;
    }
    {
        char buf[PATH_MAX];
        long n = ::syscall(SYS_getcwd, buf, sizeof buf);
        if (n < 0 || buf[0] != '/')
            return make_error("cwd " + proc.cwd + " is outside the container's root");
    }
    image.program = KAPSEL_TRY(find_program(proc.args[0], image.env));
    // LSM labels take effect at execve; the caller checked the LSM is enabled.
    if (!proc.apparmor_profile.empty()) {
        std::string attr = ::access("/proc/self/attr/apparmor/exec", F_OK) == 0
                               ? "/proc/self/attr/apparmor/exec"
                               : "/proc/self/attr/exec";
        KAPSEL_TRY(write_attr(attr, "exec " + proc.apparmor_profile));
    }
    if (!proc.selinux_label.empty())
        KAPSEL_TRY(write_attr("/proc/self/attr/exec", proc.selinux_label));

    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it before the
    // capabilities are dropped. With it, load_late_seccomp does, just before exec.
    if (!proc.no_new_privileges) KAPSEL_TRY(load_filters(o));

    fix_stdio_owner(proc.uid, proc.gid);
    KAPSEL_TRY(apply_user_and_caps(proc));
    ::umask(proc.umask ? *proc.umask : 022);

    // Only stdio and the preserved fds reach the program; everything kapsel
    // opened is closed here, whatever its O_CLOEXEC state (CVE-2024-21626). Done
    // before the late filter is loaded: after it, only write, read, close and execve.
    for (int fd = 3; fd < 3 + o.preserve_fds; ++fd) {
        int flags = ::fcntl(fd, F_GETFD);
        if (flags >= 0) ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
    }
    {
        // The caller put its own fds (`keep`) above the preserved range (tidy_fds).
        std::vector<int> keep = o.keep;
        std::sort(keep.begin(), keep.end());
        unsigned from = static_cast<unsigned>(3 + o.preserve_fds);
        for (int k : keep) {
            if (k < 0 || static_cast<unsigned>(k) < from) continue;
            if (static_cast<unsigned>(k) > from)
                ::syscall(SYS_close_range, from, static_cast<unsigned>(k) - 1, 0);
            from = static_cast<unsigned>(k) + 1;
        }
        ::syscall(SYS_close_range, from, ~0u, 0);
    }
    // The second try, as the user: after the fds above are closed, so that no host
    // directory is left for a /proc/self/fd/N cwd to reach (getcwd is not asked
    // again: a filter loaded above may forbid it).
    if (cwd_as_user && ::chdir(proc.cwd.c_str()) < 0) return sys_error("chdir to cwd " + proc.cwd);

    for (auto& s : image.args) image.argv.push_back(s.data());
    image.argv.push_back(nullptr);
    for (auto& s : image.env) image.envp.push_back(s.data());
    image.envp.push_back(nullptr);
    return image;
}

Status load_late_seccomp(const FinishOptions& o) {
    if (o.process->no_new_privileges) KAPSEL_TRY(load_filters(o));
    return {};
}

}  // namespace kapsel::linux
