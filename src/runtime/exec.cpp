// `exec`: decide the process (the config's or a process.json, with the flags),
// check the container, then clone the tenant straight into the container's pid
// namespace and cgroup and see it through to execve; attached, wait for it.
#include "runtime/exec.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

#include "cgroups/cgroup.hpp"
#include "linux/console.hpp"
#include "linux/identity.hpp"
#include "linux/seccomp.hpp"
#include "linux/sync.hpp"
#include "linux/tenant.hpp"
#include "oci/spec.hpp"
#include "plan/build.hpp"
#include "procfs/client.hpp"
#include "runtime/attach.hpp"
#include "runtime/network.hpp"
#include "runtime/process.hpp"
#include "runtime/store.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"
#include "util/undo.hpp"

namespace kapsel::runtime {
namespace {

// The caller's fds 3 .. 3+n-1 must all be open before kapsel opens anything,
// or one of kapsel's own could fill a gap and be handed to the container.
Status check_preserved_fds(int n) {
    for (int fd = 3; fd < 3 + n; ++fd)
        if (::fcntl(fd, F_GETFD) < 0)
            return make_error("--preserve-fds " + std::to_string(n) + ": fd " + std::to_string(fd) +
                              " is not open");
    return {};
}

// The init's namespaces that are not ours, as CLONE_NEW* flags. A namespace
// type this kernel lacks is skipped; any other failure is an error, since a
// namespace we failed to see would be one the process silently stays out of.
Result<int> foreign_namespaces(pid_t pid) {
    int flags = 0;
    for (auto t : plan::kAllNamespaces) {
        std::string name = plan::ns_proc_name(t);
        std::string theirs_path = "/proc/" + std::to_string(pid) + "/ns/" + name;
        struct stat theirs, ours;
        if (::stat(theirs_path.c_str(), &theirs) < 0) {
            if (errno == ENOENT && ::stat(("/proc/self/ns/" + name).c_str(), &ours) < 0) continue;
            return sys_error("inspect " + theirs_path);
        }
        if (::stat(("/proc/self/ns/" + name).c_str(), &ours) < 0)
            return sys_error("inspect /proc/self/ns/" + name);
        if (theirs.st_ino != ours.st_ino || theirs.st_dev != ours.st_dev)
            flags |= plan::ns_clone_flag(t);
    }
    return flags;
}

// --cgroup: runc's "[controller[,controller...]:]path", an existing sub-cgroup
// of the container's (a bare path applies to every hierarchy). Returns the
// directory per hierarchy the process goes into, in the order of `dirs`.
Result<std::vector<std::string>> exec_cgroup_dirs(const cgroups::Layout& layout,
                                                  const std::vector<std::string>& dirs,
                                                  const std::vector<std::string>& args) {
    std::vector<std::string> out = dirs;
    std::vector<bool> set(dirs.size(), false);
    auto hierarchy_of = [&](size_t i) -> const cgroups::Hierarchy* {
        for (auto& h : layout.hierarchies)
            if (dirs[i] == h.mount_point || dirs[i].starts_with(h.mount_point + "/")) return &h;
        return nullptr;
    };
    for (auto& arg : args) {
        auto colon = arg.find(':');
        std::string path = colon == std::string::npos ? arg : arg.substr(colon + 1);
        for (auto& part : split(path, '/'))
            if (part == "..") return make_error("--cgroup " + arg + ": bad sub-cgroup path");
        std::string sub = fs::clean("/" + path);
        if (colon == std::string::npos) {
            if (args.size() != 1)
                return make_error("--cgroup " + arg +
                                  ": a path without a controller must be the only --cgroup");
            for (size_t i = 0; i < dirs.size(); ++i) out[i] = fs::clean(dirs[i] + sub);
            continue;
        }
        for (auto& controller : split(arg.substr(0, colon), ',')) {
            if (controller.empty())
                return make_error("--cgroup " + arg + ": empty controller name");
            bool found = false;
            for (size_t i = 0; i < dirs.size(); ++i) {
                auto* h = hierarchy_of(i);
                if (!h) continue;
                bool match = h->name == controller;
                for (auto& c : h->controllers) match = match || c == controller;
                if (!match) continue;
                if (set[i])
                    return make_error("--cgroup " + arg + ": controller " + controller +
                                      " is given twice");
                set[i] = found = true;
                out[i] = fs::clean(dirs[i] + sub);
            }
            if (!found)
                return make_error("--cgroup " + arg + ": unknown controller \"" + controller +
                                  "\"");
        }
    }
    for (size_t i = 0; i < out.size(); ++i) {
        struct stat st;
        if (::stat(out[i].c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
        if (out[i] != dirs[i])
            return make_error("--cgroup: the sub-cgroup " + out[i] + " does not exist");
        return make_error("the container's cgroup " + out[i] + " does not exist");
    }
    return out;
}

// cgroup v2 lets no process into a cgroup that hands domain controllers (memory,
// io, ...) down to sub-cgroups, which the container may have done after moving its
// init below. Then, as runc does, the process goes where the init is: the init's
// cgroup as /proc/PID/cgroup names it ("0::/path").
Result<unique_fd> init_cgroup_v2(const cgroups::Layout& layout, pid_t pid) {
    std::string text = KAPSEL_TRY(fs::read_file("/proc/" + std::to_string(pid) + "/cgroup"));
    for (auto& line : split(text, '\n')) {
        if (!line.starts_with("0::")) continue;
        for (auto& h : layout.hierarchies) {
            if (!h.v2) continue;
            std::string dir = fs::clean(h.mount_point + "/" + line.substr(3));
            unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (!fd) return sys_error("open the init's cgroup " + dir);
            return fd;
        }
    }
    return make_error("the container's init has no cgroup v2 entry in /proc/" +
                      std::to_string(pid) + "/cgroup");
}

}  // namespace

Result<int> exec(const Globals& g, const ExecOptions& o) {
    KAPSEL_TRY(check_preserved_fds(o.preserve_fds));
    std::string pid_file = o.pid_file.empty() ? "" : fs::absolute(o.pid_file);
    Store store(g.root);
    Record rec = KAPSEL_TRY(store.load(o.id));
    // As runc: a created container can be joined (its namespaces are complete),
    // a stopped one cannot, a paused one only on request.
    oci::Status status = current_status(store, rec);
    if (status == oci::Status::stopped)
        return make_error("cannot exec in container \"" + o.id + "\": it is stopped");
    if (status == oci::Status::paused && !o.ignore_paused)
        // runc's text, which callers match, with the container's name.
        return make_error("cannot exec in a paused container \"" + o.id +
                          "\" (use --ignore-paused to override)");

    // --- decide: the container's plan (seccomp, personality, ...) and the process ---
    oci::Spec spec = KAPSEL_TRY(oci::load_spec(store.dir(o.id) + "/config.json"));
    plan::Plan plan =
        KAPSEL_TRY_CTX(plan::build(spec, {o.id, rec.bundle}), "config of container " + o.id);
    plan::ExecRequest request = o.request;
    if (!o.process_file.empty()) {
        std::string text = KAPSEL_TRY_CTX(fs::read_file(o.process_file), "--process");
        request.process_file = KAPSEL_TRY(oci::parse_process(text, o.process_file));
        request.origin = o.process_file;
    }
    plan::Process proc =
        KAPSEL_TRY(plan::exec_process(spec.process, request, plan.has(plan::NsType::user)));
    KAPSEL_TRY(linux::check_process_on_host(proc));
    // A process that may change the container's network namespace: that namespace is
    // never handed to another container after this one (runtime/network.hpp).
    if (!proc.has_caps || (proc.caps.bounding & (uint64_t{1} << CAP_NET_ADMIN))) network_changed(o.id);
    if (proc.terminal && o.detach && o.console_socket.empty())
        return make_error(
            "cannot allocate a terminal for a detached process without --console-socket");
    // Always the container's filter: a process.json cannot leave it behind.
    std::optional<linux::SeccompProgram> seccomp;
    if (plan.seccomp) seccomp = KAPSEL_TRY(linux::compile_seccomp_cached(*plan.seccomp, linux::kSeccompCacheDir));
    // The process gets the procfs filter as the init did (linux/finish.cpp), its listener
    // for the service the container's create leased, which runs while the container exists.
    if (plan.procfs) plan.procfs->control = procfs::service_of(g.root).control;

    cgroups::Layout layout = KAPSEL_TRY(cgroups::detect());
    std::vector<std::string> dirs =
        KAPSEL_TRY(exec_cgroup_dirs(layout, rec.cgroup_dirs, o.cgroups));
    auto cg = cgroups::open(layout, dirs);

    // --- the init: its pidfd, namespaces and root ---
    unique_fd init = open_init(rec);
    if (!init) return make_error("cannot exec in container \"" + o.id + "\": it is stopped");
    int foreign = KAPSEL_TRY(foreign_namespaces(rec.pid));
    unique_fd root;
    if (!(foreign & CLONE_NEWNS)) {
        // No mount namespace of its own: the container is a chroot; we enter the init's.
        root.reset(::open(("/proc/" + std::to_string(rec.pid) + "/root").c_str(),
                          O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root) return sys_error("open the root of container " + o.id);
    }
    // What we read through /proc/PID was the init's only if it is still alive
    // now (the pidfd pins the process, and its pid cannot be reused before it is
    // reaped); otherwise a recycled pid could have shown us the host's namespaces.
    if (wait_exit(init.get(), 0))
        return make_error("cannot exec in container \"" + o.id + "\": it is stopped");
    // A pid namespace takes effect for children: enter it here, so the process
    // is cloned into it as our own child, not the init's.
    // setns(2) into a pid namespace wants CAP_SYS_ADMIN in the caller's own user
    // namespace too, which an ordinary user has only in the container's: it joins that
    // one with it (the kernel takes the user namespace first), and the process cloned
    // next is born its member. kapsel itself then acts as the user it was, with
    // capabilities over the container's ids only.
    int here = CLONE_NEWPID;
    if (::geteuid() != 0 && (foreign & CLONE_NEWUSER)) here |= CLONE_NEWUSER;
    if ((foreign & CLONE_NEWPID) && ::setns(init.get(), here) < 0)
        return sys_error("join the pid namespace of container " + o.id);
    if (!(foreign & CLONE_NEWPID)) here = 0;

    unique_fd console, console_ours;
    if (proc.terminal) {
        if (!o.console_socket.empty()) {
            console = KAPSEL_TRY(linux::connect_console_socket(o.console_socket));
        } else {
            // Attached without a console socket: the master comes to us, and we proxy it.
            int sv[2];
            if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return sys_error("socketpair for terminal");
            console_ours.reset(sv[0]);
            console.reset(sv[1]);
        }
    }
    auto [parent_sock, child_sock] = KAPSEL_TRY(linux::sync_pair());

    linux::TenantArgs args{.plan = &plan,
                           .process = &proc,
                           .seccomp = seccomp ? &*seccomp : nullptr,
                           .sync_fd = child_sock.get(),
                           .init_pidfd = init.get(),
                           .join_flags = foreign & ~here,
                           .root_fd = root.get(),
                           .console_fd = console.get(),
                           .preserve_fds = o.preserve_fds};
    std::vector<cgroups::TasksFile> tasks = KAPSEL_TRY(cg->tasks_files());
    for (auto& t : tasks) args.cgroup_tasks.push_back({t.path, t.fd.get()});

    // Signals that arrive before the process runs are queued, then forwarded.
    sigset_t fwd = forwarded_signals(), old;
    if (!o.detach) sigprocmask(SIG_BLOCK, &fwd, &old);
    Undo restore_mask{[&] {
        if (!o.detach) sigprocmask(SIG_SETMASK, &old, nullptr);
    }};

    int pidfd_raw = -1;
    pid_t child = clone_into_cgroup(0, cg->clone_fd(), &pidfd_raw);
    if (child < 0 && errno == EBUSY && cg->v2() && o.cgroups.empty()) {
        unique_fd fallback = KAPSEL_TRY(init_cgroup_v2(layout, rec.pid));
        child = clone_into_cgroup(0, fallback.get(), &pidfd_raw);
    }
    if (child < 0)
        return sys_error(dirs.empty() ? std::string("clone the exec process")
                                      : "clone the exec process into cgroup " + dirs.front());
    if (child == 0) linux::run_tenant(args);
    log::debug("exec: process " + std::to_string(child) + " joins container " + o.id +
               " (init pid " + std::to_string(rec.pid) + ")");
    unique_fd pidfd(pidfd_raw);
    child_sock.reset();
    console.reset();
    root.reset();
    tasks.clear();
    Undo kill_child{[&] {
        pidfd_signal(pidfd.get(), SIGKILL);
        ::waitpid(child, nullptr, 0);
    }};

    // The child is in the container's cgroups before it runs anything of the
    // container: clone3 put it into v2, and it joins the v1 hierarchies itself.
    KAPSEL_TRY(linux::apply_limits_from_outside(child, proc));
    KAPSEL_TRY(linux::send_msg(parent_sock.get(), linux::Msg::go));

    bool ready = false;
    while (true) {
        auto msg = KAPSEL_TRY(linux::recv_msg_or_eof(parent_sock.get()));
        if (!msg) {
            // EOF: the socket closed with the child's successful execve, or the
            // child died without a word.
            if (ready) break;
            return make_error("exec in container " + o.id + ": the process died before exec");
        }
        switch (msg->type) {
            case linux::Msg::error:
                return make_error(msg->payload);
            case linux::Msg::seccomp_fd: {
                std::string st = oci::state_json(to_state(rec, current_status(store, rec)), false);
                KAPSEL_TRY(linux::send_seccomp_listener(*plan.seccomp, msg->fd.get(), child, st));
                KAPSEL_TRY(linux::send_msg(parent_sock.get(), linux::Msg::seccomp_done));
                break;
            }
            case linux::Msg::procfs_fd: {
                // Before the process goes on: see load_filters in linux/finish.cpp.
                if (!plan.procfs) return make_error("unexpected message from the exec process");
                KAPSEL_TRY(procfs::register_listener(plan.procfs->control, msg->fd.get(), o.id));
                KAPSEL_TRY(linux::send_msg(parent_sock.get(), linux::Msg::procfs_done));
                break;
            }
            case linux::Msg::ready:
                ready = true;
                break;
            default:
                return make_error("unexpected message from the exec process");
        }
    }

    unique_fd master;
    if (console_ours) master = KAPSEL_TRY(linux::recv_fd(console_ours.get()));
    if (!pid_file.empty())
        KAPSEL_TRY_CTX(fs::write_file_atomic(pid_file, std::to_string(child), 0644),
                       "write pid file");
    kill_child.armed = false;
    if (o.detach) return 0;
    return wait_attached(child, pidfd.get(), std::move(master), fwd);
}

}  // namespace kapsel::runtime
