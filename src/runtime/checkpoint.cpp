#include "runtime/checkpoint.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>

#include "cgroups/cgroup.hpp"
#include "linux/breakpoints.hpp"
#include "linux/console.hpp"
#include "linux/finish.hpp"
#include "linux/rootfs.hpp"
#include "linux/sys.hpp"
#include "oci/spec.hpp"
#include "plan/build.hpp"
#include "runtime/attach.hpp"
#include "runtime/bundle.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/procfs.hpp"
#include "runtime/process.hpp"
#include "runtime/restore_seccomp.hpp"
#include "runtime/store.hpp"
#include "util/fs.hpp"
#include "util/proc.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"
#include "util/undo.hpp"

extern char** environ;

namespace kapsel::runtime {
namespace {

constexpr const char* kPrivateCriu = "/opt/kapsel-criu/bin/criu";

// One run of CRIU: its arguments, its log (named in errors and kept), how long it
// may take, and what its child does before exec.
struct CriuRun {
    std::vector<std::string> args;
    std::string log;
    int timeout_s = plan::kDefaultCriuTimeout;
    // Runs in the child before exec (joining the v1 cgroups); its error ends the
    // child with status 127.
    std::function<Status()> in_child;
    int cgroup_fd = -1;  // cloned into this cgroup v2 directory when valid
};

// Stops a CRIU that overran its deadline or whose caller was interrupted: its
// whole process group, politely first (CRIU then detaches from the processes it
// seized), then for good. A tracer's death detaches its tracees in any case.
void stop_criu(pid_t pid, int pidfd) {
    ::kill(-pid, SIGTERM);
    if (!wait_exit(pidfd, 2000)) {
        ::kill(-pid, SIGKILL);
        pidfd_signal(pidfd, SIGKILL);
    }
}

// Runs CRIU and waits for it, at most r.timeout_s seconds; SIGINT, SIGTERM and
// SIGHUP to kapsel meanwhile stop it too, so that the caller can put the
// container back instead of leaving it seized by a CRIU nobody waits for.
Status run_criu(const Globals& g, const CriuRun& r) {
    std::string bin = criu_binary(g);
    std::string verb = r.args.empty() ? "criu" : "criu " + r.args[0];
    // Where hardware breakpoints never fire, CRIU would wait forever for the trap
    // at the end of its parasite code; it is told to step there instead.
    auto fire = linux::hardware_breakpoints_fire();
    if (!fire) log::debug("criu: " + fire.error().message + "; breakpoints off");
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
    env_strings = plan::criu_environment(env_strings, fire && *fire);
    log::debug("criu: " + bin + " " + join(r.args, " ") +
               (fire && *fire ? "" : std::string(" (") + plan::kCriuNoBreakpoints + ")"));
    std::vector<char*> argv, envp;
    argv.push_back(const_cast<char*>(bin.c_str()));
    for (auto& a : r.args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    sigset_t stop_signals, old_mask;
    sigemptyset(&stop_signals);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop_signals, s);
    sigprocmask(SIG_BLOCK, &stop_signals, &old_mask);
    struct RestoreMask {
        sigset_t mask;
        ~RestoreMask() { sigprocmask(SIG_SETMASK, &mask, nullptr); }
    } restore_mask{old_mask};
    unique_fd sigfd(::signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!sigfd) return sys_error("signalfd for criu");

    pid_t parent = ::getpid();
    int pidfd_raw = -1;
    pid_t pid = clone_into_cgroup(0, r.cgroup_fd, &pidfd_raw);
    if (pid < 0) return sys_error("start criu");
    if (pid == 0) {
        // Its own process group, so that stop_criu reaches every process of it and
        // nothing of ours; and it dies with kapsel, whose death would otherwise leave
        // it holding the container's processes.
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        if (r.in_child && !r.in_child()) ::_exit(127);
        ::execvpe(bin.c_str(), argv.data(), envp.data());
        ::_exit(126);
    }
    unique_fd pidfd(pidfd_raw);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(r.timeout_s);
    std::string stopped_why;
    while (stopped_why.empty()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) {
            stopped_why = "did not finish within " + std::to_string(r.timeout_s) +
                          " s (--criu-timeout or KAPSEL_CRIU_TIMEOUT sets the limit)";
            break;
        }
        pollfd p[2] = {{pidfd.get(), POLLIN, 0}, {sigfd.get(), POLLIN, 0}};
        int n = ::poll(p, 2, static_cast<int>(std::min<int64_t>(left, 60000)));
        if (n < 0 && errno != EINTR) return sys_error("wait for criu");
        if (n > 0 && (p[0].revents & POLLIN)) break;
        signalfd_siginfo si{};
        if (n > 0 && (p[1].revents & POLLIN) && ::read(sigfd.get(), &si, sizeof si) > 0)
            stopped_why = std::string("was interrupted by SIG") + ::sigabbrev_np(static_cast<int>(si.ssi_signo));
    }
    if (!stopped_why.empty()) stop_criu(pid, pidfd.get());
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return sys_error("wait for criu");
    std::string where = " (log: " + r.log + ")";
    if (!stopped_why.empty()) return make_error(verb + " " + stopped_why + where);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    if (WIFEXITED(status) && WEXITSTATUS(status) == 126)
        return make_error(verb + ": cannot run " + bin +
                          " (install it with scripts/install-criu, or give --criu PATH)");
    auto text = fs::read_file(r.log);
    std::string why = text ? plan::criu_failure_reason(*text) : "";
    if (why.empty() && WIFSIGNALED(status))
        why = std::string("killed by SIG") + ::sigabbrev_np(WTERMSIG(status));
    return make_error(verb + " failed" + (why.empty() ? "" : ": " + why) + where);
}

Result<plan::Plan> plan_of(const std::string& config_path, const std::string& id,
                           const std::string& bundle) {
    oci::Spec spec = KAPSEL_TRY(oci::load_spec(config_path));
    return KAPSEL_TRY_CTX(plan::build(spec, {id, bundle}), config_path);
}

std::vector<plan::CgroupBind> binds_of(const cgroups::Cgroup& cg) {
    std::vector<plan::CgroupBind> out;
    for (auto& v : cg.views()) out.push_back({v.name, v.host_path});
    return out;
}

// The freezer CRIU may use: v1's freezer directory, or the v2 directory itself.
std::string freezer_dir(const Record& rec) {
    for (auto& d : rec.cgroup_dirs)
        if (d.find("/freezer/") != std::string::npos) return d;
    if (rec.cgroup_v2 && !rec.cgroup_dirs.empty()) return rec.cgroup_dirs.front();
    return "";
}

// The mount ids of the process's mount namespace.
std::vector<std::string> mount_ids(int pid) {
    std::vector<std::string> ids;
    std::ifstream in("/proc/" + std::to_string(pid) + "/mountinfo");
    for (std::string line; std::getline(in, line);) ids.push_back(line.substr(0, line.find(' ')));
    return ids;
}

// A file the init has open as stdio that lives outside the container's mount tree
// (a log file of the host that the caller redirected to): CRIU cannot reach it by
// path, so it becomes an external file, handed over again at restore. Pipes,
// sockets and the container's own files need nothing.
Status mark_external_stdio(int pid, bool terminal, std::vector<plan::StdioRecord>& stdio) {
    auto ids = mount_ids(pid);
    for (auto& s : stdio) {
        if (s.target.empty() || s.target.front() != '/') continue;
        std::string fd = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(s.fd);
        if (struct stat st; terminal && ::stat(fd.c_str(), &st) == 0 && S_ISCHR(st.st_mode) &&
                            major(st.st_rdev) >= 136 && major(st.st_rdev) <= 143) {
            // The container's terminal: its master is the caller's (plan/checkpoint.hpp).
            s.external = plan::external_tty_key(st.st_rdev, st.st_dev);
            continue;
        }
        std::ifstream info("/proc/" + std::to_string(pid) + "/fdinfo/" + std::to_string(s.fd));
        for (std::string line; std::getline(info, line);) {
            if (line.rfind("mnt_id:", 0) != 0) continue;
            std::string id(trim(line.substr(7)));
            if (std::find(ids.begin(), ids.end(), id) != ids.end()) break;
            struct stat st;
            auto mnt = parse_uint(id);
            if (!mnt || ::stat(fd.c_str(), &st) < 0) return sys_error("inspect fd " + fd);
            s.external = plan::external_file_key(*mnt, st.st_ino);
        }
    }
    return {};
}

// After a failed or stopped dump: CRIU froze the cgroup (--freeze-cgroup) and may
// have died before thawing it; its tracees were detached when it died. The
// container goes on as it was: thawed unless it was paused before. Says what
// became of it, for the error.
// A pty of the host's devpts for a restored container's terminal; the slave opened
// from the master's fd (TIOCGPTPEER), not by a path under /dev/pts.
struct HostPty {
    unique_fd master, slave;
    std::string path;  // the slave's, for the /dev/console bind
};
Result<HostPty> new_host_pty() {
    HostPty p;
    p.master.reset(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!p.master) return sys_error("open /dev/ptmx");
    int unlock = 0;
    if (::ioctl(p.master.get(), TIOCSPTLCK, &unlock) < 0) return sys_error("unlock the new pty");
    p.slave.reset(::ioctl(p.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!p.slave) return sys_error("open the new pty's slave");
    unsigned n = 0;
    if (::ioctl(p.master.get(), TIOCGPTN, &n) < 0) return sys_error("number the new pty");
    p.path = "/dev/pts/" + std::to_string(n);
    return p;
}

std::string put_back(cgroups::Cgroup& cg, bool was_paused, const Record& rec) {
    if (!was_paused && cg.frozen())
        if (auto st = cg.thaw(); !st) return "thawing it failed: " + st.error().message;
    unique_fd init = open_init(rec);
    if (!init) return "its init is gone";
    return was_paused ? "the container stays paused, as it was" : "the container runs on";
}

}  // namespace

std::string criu_binary(const Globals& g) {
    if (!g.criu.empty()) return g.criu;
    if (const char* env = ::getenv("KAPSEL_CRIU"); env && *env) return env;
    if (::access(kPrivateCriu, X_OK) == 0) return kPrivateCriu;
    return "criu";
}

Status checkpoint(const Globals& g, const CheckpointRequest& r) {
    // CRIU reads and restores other processes' state only with CAP_SYS_ADMIN or
    // CAP_CHECKPOINT_RESTORE in the host's user namespace, which a user's kapsel never
    // has (runc and podman refuse rootless checkpoints too). Said before CRIU starts.
    if (rootless()) return make_error("checkpoint needs root: CRIU cannot dump a container run by a user");
    Store store(g.root);
    Record rec = KAPSEL_TRY(store.load(r.id));
    unique_fd lock = KAPSEL_TRY(store.lock(r.id));
    oci::Status status = current_status(store, rec);
    if (status != oci::Status::running && status != oci::Status::paused)
        return make_error("cannot checkpoint container \"" + r.id + "\": it is " +
                          oci::status_name(status));
    plan::Plan plan = KAPSEL_TRY(plan_of(store.dir(r.id) + "/config.json", r.id, rec.bundle));
    // The procfs service's files are bind mounts in the container: CRIU is told they are
    // external, as the config's binds are.
    if (plan.procfs) add_procfs_binds(plan, procfs::service_of(g.root));
    plan::CheckpointOptions o = r.criu;
    o.image_dir = fs::absolute(o.image_dir.empty() ? "checkpoint" : o.image_dir);
    if (!o.work_dir.empty()) o.work_dir = fs::absolute(o.work_dir);
    cgroups::Layout layout = KAPSEL_TRY(cgroups::detect());
    auto cg = cgroups::open(layout, rec.cgroup_dirs, rec.cgroup_created);
    std::vector<plan::StdioRecord> stdio;
    for (int fd = 0; fd <= 2; ++fd) {
        char buf[4096];
        std::string link = "/proc/" + std::to_string(rec.pid) + "/fd/" + std::to_string(fd);
        ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
        stdio.push_back({fd, n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string()});
    }
    // The pty master lives outside the container, with whoever holds the console: the
    // terminal is external (unless --shell-job hands it to CRIU's own handling).
    bool terminal = plan.process && plan.process->terminal && !r.criu.shell_job;
    KAPSEL_TRY(mark_external_stdio(rec.pid, terminal, stdio));
    if (plan.has(plan::NsType::net) && !plan.creates(plan::NsType::net)) {
        // Joined by path (a bridge network's namespace): it stays where it is and the
        // restore joins it again; CRIU must not try to dump or recreate it.
        struct stat st {};
        std::string ns = "/proc/" + std::to_string(rec.pid) + "/ns/net";
        if (::stat(ns.c_str(), &st) < 0) return sys_error("stat " + ns);
        o.joined_netns_inode = st.st_ino;
    }
    std::vector<std::string> args = KAPSEL_TRY(
        plan::criu_dump_args(plan, rec.pid, o, freezer_dir(rec), binds_of(*cg), stdio));
    KAPSEL_TRY(fs::mkdir_p(o.image_dir, 0700));
    std::string work = o.work_dir.empty() ? o.image_dir : o.work_dir;
    KAPSEL_TRY(fs::mkdir_p(work, 0700));
    KAPSEL_TRY(
        fs::write_file_atomic(o.image_dir + "/descriptors.json", plan::stdio_json(stdio), 0600));
    KAPSEL_TRY(fs::write_file_atomic(o.image_dir + "/external-stdio.json",
                                     plan::external_stdio_json(stdio), 0600));

    int timeout = KAPSEL_TRY(plan::criu_timeout(o.timeout_s, ::getenv("KAPSEL_CRIU_TIMEOUT")));
    auto dumped = run_criu(g, {.args = args,
                               .log = work + "/" + (o.pre_dump ? "pre-dump.log" : "dump.log"),
                               .timeout_s = timeout});
    if (!dumped)
        return make_error(std::move(dumped).error().message + "; " +
                          put_back(*cg, status == oci::Status::paused, rec));
    if (o.leave_running || o.pre_dump) return {};
    // CRIU killed the processes it dumped: the container is gone, as with runc, so the
    // id is free for `restore`.
    lock.reset();
    return remove(g, r.id, true);
}

Result<int> restore(const Globals& g, const RestoreRequest& r) {
    if (rootless()) return make_error("restore needs root: CRIU cannot restore a container for a user");
    KAPSEL_TRY(Store::validate_id(r.id));
    Bundle loaded = KAPSEL_TRY(load_bundle(r.bundle, r.id));
    const std::string& bundle = loaded.dir;
    const oci::Spec& spec = loaded.spec;
    plan::Plan plan = loaded.plan;
    // The restored container's procfs files come from this --root's service (started if
    // it does not run), bound where the checkpoint had them.
    auto procfs_lease = KAPSEL_TRY(lease_procfs(g, plan));
    plan::RestoreOptions o = r.criu;
    o.image_dir = fs::absolute(o.image_dir.empty() ? "checkpoint" : o.image_dir);
    if (!o.work_dir.empty()) o.work_dir = fs::absolute(o.work_dir);
    if (!fs::exists(o.image_dir + "/inventory.img"))
        return make_error("--image-path " + o.image_dir +
                          " holds no checkpoint (no inventory.img)");
    // kapsel's procfs filter would come back without a listener, and sysinfo and
    // sched_getaffinity would fail with ENOSYS in the restored container (issue 14).
    KAPSEL_TRY_CTX(neutralise_procfs_filter(o.image_dir), "restore");
    std::vector<plan::StdioRecord> stdio;
    if (auto text = fs::read_file(o.image_dir + "/descriptors.json"))
        stdio = KAPSEL_TRY_CTX(plan::parse_stdio_json(*text), o.image_dir + "/descriptors.json");
    if (auto text = fs::read_file(o.image_dir + "/external-stdio.json"))
        KAPSEL_TRY_CTX(plan::parse_external_stdio_json(*text, stdio),
                       o.image_dir + "/external-stdio.json");
    // Our own fd of the same number takes the place of a file of the old host.
    bool terminal = false;
    for (auto& s : stdio) {
        if (plan::is_tty_key(s.external)) {
            terminal = true;
            continue;
        }
        if (!s.external.empty() && ::fcntl(s.fd, F_GETFD) < 0)
            return make_error("restore: fd " + std::to_string(s.fd) + " of the container was " +
                              s.target + ", and kapsel's own fd " + std::to_string(s.fd) +
                              " that would replace it is closed");
    }
    // A new terminal in place of the old one: its master goes where a console goes at
    // create (the console socket), or, attached, kapsel relays it as `run` does.
    HostPty tty;
    unique_fd console;
    if (terminal) {
        if (r.console_socket.empty() && r.detach)
            return make_error("restore: the checkpoint has a terminal, and --detach needs "
                              "--console-socket for its new master");
        if (!r.console_socket.empty())
            console = KAPSEL_TRY(linux::connect_console_socket(r.console_socket));
        tty = KAPSEL_TRY(new_host_pty());
        // As at create (in a user namespace of its own the process's ids are the
        // namespace's: the pty stays root's).
        if (plan.process)
            KAPSEL_TRY_CTX(
                linux::shape_pty_slave(tty.slave.get(), plan.process->console_size,
                                       plan.creates(plan::NsType::user)
                                           ? std::nullopt
                                           : std::optional<uid_t>(plan.process->uid)),
                "restore: the new terminal " + tty.path);
    }

    Store store(g.root);
    KAPSEL_TRY(store.create_dir(r.id));
    Undo remove_dir{[&] { (void)store.remove(r.id); }};
    KAPSEL_TRY(fs::write_file_atomic(store.dir(r.id) + "/config.json", loaded.config_text, 0600));
    std::string pid_file = store.dir(r.id) + "/restored.pid";
    std::string work = o.work_dir.empty() ? o.image_dir : o.work_dir;
    KAPSEL_TRY(fs::mkdir_p(work, 0700));

    cgroups::Layout layout = KAPSEL_TRY(cgroups::detect());
    auto cg =
        KAPSEL_TRY(cgroups::create(layout, cgroups::resolve_dirs(layout, plan.cgroups_path, r.id)));
    Undo remove_cgroup{[&] {
        (void)cg->kill_all(SIGKILL);
        for (int i = 0; i < 100; ++i) {
            auto left = cg->pids();
            if (!left || left->empty()) break;
            ::usleep(10000);
        }
        (void)cg->destroy();
    }};
    const oci::Resources no_resources;
    KAPSEL_TRY_CTX(
        cg->apply(spec.linux_ && spec.linux_->resources ? *spec.linux_->resources : no_resources,
                  cgroups::PlanMode::create),
        "apply linux.resources");
    // The network namespace the checkpoint's container had joined: the same path's,
    // inherited by CRIU.
    unique_fd joined_netns;
    for (auto& ns : plan.namespaces)
        if (ns.type == plan::NsType::net && !ns.path.empty()) {
            joined_netns.reset(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
            if (!joined_netns) return sys_error("open the network namespace " + ns.path);
            o.joined_netns_fd = joined_netns.get();
        }
    std::vector<std::string> args =
        KAPSEL_TRY(plan::criu_restore_args(plan, o, stdio, pid_file, binds_of(*cg),
                                           tty.slave ? tty.slave.get() : -1, tty.path));

    // The restored tree is forked by CRIU, so it is born in CRIU's cgroup: the
    // container's. It is re-parented to us when CRIU exits (we are a subreaper).
    ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    sigset_t fwd = forwarded_signals(), old;
    if (!r.detach) sigprocmask(SIG_BLOCK, &fwd, &old);
    // CRIU joins the container's v1 hierarchies as an init does (see
    // Cgroup::tasks_files: no cgroup.procs write and its RCU wait) and is cloned
    // into the v2 one.
    std::vector<cgroups::TasksFile> tasks = KAPSEL_TRY(cg->tasks_files());
    std::vector<linux::CgroupTasks> join_tasks;
    for (auto& t : tasks) join_tasks.push_back({t.path, t.fd.get()});
    int timeout = KAPSEL_TRY(plan::criu_timeout(o.timeout_s, ::getenv("KAPSEL_CRIU_TIMEOUT")));
    auto in_criu = [&]() -> Status {
        // CRIU inherits the new terminal's slave (--inherit-fd), here only.
        if (tty.slave && ::fcntl(tty.slave.get(), F_SETFD, 0) < 0)
            return sys_error("pass the terminal to criu");
        if (joined_netns && ::fcntl(joined_netns.get(), F_SETFD, 0) < 0)
            return sys_error("pass the network namespace to criu");
        KAPSEL_TRY(linux::join_cgroups(join_tasks));
        if (plan.rootfs_overlay) {
            // An image container's root is an overlay that lived only in its own mount
            // namespace; CRIU takes the restored root from --root, so it is mounted
            // there again, in a mount namespace of CRIU's own that dies with it.
            linux::RealSys sys;
            if (::unshare(CLONE_NEWNS) < 0) return sys_error("unshare the mount namespace");
            KAPSEL_TRY(sys.mount("", "/", "", MS_SLAVE | MS_REC, ""));
            KAPSEL_TRY(linux::mount_overlay_at(sys, *plan.rootfs_overlay, plan.rootfs));
        }
        return {};
    };
    // On failure the undo steps above kill whatever CRIU restored (it was born in the
    // container's new cgroup) and remove the cgroup and the state directory.
    KAPSEL_TRY(run_criu(g, {.args = args,
                            .log = work + "/restore.log",
                            .timeout_s = timeout,
                            .in_child = in_criu,
                            .cgroup_fd = cg->clone_fd()}));

    auto pid_text = fs::read_file(pid_file);
    std::optional<int64_t> pid;
    if (pid_text) pid = parse_int(std::string(trim(*pid_text)));
    if (!pid || *pid <= 0) return make_error("criu restore wrote no pid to " + pid_file);
    Record rec;
    rec.id = r.id;
    rec.pid = static_cast<int>(*pid);
    rec.pid_start = process_start_time(rec.pid);
    rec.bundle = bundle;
    rec.rootfs = plan.rootfs;
    rec.annotations = spec.annotations;
    rec.created = now_rfc3339();
    rec.cgroup_dirs = cg->dirs();
    rec.cgroup_created = cg->created();
    rec.cgroup_v2 = cg->v2();
    rec.started = true;
    rec.new_pid_ns = plan.creates(plan::NsType::pid);
    rec.mount_ns = plan.has(plan::NsType::mount);
    KAPSEL_TRY(store.save(rec));
    if (!r.pid_file.empty())
        KAPSEL_TRY_CTX(
            fs::write_file_atomic(fs::absolute(r.pid_file), std::to_string(rec.pid), 0644),
            "write pid file");
    remove_dir.armed = remove_cgroup.armed = false;
    tty.slave.reset();  // the restored processes hold it now
    if (console)
        KAPSEL_TRY_CTX(linux::send_fd(console.get(), tty.master.get(), "/dev/ptmx"), "restore");
    if (r.on_started) r.on_started();
    if (r.detach) return 0;
    // The lease kept the service from ending while the container was set up; the
    // container's binds hold it now. An attached restore (a run IMAGE container's
    // monitor) waits as long as the container lives, and its shared lock would keep
    // every later create from taking the lock exclusively.
    procfs_lease.reset();

    unique_fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, rec.pid, 0)));
    int rc =
        wait_attached(rec.pid, pidfd.get(), console ? unique_fd() : std::move(tty.master), fwd);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    if (auto st = remove(g, r.id, true); !st) log::warn(st.error().message);
    return rc;
}

}  // namespace kapsel::runtime
