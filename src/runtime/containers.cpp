// Containers from images.
#include "runtime/containers.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <random>

#include "image/digest.hpp"
#include "image/import.hpp"
#include "image/manifest.hpp"
#include "image/quota.hpp"
#include "linux/identity.hpp"
#include "linux/seccomp.hpp"
#include "plan/default_seccomp.hpp"
#include "plan/log_options.hpp"
#include "plan/names.hpp"
#include "procfs/client.hpp"
#include "runtime/container_meta.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/logfile.hpp"
#include "runtime/manage.hpp"
#include "runtime/network.hpp"
#include "runtime/store.hpp"
#include "util/fs.hpp"
#include "util/proc.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"
#include "util/undo.hpp"

namespace kapsel::runtime {
namespace {

using json = nlohmann::json;

std::string random_id() {
    std::random_device rd;
    std::string out;
    static const char* hex = "0123456789abcdef";
    for (int i = 0; i < 64; ++i) out += hex[rd() % 16];
    return out;
}

// Every directory under containers/; with `with_meta`, only those with a container.json.
std::vector<std::string> container_dirs_in(const image::Store& s, bool with_meta) {
    std::vector<std::string> out;
    if (DIR* d = ::opendir((s.root() + "/containers").c_str())) {
        while (dirent* e = ::readdir(d))
            if (e->d_name[0] != '.' && (!with_meta || fs::exists(meta_path(s, e->d_name)))) out.push_back(e->d_name);
        ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> container_ids(const image::Store& s) { return container_dirs_in(s, true); }

// A file of the container's root, resolved inside it: an image's /etc/passwd
// may be a symlink anywhere.
std::string read_in_root(const std::string& root, const std::string& path) {
    unique_fd dir(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir) return "";
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    int fd = static_cast<int>(::syscall(SYS_openat2, dir.get(), path.c_str(), &how, sizeof how));
    if (fd < 0) return "";
    unique_fd f(fd);
    std::string out;
    char buf[8192];
    ssize_t n;
    while ((n = ::read(f.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
}


// A file of the image, from the topmost layer that has it (resolved inside
// that layer; whiteouts and symlinks across layers are rare for these files).
std::string read_in_layers(const image::Store& store, const std::vector<std::string>& layers, const std::string& path) {
    for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
        std::string layer = store.layer_path(*it);
        struct stat st;
        if (::lstat((layer + "/" + path).c_str(), &st) != 0) continue;
        if (S_ISCHR(st.st_mode) && st.st_rdev == 0) return "";  // deleted in this layer
        return read_in_root(layer, path);
    }
    return "";
}

// The process that looks after a container (the monitor, or an attached run).
json monitor_of_self() {
    int pid = static_cast<int>(::getpid());
    return {{"pid", pid}, {"start", process_start_time(pid)}};
}

bool monitor_alive(const json& meta) {
    if (!meta.contains("monitor") || !meta["monitor"].is_object()) return false;
    int pid = meta["monitor"].value("pid", 0);
    uint64_t start = meta["monitor"].value("start", uint64_t{0});
    return pid > 0 && start != 0 && process_start_time(pid) == start;
}

// Removes what a container made from an image owns: its runtime state (if any),
// its mount, its directory. The directory leaves containers/ in one rename under
// the store lock (shared; `store_locked`: the caller holds it), so rmi, prune and
// check never see half of it; the removal itself runs in tmp/.
Status destroy(const Globals& g, image::Store& store, const std::string& id, bool store_locked = false) {
    if (Store(g.root).exists(id)) {
        auto st = remove(g, id, true);
        if (!st && st.error().code != ENOENT) return st;
    }
    // The container is gone: its addresses, forwarded ports and namespace go too.
    KAPSEL_TRY(detach_network(id));
    KAPSEL_TRY(image::unmount_rootfs(store, id));
    std::string dir = store.container_dir(id);
    if (!fs::exists(dir)) return {};
    uint32_t project = 0;  // the writable layer's size limit, lifted once its files are gone
    if (auto meta = read_meta(store, id); meta && meta->is_object())
        if (auto p = meta->find("quota_project"); p != meta->end() && p->is_number_unsigned())
            project = p->get<uint32_t>();
    unique_fd lock;
    if (!store_locked) lock = KAPSEL_TRY(store.lock(false));
    std::string aside = KAPSEL_TRY(store.make_temp("rm"));
    // Not in the middle of a cut of the log (whose keeper makes no more files then).
    unique_fd log_lock = logfile::lock_against_cuts(dir);
    if (::rename(dir.c_str(), (aside + "/c").c_str()) < 0) {
        int e = errno;
        (void)fs::remove_tree(aside);
        if (e == ENOENT) return {};
        return sys_error("move " + dir + " out of the store", e);
    }
    log_lock.reset();
    lock.reset();
    KAPSEL_TRY(fs::remove_tree(aside));
    if (project) return image::release_project(store.root(), project);
    return {};
}

void record_exit(image::Store& store, const std::string& id, int code) {
    auto meta = read_meta(store, id);
    if (!meta) return;
    (*meta)["exit_code"] = code;
    (*meta)["finished"] = now_rfc3339();
    (void)write_meta(store, id, *meta);
}

// Forks the monitor of a detached container, which outlives us: its stdio goes to
// the container's log, `body` runs the container attached (calling `started` once
// the program runs), and the monitor records how it ended. We return once the
// program runs, or with the monitor's error. `forked` runs here once the monitor
// exists: from then on the monitor, not the caller, removes a container that fails.
// A checkpoint's end of the container is not an exit: the monitor keeps the
// container (and its upper layer, --rm or not).
Result<int> spawn_monitor(const Globals& g, image::Store& store, const std::string& id, bool rm,
                          const std::function<Result<int>(std::function<void()>)>& body,
                          const std::function<void()>& forked = {}) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) return sys_error("pipe to the container monitor");
    unique_fd rd(p[0]), wr(p[1]);
    std::string log_path = image::container_dirs(store, id).dir + "/ctr.log";
    pid_t monitor = ::fork();
    if (monitor < 0) return sys_error("fork the container monitor");
    if (monitor == 0) {
        rd.reset();
        ::setsid();
        int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (null < 0 || log < 0) {
            (void)!::write(wr.get(), "cannot open the container log", 29);
            ::_exit(1);
        }
        ::dup2(null, STDIN_FILENO);
        ::dup2(log, STDOUT_FILENO);
        ::dup2(log, STDERR_FILENO);
        ::close(null);
        ::close(log);
        // Nothing the caller had open stays open for the container's lifetime: a lock
        // (flock(1)'s fd, held by `flock LOCK kapsel run -d ...`), a pipe whose reader
        // waits for EOF. Ours: the report pipe and kapsel's --log file.
        fs::close_all_except({wr.get(), log::fd()});
        // A failure before the container runs: as one of `body`'s.
        auto fail = [&](const std::string& why) {
            (void)!::write(wr.get(), why.data(), why.size());
            auto meta = read_meta(store, id);
            if (!(meta && meta->contains("checkpoint"))) (void)destroy(g, store, id);
            ::_exit(1);
        };
        // From here on this process looks after the container (prune tells a --rm
        // container whose monitor died by this record).
        plan::LogOptions log_opts;
        if (auto meta = read_meta(store, id)) {
            (*meta)["monitor"] = monitor_of_self();
            (void)write_meta(store, id, *meta);
            if (meta->contains("log_opts")) {
                auto o = plan::log_options_from_json((*meta)["log_opts"]);
                if (!o) fail("container " + id + ": container.json: " + o.error().message);
                log_opts = *o;
            }
        }
        // Started before the container writes anything, for run and restore alike.
        std::optional<logfile::Keeper> keeper;
        if (log_opts.max_size > 0) {
            auto k = logfile::Keeper::start(image::container_dirs(store, id).dir, log_opts);
            if (!k) fail("start the log keeper: " + k.error().message);
            keeper.emplace(std::move(*k));
        }
        int report = wr.get();
        auto rc = body([&report] {
            (void)!::write(report, "ok", 2);
            ::close(report);
            report = -1;
            // The monitor lives as long as its container and then only waits: what
            // parsing the image and the config took goes back to the system.
            ::malloc_trim(0);
        });
        // Its last cut, before the container counts as ended (or is removed).
        if (keeper) keeper->stop();
        auto meta = read_meta(store, id);
        bool checkpointed = meta && meta->contains("checkpoint");
        if (!rc) {
            if (report >= 0) (void)!::write(report, rc.error().message.data(), rc.error().message.size());
            if (!checkpointed) (void)destroy(g, store, id);
            ::_exit(1);
        }
        if (checkpointed) ::_exit(0);
        record_exit(store, id, *rc);
        // Ended: its network is taken down as it exits, as podman does (the address is
        // free for others; the record of what it had stays in container.json). After the
        // exit is recorded: whoever waits for it need not wait for netavark too.
        if (auto st = detach_network(id); !st) log::warn(st.error().message);
        if (rm) (void)destroy(g, store, id);
        ::_exit(0);
    }
    wr.reset();
    if (forked) forked();
    std::string reply;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(rd.get(), buf, sizeof buf)) > 0) reply.append(buf, static_cast<size_t>(n));
    if (reply != "ok") {
        ::waitpid(monitor, nullptr, 0);
        return make_error(reply.empty() ? "the container monitor died" : reply);
    }
    return 0;
}

}  // namespace

Result<json> image_spec(const image::Store& store, const image::ImageRecord& img,
                        const image::ImageConfig& cfg, const plan::RunRequest& req,
                        const std::string& user_override) {
    plan::ImageDefaults defaults{cfg.user,        cfg.env,           cfg.entrypoint, cfg.cmd,
                                 cfg.working_dir, cfg.exposed_ports, cfg.volumes};
    std::string user_spec = user_override.empty() ? cfg.user : user_override;
    plan::Identity user =
        KAPSEL_TRY(plan::resolve_user(user_spec, read_in_layers(store, img.layers, "etc/passwd"),
                                      read_in_layers(store, img.layers, "etc/group")));
    // The default seccomp allow-list follows the capabilities the container gets.
    std::vector<std::string> caps = plan::default_capabilities();
    for (auto& c : req.cap_add) {
        if (to_upper(c) == "ALL")
            caps = plan::all_capability_names();
        else if (auto n = plan::capability_number(c))
            caps.push_back(plan::capability_name(*n));
    }
    auto allow = plan::default_seccomp_allow(linux::known_syscall_names(), caps);
    return plan::container_spec(defaults, req, user, allow);
}

Result<image::Store> open_store(const Globals& g) {
    return image::Store::open(g.storage_root.empty() ? image::Store::default_root() : g.storage_root);
}

Result<int> run_image(const Globals& g, const ImageRunOptions& o, std::string* id_out) {
    // netavark makes bridges and firewall rules, which needs the host's root.
    if (rootless() && is_bridge_mode(o.network.mode))
        return make_error("bridge networks need root; use --network pasta, private, none or host");
    image::Store store = KAPSEL_TRY(open_store(g));
    // Only a detached container has a log to keep.
    if (o.detach) KAPSEL_TRY(logfile::check_file_system(store.root() + "/containers", o.log));
    std::string id = random_id();
    std::string name = o.name.empty() ? id.substr(0, 12) : o.name;
    image::ImageRecord img;
    image::ImageConfig cfg;
    {
        // The image is found and the container that holds on to it recorded under
        // the shared store lock: an rmi of the image (exclusive) comes either before,
        // and this finds no image, or after, and finds the container using it. The
        // index lock makes names unique.
        auto lock = KAPSEL_TRY(store.lock(false));
        auto index = KAPSEL_TRY(store.lock_index());
        img = KAPSEL_TRY(store.find_image(o.image));
        cfg = KAPSEL_TRY(image::parse_config(KAPSEL_TRY(store.read_blob(img.id))));
        for (auto& l : img.layers)
            if (!store.has_layer(l))
                return make_error("image " + o.image + " is damaged: layer " + l + " is missing (kapsel system check)");
        for (auto& other : container_ids(store)) {
            auto meta = read_meta(store, other);
            if (meta && meta->value("name", "") == name)
                return make_error("the name \"" + name + "\" is in use by container " + other.substr(0, 12));
        }
        KAPSEL_TRY(fs::mkdir_p(store.container_dir(id), 0700));
        json meta = {{"id", id}, {"name", name}, {"image", img.names.empty() ? img.id : img.names[0]},
                     {"image_id", img.id}, {"created", now_rfc3339()}, {"rm", o.rm}, {"layers", img.layers},
                     {"stop_signal", cfg.stop_signal}, {"monitor", monitor_of_self()}};
        if (o.log.max_size > 0) meta["log_opts"] = plan::log_options_json(o.log);
        if (auto st = write_meta(store, id, meta); !st) {
            (void)fs::remove_tree(store.container_dir(id));
            return std::move(st).error();
        }
    }
    struct Undo {
        const Globals& g;
        image::Store& store;
        std::string id;
        bool armed = true;
        ~Undo() {
            if (armed) (void)destroy(g, store, id);
        }
    } undo{g, store, id};

    image::ContainerDirs dirs = image::container_dirs(store, id);
    for (auto* p : {&dirs.upper, &dirs.work, &dirs.merged}) KAPSEL_TRY(fs::mkdir_p(*p, 0755));
    if (o.writable_size) {
        uint32_t project = KAPSEL_TRY(
            image::limit_directories(store.root(), {dirs.upper, dirs.work}, o.writable_size));
        json meta = KAPSEL_TRY(read_meta(store, id));
        meta["quota_project"] = project;
        meta["storage_size"] = o.writable_size;
        KAPSEL_TRY(write_meta(store, id, meta));
    }
    // The overlay is mounted by the container's init inside its own mount
    // namespace (the annotation below): no host mount to leak or to unmount.
    json overlay = {{"lowerdir", json::array()}, {"upperdir", dirs.upper}, {"workdir", dirs.work}};
    // A user's store is used in its user namespace: its opaque directories carry
    // user.overlay.opaque (image/tree.hpp), which overlayfs reads with userxattr.
    if (rootless()) overlay["userxattr"] = true;
    for (auto it = img.layers.rbegin(); it != img.layers.rend(); ++it) overlay["lowerdir"].push_back(store.layer_path(*it));
    if (img.layers.empty()) {
        KAPSEL_TRY(fs::mkdir_p(store.root() + "/layers/empty", 0755));
        overlay["lowerdir"].push_back(store.root() + "/layers/empty");
    }

    plan::RunRequest req = o.request;
    req.tty_group = gid_mapped(5);
    req.rootfs = dirs.merged;
    if (req.hostname.empty()) req.hostname = id.substr(0, 12);
    // The network before the container: its namespace is joined by the init (the Undo
    // above takes it down again if anything after this fails).
    NetworkRequest network = o.network;
    for (auto& c : req.cap_add) {
        std::string n = to_upper(c);
        if (n.rfind("CAP_", 0) == 0) n = n.substr(4);
        if (n == "ALL" || n == "NET_ADMIN") network.reusable = false;
    }
    NetworkSetup net = KAPSEL_TRY(attach_network(g, store, id, name, req.hostname, dirs.dir,
                                                 cfg.exposed_ports, network));
    req.network = net.spec_network;
    // In a network namespace of its own (never one it joins: that is another's), ping
    // works without CAP_NET_RAW for the container's root group, as podman sets it.
    if (net.own_namespace) req.sysctls["net.ipv4.ping_group_range"] = "0 0";
    for (auto& [host, target] : net.etc_binds) req.volumes.push_back({host, target, false});
    {
        json meta = KAPSEL_TRY(read_meta(store, id));
        meta["network"] = net.summary;
        KAPSEL_TRY(write_meta(store, id, meta));
    }
    if (rlimit cur{}; ::getrlimit(RLIMIT_NOFILE, &cur) == 0 && cur.rlim_max < req.nofile) req.nofile = cur.rlim_max;
    req.annotations["io.kapsel.image"] = img.names.empty() ? img.id : img.names[0];
    req.annotations["io.kapsel.name"] = name;
    // Noted (-P publishes them on a bridge network).
    if (!cfg.exposed_ports.empty()) req.annotations["io.kapsel.exposed-ports"] = join(cfg.exposed_ports, ",");
    req.annotations["io.kapsel.rootfs.overlay"] = overlay.dump();
    json spec = KAPSEL_TRY(image_spec(store, img, cfg, req, o.user));
    {
        json meta = KAPSEL_TRY(read_meta(store, id));
        meta["command"] = spec["process"]["args"];
        KAPSEL_TRY(write_meta(store, id, meta));
    }
    KAPSEL_TRY(fs::write_file_atomic(dirs.dir + "/config.json", spec.dump(1), 0600));
    if (id_out) *id_out = id;

    RunOptions ro;
    ro.create.id = id;
    ro.create.bundle = dirs.dir;
    ro.keep = !o.rm;

    if (!o.detach) {
        if (!req.interactive) {
            // Without -i the container reads nothing from us.
            int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (null >= 0) {
                ::dup2(null, STDIN_FILENO);
                ::close(null);
            }
        }
        undo.armed = false;
        auto rc = run(g, ro);
        if (!rc) {
            (void)destroy(g, store, id);
            return std::move(rc).error();
        }
        record_exit(store, id, *rc);
        if (auto st = detach_network(id); !st) log::warn(st.error().message);
        if (o.rm) KAPSEL_TRY(destroy(g, store, id));
        return *rc;
    }

    // Detached: a monitor (our child, which outlives us) runs the container.
    return spawn_monitor(
        g, store, id, o.rm,
        [&](std::function<void()> started) {
            ro.on_started = std::move(started);
            return run(g, ro);
        },
        [&] { undo.armed = false; });
}

Status checkpoint_container(const Globals& g, const std::string& id, CheckpointRequest r) {
    image::Store store = KAPSEL_TRY(open_store(g));
    json meta = KAPSEL_TRY(read_meta(store, id));
    r.id = id;
    r.criu.image_dir = fs::absolute(r.criu.image_dir.empty() ? "checkpoint" : r.criu.image_dir);
    bool stops = !r.criu.leave_running && !r.criu.pre_dump;
    // Before the dump: its monitor then takes the container's end for a checkpoint.
    if (stops) {
        meta["checkpoint"] = r.criu.image_dir;
        KAPSEL_TRY(write_meta(store, id, meta));
    }
    auto st = checkpoint(g, r);
    if (!st && stops) {
        // CRIU let the processes go on: the container runs as before.
        if (auto now = read_meta(store, id)) {
            now->erase("checkpoint");
            (void)write_meta(store, id, *now);
        }
    }
    return st;
}

namespace {

// The container's record in the image store, without making a store where there is
// none (runc's clients ask about ids kapsel never had).
std::optional<json> image_container_meta(const Globals& g, const std::string& id) {
    std::string root = g.storage_root.empty() ? image::Store::default_root() : g.storage_root;
    if (::access(root.c_str(), F_OK) != 0) return std::nullopt;
    auto store = open_store(g);
    if (!store) return std::nullopt;
    auto meta = read_meta(*store, id);
    if (!meta) return std::nullopt;
    return std::move(*meta);
}

}  // namespace

bool is_image_container(const Globals& g, const std::string& id) {
    return image_container_meta(g, id).has_value();
}

bool has_checkpoint(const Globals& g, const std::string& id) {
    auto meta = image_container_meta(g, id);
    return meta && meta->contains("checkpoint");
}

Result<int> restore_container(const Globals& g, const std::string& id, RestoreRequest r) {
    image::Store store = KAPSEL_TRY(open_store(g));
    json meta = KAPSEL_TRY(read_meta(store, id));
    if (!meta.contains("checkpoint"))
        return make_error("container \"" + meta.value("name", id) + "\" has no checkpoint to restore");
    if (Store(g.root).exists(id))
        return make_error("container \"" + meta.value("name", id) + "\" is running");
    // The monitor of the checkpointed run must be gone first: it tells a checkpoint's end
    // from an exit by the record's "checkpoint", which the restored run removes once it
    // runs; a monitor that read it after that would take the restored container's
    // network down as an exit's (and remove a --rm one). It ends right after the dump.
    for (int i = 0; i < 1000 && monitor_alive(meta); ++i) {
        ::usleep(10000);
        meta = KAPSEL_TRY(read_meta(store, id));
    }
    if (monitor_alive(meta))
        return make_error("container \"" + meta.value("name", id) + "\": the monitor of its checkpointed run is still there");
    r.id = id;
    r.bundle = image::container_dirs(store, id).dir;
    if (r.criu.image_dir.empty()) r.criu.image_dir = meta.value("checkpoint", "");
    r.detach = false;  // the monitor waits for it
    bool rm = meta.value("rm", false);
    return spawn_monitor(g, store, id, rm, [&](std::function<void()> started) {
        r.on_started = [&store, &id, started] {
            // Running again: its next end is an exit.
            if (auto now = read_meta(store, id)) {
                now->erase("checkpoint");
                now->erase("exit_code");
                (void)write_meta(store, id, *now);
            }
            started();
        };
        return restore(g, r);
    });
}

Result<std::string> resolve_container(const Globals& g, const std::string& name_or_id) {
    if (Store(g.root).exists(name_or_id)) return name_or_id;
    // Looking a name up must not create an image store where there is none (runc's
    // clients ask about ids kapsel never had).
    std::string root = g.storage_root.empty() ? image::Store::default_root() : g.storage_root;
    if (::access(root.c_str(), F_OK) != 0) return Error{ENOENT, "container \"" + name_or_id + "\" does not exist"};
    auto store = open_store(g);
    if (!store) return std::move(store).error();
    std::vector<std::string> prefix;
    for (auto& id : container_ids(*store)) {
        auto meta = read_meta(*store, id);
        if (meta && meta->value("name", "") == name_or_id) return id;
        if (id.rfind(name_or_id, 0) == 0) prefix.push_back(id);
    }
    if (prefix.size() == 1 && name_or_id.size() >= 3) return prefix[0];
    if (prefix.size() > 1) return make_error("container \"" + name_or_id + "\" is ambiguous");
    return Error{ENOENT, "container \"" + name_or_id + "\" does not exist"};
}

Result<std::string> runtime_id(const Globals& g, const std::string& name_or_id) {
    auto id = resolve_container(g, name_or_id);
    if (!id && id.error().code == ENOENT) return name_or_id;
    return id;
}

Result<std::vector<ContainerInfo>> list_containers(const Globals& g, bool all) {
    image::Store store = KAPSEL_TRY(open_store(g));
    Store runtime_store(g.root);
    std::vector<ContainerInfo> out;
    for (auto& id : container_ids(store)) {
        auto meta = read_meta(store, id);
        if (!meta) continue;
        ContainerInfo c;
        c.id = id;
        c.name = meta->value("name", "");
        c.image = meta->value("image", "");
        c.image_id = meta->value("image_id", "");
        c.created = meta->value("created", "");
        c.command = meta->value("command", std::vector<std::string>{});
        if (meta->contains("exit_code")) c.exit_code = (*meta)["exit_code"].get<int>();
        auto rec = runtime_store.load(id);
        if (rec) {
            oci::Status s = current_status(runtime_store, *rec);
            c.status = oci::status_name(s);
            if (s != oci::Status::stopped) c.pid = rec->pid;
            if (s == oci::Status::stopped) c.status = "exited";
        } else if (meta->contains("checkpoint")) {
            c.status = "checkpointed";
        } else {
            c.status = c.exit_code ? "exited" : "created";
        }
        if (!all && c.status != "running" && c.status != "paused") continue;
        out.push_back(c);
    }
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.created > b.created; });
    return out;
}

Status stop_container(const Globals& g, const std::string& name, int timeout_s) {
    std::string id = KAPSEL_TRY(resolve_container(g, name));
    Store rs(g.root);
    auto rec = rs.load(id);
    if (!rec || current_status(rs, *rec) == oci::Status::stopped) return {};  // already stopped, as podman sees it
    int sig = SIGTERM;
    if (auto store = open_store(g)) {
        auto meta = read_meta(*store, id);
        if (meta && !meta->value("stop_signal", "").empty())
            if (auto n = plan::signal_number(meta->value("stop_signal", ""))) sig = *n;
    }
    if (current_status(rs, *rec) == oci::Status::paused) (void)kill(g, id, SIGKILL, true);
    (void)kill(g, id, sig, false);
    for (int i = 0; i < timeout_s * 50; ++i) {
        if (current_status(rs, *rec) == oci::Status::stopped) return {};
        ::usleep(20000);
    }
    // The program ignored the polite signal (pid 1 does, without a handler).
    KAPSEL_TRY(kill(g, id, SIGKILL, true));
    for (int i = 0; i < 250 && current_status(rs, *rec) != oci::Status::stopped; ++i) ::usleep(20000);
    return {};
}

Status remove_container(const Globals& g, const std::string& name, bool force) {
    std::string id = KAPSEL_TRY(resolve_container(g, name));
    image::Store store = KAPSEL_TRY(open_store(g));
    Store rs(g.root);
    if (auto rec = rs.load(id)) {
        oci::Status s = current_status(rs, *rec);
        if (s != oci::Status::stopped && !force)
            return make_error("cannot remove container \"" + name + "\": it is " + oci::status_name(s) + " (stop it, or rm -f)");
    }
    if (!fs::exists(store.container_dir(id))) return remove(g, id, force);  // a runtime-only container
    return destroy(g, store, id);
}

Status container_logs(const Globals& g, const std::string& name, bool follow,
                      const std::function<void(std::string_view)>& out) {
    std::string id = KAPSEL_TRY(resolve_container(g, name));
    image::Store store = KAPSEL_TRY(open_store(g));
    Store rs(g.root);
    return logfile::read(store.container_dir(id), follow, [&] {
        auto rec = rs.load(id);
        return !rec || current_status(rs, *rec) == oci::Status::stopped;
    }, out);
}

Result<json> inspect(const Globals& g, const std::string& what) {
    if (auto id = resolve_container(g, what); id) {
        image::Store store = KAPSEL_TRY(open_store(g));
        json j = {{"Id", *id}};
        if (auto meta = read_meta(store, *id)) j["Container"] = *meta;
        if (auto s = state(g, *id)) j["State"] = json::parse(oci::state_json(*s, false));
        if (auto cfg = fs::read_file(store.container_dir(*id) + "/config.json")) j["Config"] = json::parse(*cfg, nullptr, false);
        // The container-aware /proc and /sys: on for this container, and whether the
        // service that answers them runs.
        bool procfs = false;
        if (j.contains("Config") && j["Config"].is_object() && j["Config"].contains("annotations") &&
            j["Config"]["annotations"].is_object()) {
            auto& a = j["Config"]["annotations"];
            procfs = a.contains(plan::kProcfsAnnotation) && a[plan::kProcfsAnnotation] == "true";
        }
        j["Procfs"] = {{"Enabled", procfs}, {"ServiceRunning", procfs && procfs::running(g.root)}};
        j["NetworkSettings"] = network_settings(
            j.contains("Container") && j["Container"].is_object() ? j["Container"].value("network", json::object())
                                                                   : json::object());
        return j;
    }
    image::Store store = KAPSEL_TRY(open_store(g));
    auto img = store.find_image(what);
    if (!img) return make_error("no container or image called \"" + what + "\"");
    json j = {{"Id", img->id}, {"Names", img->names}, {"Digest", img->manifest}, {"Layers", img->layers},
              {"Size", img->size}, {"Created", img->created}};
    if (auto cfg = store.read_blob(img->id)) j["Config"] = json::parse(*cfg, nullptr, false);
    return j;
}

std::vector<image::ContainerRef> container_refs(const image::Store& store) {
    std::vector<image::ContainerRef> out;
    for (auto& id : container_dirs_in(store, false)) {
        image::ContainerRef c;
        c.id = id;
        auto meta = read_meta(store, id);
        if (!meta || !meta->is_object()) {
            c.valid = false;
        } else {
            c.name = meta->value("name", "");
            c.image_id = meta->value("image_id", "");
            c.layers = meta->value("layers", std::vector<std::string>{});
        }
        out.push_back(std::move(c));
    }
    return out;
}

std::vector<std::string> stale_network_attachments(const Globals& g, const image::Store& store) {
    std::vector<std::string> out;
    if (!fs::exists(network_root() + "/networks")) return out;
    auto ns = network::NetworkStore::open(network_root());
    if (!ns) return out;
    auto all = ns->attachments();
    if (!all) return out;
    Store rs(g.root);
    std::string mine = g.root + "/netns/";
    for (auto& a : *all) {
        // A spare is no container's; another --root's containers are that root's to
        // judge (records before "root" tell it by where the namespace is). A record
        // without a root whose namespace is the host-wide kind is a spare a run claimed
        // and died with (kapsel before this fix left those): no container's, any root's.
        if (a.spare) continue;
        bool unowned = a.root.empty() && a.netns.rfind(network_root() + "/networks/netns/", 0) == 0;
        if (unowned) {
            out.push_back(a.container_id);
            continue;
        }
        if (a.root.empty() ? a.netns.rfind(mine, 0) != 0 : a.root != g.root) continue;
        const std::string& id = a.container_id;
        bool stale = false;
        auto meta = read_meta(store, id);
        if (!fs::exists(store.container_dir(id))) {
            stale = !rs.exists(id);
        } else if (meta && meta->is_object() && !monitor_alive(*meta) && !meta->contains("checkpoint")) {
            // Its monitor would have taken the network down when it ended.
            auto rec = rs.load(id);
            auto st = rec ? current_status(rs, *rec) : oci::Status::stopped;
            stale = st == oci::Status::stopped;
        }
        if (stale) out.push_back(id);
    }
    return out;
}

std::vector<std::string> abandoned_containers(const Globals& g, const image::Store& store) {
    std::vector<std::string> out;
    Store rs(g.root);
    for (auto& id : container_dirs_in(store, false)) {
        auto meta = read_meta(store, id);
        bool dead = false;
        if (!meta || !meta->is_object()) {
            dead = !rs.exists(id);  // run writes container.json before any runtime state
        } else if (meta->value("rm", false) && !monitor_alive(*meta)) {
            // Its monitor would have removed it; whether it still runs is the runtime's to say.
            // A created one waits for a start that its dead monitor (or the killed
            // attached run) will never give.
            auto rec = rs.load(id);
            auto s = rec ? current_status(rs, *rec) : oci::Status::stopped;
            dead = s == oci::Status::stopped || s == oci::Status::created;
        }
        if (dead) out.push_back(id);
    }
    return out;
}

Status remove_container_locked(const Globals& g, image::Store& store, const std::string& id) {
    return destroy(g, store, id, /*store_locked=*/true);
}

}  // namespace kapsel::runtime
