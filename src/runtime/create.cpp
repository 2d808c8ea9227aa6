// `create`: decide (parse, plan, check against the host), then build the
// container with an owner for every resource, so any failure undoes everything.
#include <fcntl.h>
#include <linux/nsfs.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "cgroups/cgroup.hpp"
#include "cgroups/rootless.hpp"
#include "cgroups/systemd_path.hpp"
#include "linux/console.hpp"
#include "linux/hooks.hpp"
#include "linux/identity.hpp"
#include "linux/init.hpp"
#include "linux/rootfs.hpp"
#include "linux/seccomp.hpp"
#include "linux/sync.hpp"
#include "linux/userns_maps.hpp"
#include "oci/spec.hpp"
#include "plan/build.hpp"
#include "plan/names.hpp"
#include "procfs/client.hpp"
#include "runtime/bundle.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/procfs.hpp"
#include "runtime/process.hpp"
#include "runtime/store.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/proc.hpp"
#include "util/strings.hpp"
#include "util/undo.hpp"

namespace kapsel::runtime {
namespace {

std::string id_map_text(const std::vector<plan::IdMap>& maps) {
    std::string s;
    for (auto& m : maps)
        s += std::to_string(m.inside) + " " + std::to_string(m.outside) + " " +
             std::to_string(m.count) + "\n";
    return s;
}

Status write_id_maps(pid_t pid, const plan::Plan& plan) {
    if (::geteuid() != 0) return linux::write_rootless_maps(pid, plan);
    std::string base = "/proc/" + std::to_string(pid);
    KAPSEL_TRY_CTX(fs::write_file(base + "/uid_map", id_map_text(plan.uid_map)),
                   "write uid mappings");
    KAPSEL_TRY_CTX(fs::write_file(base + "/gid_map", id_map_text(plan.gid_map)),
                   "write gid mappings");
    return {};
}

// Checks that need the host: what the plan alone cannot know.
Status check_against_host(const plan::Plan& plan) {
    struct stat st;
    if (::stat(plan.rootfs.c_str(), &st) < 0) return sys_error("root.path " + plan.rootfs);
    if (!S_ISDIR(st.st_mode)) return make_error("root.path " + plan.rootfs + " is not a directory");
    // A joined network namespace may be the host's own (a path to /proc/1/ns/net, or
    // a bind of it): a net.* sysctl there would change the host, as runc also refuses.
    for (auto& ns : plan.namespaces) {
        if (ns.type != plan::NsType::net || ns.path.empty()) continue;
        struct stat joined, host, ours;
        if (::stat(ns.path.c_str(), &joined) < 0) continue;  // open_namespace says why later
        auto same = [&](const struct stat& o) {
            return joined.st_dev == o.st_dev && joined.st_ino == o.st_ino;
        };
        bool hosts = (::stat("/proc/1/ns/net", &host) == 0 && same(host)) ||
                     (::stat("/proc/self/ns/net", &ours) == 0 && same(ours));
        if (!hosts) continue;
        for (auto& [key, value] : plan.sysctl)
            if (key.rfind("net/", 0) == 0)
                return make_error("linux.sysctl: \"" + key + "\" would change the host: the network namespace " +
                                  ns.path + " is the host's");
    }
    if (plan.process) KAPSEL_TRY(linux::check_process_on_host(*plan.process));
    if (::geteuid() != 0) {
        // As runc: an ordinary user has no privilege on the host to build a container
        // with; a user namespace of the container's own gives it one.
        if (!plan.creates(plan::NsType::user))
            return make_error("linux.namespaces: a user without root needs a new user namespace "
                              "(kapsel spec --rootless writes one)");
        KAPSEL_TRY(linux::check_rootless_maps(plan));
    }
    return {};
}

// The init closed its end without a word: it was killed (the OOM killer, when the
// memory limit cannot even hold it) or died before it could report. Its exit
// status says which, instead of a bare "exited unexpectedly".
Error why_init_ended(pid_t child, const cgroups::Cgroup& cg, Error e) {
    int status = 0;
    pid_t r;
    for (int i = 0; i < 200 && (r = ::waitpid(child, &status, WNOHANG)) == 0; ++i) ::usleep(5000);
    if (r != child) return e;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && cg.oom_kills() > 0)
        return make_error("the container init was killed by the OOM killer while it was set up: "
                          "linux.resources.memory.limit is too small");
    if (WIFSIGNALED(status))
        return make_error(std::string("the container init was killed by SIG") +
                          ::sigabbrev_np(WTERMSIG(status)) + " while it was set up");
    return make_error("the container init exited with status " + std::to_string(WEXITSTATUS(status)) +
                      " before it could report why");
}

// Opens a namespace path and checks it is a namespace of the expected type.
Result<unique_fd> open_namespace(const plan::Namespace& ns) {
    unique_fd fd(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
        return sys_error(std::string("open ") + plan::ns_name(ns.type) + " namespace " + ns.path);
    int type = ::ioctl(fd.get(), NS_GET_NSTYPE);
    if (type < 0) return make_error(ns.path + " is not a namespace");
    if (type != plan::ns_clone_flag(ns.type))
        return make_error(ns.path + " is not a " + std::string(plan::ns_name(ns.type)) +
                          " namespace");
    return fd;
}

// Opens the bind mounts' sources in the init's mount namespace with the host root's
// credentials and hands them to the init before `go` (bind_sources_from_parent): a
// helper does it, since joining a mount namespace changes the caller's root and cwd.
// The fds name mounts of the init's namespace, so a bind through them copies those
// (locked, in a user namespace) mounts as a bind by path would. A source the helper
// cannot open is left to the init, which then reports it by path.
Status send_bind_sources(const plan::Plan& plan, pid_t init_pid, int sock) {
    unique_fd ns(
        ::open(("/proc/" + std::to_string(init_pid) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) return sys_error("open the mount namespace of the container init");
    pid_t helper = ::fork();
    if (helper < 0) return sys_error("fork to open the bind sources");
    if (helper == 0) {
        if (::setns(ns.get(), CLONE_NEWNS) < 0) ::_exit(1);
        for (size_t i = 0; i < plan.mounts.size(); ++i) {
            auto& m = plan.mounts[i];
            if (m.kind != plan::MountKind::bind || !m.uid_map.empty()) continue;
            unique_fd fd(::open(m.source.c_str(), O_PATH | O_CLOEXEC));
            if (fd && !linux::send_msg(sock, linux::Msg::bind_source, std::to_string(i), fd.get()))
                ::_exit(1);
        }
        ::_exit(0);
    }
    int status = 0;
    while (::waitpid(helper, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return make_error("open the bind mounts' sources in the container's mount namespace");
    return {};
}

// A user without root has a cgroup only in a cgroup v2 subtree delegated to it (as
// with runc and crun); elsewhere the container runs in the caller's cgroup, and the
// limits its config asks for are named in one warning, never dropped silently. A
// config without limits runs without a word.
void without_cgroup_unless_delegated(const std::string& id, const oci::Resources& resources,
                                     cgroups::Layout& layout, std::vector<std::string>& dirs) {
    auto d = cgroups::delegation(
        layout, dirs, [](const std::string& p) { return ::access(p.c_str(), W_OK) == 0; },
        [](const std::string& p) { return fs::exists(p); });
    if (d.usable) return;
    log::debug("create: container " + id + " gets no cgroup: " + d.why_not);
    layout = cgroups::Layout{};
    dirs.clear();
    auto lost = cgroups::requested_limits(resources);
    if (lost.empty()) return;
    std::string names;
    for (auto& l : lost) names += (names.empty() ? "" : ", ") + std::string("linux.resources.") + l;
    log::warn("container " + id + " runs without a cgroup of its own (rootless: " + d.why_not +
              "), so these limits are not applied: " + names);
}

std::string state_for_hooks(const Record& r, oci::Status status) {
    return oci::state_json(to_state(r, status), false);
}

}  // namespace

Result<Created> create(const Globals& g, const CreateOptions& o) {
    KAPSEL_TRY(Store::validate_id(o.id));
    if (g.systemd_cgroup && !fs::exists("/run/systemd/system"))
        return make_error(
            "--systemd-cgroup: systemd is not running on this host; use the cgroupfs driver (drop "
            "the flag)");
    Bundle loaded = KAPSEL_TRY(load_bundle(o.bundle, o.id));
    log::debug("create: container " + o.id + " from bundle " + loaded.dir);
    const std::string& bundle = loaded.dir;
    const std::string& config_text = loaded.config_text;
    const oci::Spec& spec = loaded.spec;
    plan::Plan& plan = loaded.plan;
    KAPSEL_TRY(check_against_host(plan));

    // With --systemd-cgroup the path is systemd's "slice:prefix:name"; kapsel
    // still writes the cgroup itself, at the directory systemd would use.
    if (g.systemd_cgroup) plan.cgroups_path = KAPSEL_TRY(cgroups::systemd_path(plan.cgroups_path, o.id));

    // systemd's socket activation: the fds and the variables follow into the
    // container, when they were meant for us (LISTEN_PID is our pid, as in sd_listen_fds).
    int preserve = o.preserve_fds;
    const char* lf = ::getenv("LISTEN_FDS");
    const char* lp = ::getenv("LISTEN_PID");
    if (lf && lp && plan.process && parse_int(lp) == ::getpid()) {
        if (auto n = parse_int(lf); n && *n > 0) {
            preserve += static_cast<int>(*n);
            auto& env = plan.process->env;
            std::erase_if(env, [](const std::string& e) {
                return e.rfind("LISTEN_FDS=", 0) == 0 || e.rfind("LISTEN_PID=", 0) == 0;
            });
            env.push_back("LISTEN_FDS=" + std::to_string(*n));
            env.push_back("LISTEN_PID=1");
        }
    }
    if (plan.process && plan.process->terminal && o.console_socket.empty() && o.console_fd < 0)
        return make_error("process.terminal is true: --console-socket is required");

    std::optional<linux::SeccompProgram> seccomp;
    if (plan.seccomp) seccomp = KAPSEL_TRY(linux::compile_seccomp_cached(*plan.seccomp, linux::kSeccompCacheDir));
    if (plan.procfs && plan.procfs->notify && !linux::wants_procfs_filter(plan))
        log::warn("container " + o.id +
                  ": the seccomp profile has a listener of its own (SCMP_ACT_NOTIFY), so sysinfo "
                  "and sched_getaffinity show the host's numbers in it");

    cgroups::Layout layout = KAPSEL_TRY(cgroups::detect());
    auto cg_dirs = cgroups::resolve_dirs(layout, plan.cgroups_path, o.id);
    const oci::Resources no_resources;
    const oci::Resources& resources =
        spec.linux_ && spec.linux_->resources ? *spec.linux_->resources : no_resources;
    if (rootless()) without_cgroup_unless_delegated(o.id, resources, layout, cg_dirs);
    Store store(g.root);
    // Held until the record is written: the service is not let go in between.
    auto procfs_lease = KAPSEL_TRY(lease_procfs(g, plan));
    // A create that fails leaves no container behind to keep the service: it may end.
    Undo release_service{[&] {
        if (procfs_lease) release_procfs(g);
    }};

    // --- from here on, everything made is undone on failure ---
    KAPSEL_TRY(store.create_dir(o.id));
    Undo remove_dir{[&] { (void)store.remove(o.id); }};
    std::string dir = store.dir(o.id);
    KAPSEL_TRY(fs::write_file_atomic(dir + "/config.json", config_text, 0600));

    bool hooks_ran = false;
    Undo poststop{[&] {
        if (hooks_ran) {
            Record r{.id = o.id, .pid = 0, .bundle = bundle};
            linux::run_hooks_warn(spec.hooks.poststop, "poststop",
                                  state_for_hooks(r, oci::Status::stopped));
        }
    }};

    {
        // Until the record is written this file says which cgroup directories will be
        // the container's and which of them existed already, so that a delete (or
        // system prune) after a create that was killed, even halfway through making
        // them, removes what it made and nothing else (delete.cpp).
        nlohmann::json existed = nlohmann::json::array();
        for (auto& d : cg_dirs)
            if (fs::exists(d)) existed.push_back(d);
        KAPSEL_TRY(fs::write_file_atomic(
            dir + "/cgroup.json", nlohmann::json{{"dirs", cg_dirs}, {"existed", existed}}.dump(),
            0600));
    }
    auto cg = KAPSEL_TRY(cgroups::create(layout, cg_dirs));
    Undo remove_cgroup{[&] { (void)cg->destroy(); }};
    log::debug("create: cgroup " + (cg_dirs.empty() ? std::string("(none)") : cg_dirs.front()) +
               " and " + std::to_string(cg_dirs.size() > 0 ? cg_dirs.size() - 1 : 0) +
               " more hierarchies");
    // Limits hold before the init's first instruction: it is cloned into a
    // cgroup that already has them.
    if (!cg_dirs.empty())
        KAPSEL_TRY_CTX(cg->apply(resources, cgroups::PlanMode::create), "apply linux.resources");
    Undo host_mounts{[&] {
        if (!plan.has(plan::NsType::mount)) (void)linux::unmount_below(plan.rootfs);
    }};

    std::string fifo = dir + "/exec.fifo";
    if (::mkfifo(fifo.c_str(), 0600) < 0) return sys_error("create " + fifo);
    // Held open for reading by the init until it execs; `start` writes one byte.
    unique_fd fifo_fd(::open(fifo.c_str(), O_RDWR | O_CLOEXEC));
    if (!fifo_fd) return sys_error("open " + fifo);

    unique_fd console;
    if (plan.process && plan.process->terminal) {
        if (o.console_fd >= 0)
            console.reset(::fcntl(o.console_fd, F_DUPFD_CLOEXEC, 3));
        else
            console = KAPSEL_TRY(linux::connect_console_socket(o.console_socket));
    }

    // Namespaces joined by path: pid (for our children) and time here; the others
    // in the child. Time offsets go into a new time namespace before anyone is in it.
    std::vector<unique_fd> join_fds;
    linux::InitArgs args;
    int new_flags = 0;
    bool general = false;
    for (auto& ns : plan.namespaces) {
        if (ns.path.empty()) {
            new_flags |= plan::ns_clone_flag(ns.type);
            continue;
        }
        unique_fd fd = KAPSEL_TRY(open_namespace(ns));
        if (ns.type == plan::NsType::pid || ns.type == plan::NsType::time) {
            if (::setns(fd.get(), plan::ns_clone_flag(ns.type)) < 0)
                return sys_error(std::string("join ") + plan::ns_name(ns.type) + " namespace " +
                                 ns.path);
            continue;
        }
        general = true;
        args.join.emplace_back(ns.type, fd.get());
        join_fds.push_back(std::move(fd));
    }
    if (new_flags & CLONE_NEWTIME) {
        if (::unshare(CLONE_NEWTIME) < 0) return sys_error("create time namespace");
        std::string offsets;
        for (auto& [clock, off] : plan.time_offsets)
            offsets +=
                clock + " " + std::to_string(off.secs) + " " + std::to_string(off.nanosecs) + "\n";
        if (!offsets.empty())
            KAPSEL_TRY_CTX(fs::write_file("/proc/self/timens_offsets", offsets),
                           "set time offsets");
    }
    int clone_flags = new_flags & ~(CLONE_NEWTIME | CLONE_NEWCGROUP);
    if (general) {
        args.unshare_flags = clone_flags;
        clone_flags = 0;
    }

    std::vector<unique_fd> idmap_fds;
    for (auto& m : plan.mounts) {
        if (m.uid_map.empty()) {
            args.rootfs.idmap_userns.push_back(-1);
            continue;
        }
        idmap_fds.push_back(KAPSEL_TRY_CTX(linux::make_idmap_userns(m),
                                           "mount " + m.source + " at " + m.destination));
        args.rootfs.idmap_userns.push_back(idmap_fds.back().get());
    }

    auto [parent_sock, child_sock] = KAPSEL_TRY(linux::sync_pair());
    args.plan = &plan;
    args.hooks = &spec.hooks;
    args.sync_fd = child_sock.get();
    args.fifo_fd = fifo_fd.get();
    args.console_fd = console.get();
    args.preserve_fds = preserve;
    args.no_pivot = o.no_pivot;
    args.no_new_keyring = o.no_new_keyring;
    args.rootfs.no_pivot = o.no_pivot;
    // No mknod in a user namespace, nor for root of one (podman's rootless runtime).
    args.rootfs.bind_devices = args.rootfs.user_ns = plan.has(plan::NsType::user) || in_user_namespace();
    // The init stays dumpable until its maps are written: /proc/PID/uid_map of a
    // non-dumpable process is root's, which neither a user nor newuidmap (it checks
    // the owner) may write. No process but the user's own can reach it meanwhile.
    args.dumpable_until_go = ::geteuid() != 0;
    args.rootfs.new_cgroup_ns = plan.creates(plan::NsType::cgroup);
    args.rootfs.cgroups = cg->views();
    args.seccomp = seccomp;
    // The init moves itself into the v1 hierarchies (see tasks_files); clone3 puts it
    // into the v2 one. Its children, the container's processes, inherit both.
    std::vector<cgroups::TasksFile> tasks = KAPSEL_TRY(cg->tasks_files());
    for (auto& t : tasks) args.cgroup_tasks.push_back({t.path, t.fd.get()});

    // In the general path the init is our grandchild: adopt it when its parent exits.
    if (general) ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    int pidfd_raw = -1;
    pid_t child = clone_into_cgroup(static_cast<uint64_t>(clone_flags), cg->clone_fd(), &pidfd_raw);
    if (child < 0) return sys_error("clone the container init");
    if (child == 0) linux::run_init(args);
    if (log::debug_enabled()) {
        char flags[16];
        std::snprintf(flags, sizeof flags, "%#x", static_cast<unsigned>(clone_flags));
        log::debug("create: cloned the init (pid " + std::to_string(child) + ", clone flags " +
                   flags + ")");
    }
    unique_fd pidfd(pidfd_raw);
    child_sock.reset();
    fifo_fd.reset();
    console.reset();
    join_fds.clear();
    idmap_fds.clear();
    tasks.clear();

    pid_t init_pid = 0;
    Undo kill_init{[&] {
        ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
        if (init_pid > 0 && init_pid != child) ::kill(init_pid, SIGKILL);
        ::waitpid(child, nullptr, 0);
        if (init_pid > 0 && init_pid != child) {
            // The init is not our child (general path): wait for it to be gone from the cgroup.
            for (int i = 0; i < 1000 && process_start_time(init_pid); ++i) ::usleep(1000);
        }
    }};
    Record rec;
    rec.id = o.id;
    rec.bundle = bundle;
    rec.rootfs = plan.rootfs;
    rec.annotations = spec.annotations;
    rec.cgroup_dirs = cg->dirs();
    rec.cgroup_created = cg->created();
    rec.cgroup_v2 = cg->v2();
    rec.new_pid_ns = plan.creates(plan::NsType::pid);
    rec.owner = linux::user_name(::getuid());
    rec.mount_ns = plan.has(plan::NsType::mount);

    while (true) {
        auto msg = linux::recv_msg(parent_sock.get());
        if (!msg) return why_init_ended(child, *cg, std::move(msg).error()).context("create container " + o.id);
        switch (msg->type) {
            case linux::Msg::error:
                return make_error(msg->payload);
            case linux::Msg::need_maps:
                KAPSEL_TRY(write_id_maps(child, plan));
                KAPSEL_TRY(linux::send_msg(parent_sock.get(), linux::Msg::maps_done));
                break;
            case linux::Msg::hello: {
                init_pid = child;
                if (!msg->payload.empty()) {
                    auto p = parse_int(msg->payload);
                    if (!p) return make_error("container init reported a bad pid");
                    init_pid = static_cast<pid_t>(*p);
                    ::waitpid(child, nullptr, 0);  // the intermediate; the init is ours now
                }
                rec.pid = init_pid;
                if (plan.creates(plan::NsType::user) && !general)
                    KAPSEL_TRY(write_id_maps(init_pid, plan));
                // rlimits and the OOM score are set from here: the init may already
                // be in a user namespace where it could not raise them itself.
                if (plan.process)
                    KAPSEL_TRY(linux::apply_limits_from_outside(init_pid, *plan.process));
                // Only root's credentials reach further than the init's own: a user's
                // container opens what the user may, itself.
                if (::geteuid() == 0 && linux::bind_sources_from_parent(plan))
                    KAPSEL_TRY(send_bind_sources(plan, init_pid, parent_sock.get()));
                KAPSEL_TRY(linux::send_msg(parent_sock.get(), linux::Msg::go));
                break;
            }
            case linux::Msg::run_hooks: {
                rec.pid_start = process_start_time(init_pid);
                // runc and crun show "created" to these hooks, and hook authors rely on it.
                std::string st = state_for_hooks(rec, oci::Status::created);
                hooks_ran = !spec.hooks.prestart.empty() || !spec.hooks.create_runtime.empty();
                // From the bundle, as runc (which changed into it) runs them: a hook's
                // relative paths name the bundle's files.
                KAPSEL_TRY(linux::run_hooks(spec.hooks.prestart, "prestart", st, rec.bundle));
                KAPSEL_TRY(
                    linux::run_hooks(spec.hooks.create_runtime, "createRuntime", st, rec.bundle));
                hooks_ran = hooks_ran || !spec.hooks.create_container.empty();
                // Hooks in the container namespace see the pid as the container does.
                std::string inner = st;
                if (plan.creates(plan::NsType::pid)) {
                    auto j = nlohmann::json::parse(st);
                    j["pid"] = 1;
                    inner = j.dump();
                }
                KAPSEL_TRY(linux::send_msg(parent_sock.get(), linux::Msg::hooks_done, inner));
                break;
            }
            case linux::Msg::seccomp_fd: {
                std::string st = state_for_hooks(rec, oci::Status::creating);
                KAPSEL_TRY(
                    linux::send_seccomp_listener(*plan.seccomp, msg->fd.get(), init_pid, st));
                KAPSEL_TRY(linux::send_msg(parent_sock.get(), linux::Msg::seccomp_done));
                break;
            }
            case linux::Msg::procfs_fd: {
                // Before the init goes on (it waits for procfs_done): see load_filters in
                // linux/finish.cpp for why a failed registration fails the create.
                if (!plan.procfs) return make_error("unexpected message from the container init");
                KAPSEL_TRY(procfs::register_listener(plan.procfs->control, msg->fd.get(), o.id));
                KAPSEL_TRY(linux::send_msg(parent_sock.get(), linux::Msg::procfs_done));
                break;
            }
            case linux::Msg::ready:
                goto ready;
            default:
                return make_error("unexpected message from the container init");
        }
    }
ready:
    rec.pid_start = process_start_time(init_pid);
    rec.created = now_rfc3339();
    KAPSEL_TRY(store.save(rec));
    log::debug("create: container " + o.id + " created, init pid " + std::to_string(init_pid));
    if (!o.pid_file.empty()) {
        std::string pf = fs::absolute(o.pid_file);
        KAPSEL_TRY_CTX(fs::write_file_atomic(pf, std::to_string(init_pid), 0644), "write pid file");
    }
    remove_dir.armed = remove_cgroup.armed = host_mounts.armed = kill_init.armed = poststop.armed =
        release_service.armed = false;
    Created out;
    out.pid = init_pid;
    if (init_pid == child)
        out.pidfd = std::move(pidfd);
    else
        out.pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, init_pid, 0)));
    return out;
}

}  // namespace kapsel::runtime
