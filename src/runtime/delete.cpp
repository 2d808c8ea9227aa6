// `delete`: undo what create did (processes, cgroup, state), then poststop hooks.
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "cgroups/cgroup.hpp"
#include "linux/hooks.hpp"
#include "linux/rootfs.hpp"
#include "oci/spec.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/procfs.hpp"
#include "runtime/process.hpp"
#include "runtime/store.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace kapsel::runtime {

namespace {

// A create killed before it wrote its record leaves the cgroup directories it made
// (cgroup.json beside config.json names them, and those that existed before). Its
// init leaves by itself: its end of the sync socket closed with the killed create.
// Only directories kapsel made are emptied and removed: a cgroup the config joined
// is someone else's.
Status remove_unrecorded_cgroup(const std::string& state_dir) {
    auto text = fs::read_file(state_dir + "/cgroup.json");
    if (!text) return {};
    auto j = nlohmann::json::parse(*text, nullptr, false);
    auto strings = [&](const char* key) {
        std::vector<std::string> out;
        if (j.is_object() && j.contains(key) && j[key].is_array())
            for (auto& v : j[key])
                if (v.is_string()) out.push_back(v.get<std::string>());
        return out;
    };
    std::vector<std::string> dirs = strings("dirs"), existed = strings("existed"), ours;
    for (auto& d : dirs)
        if (std::find(existed.begin(), existed.end(), d) == existed.end() && fs::exists(d))
            ours.push_back(d);
    if (ours.empty()) return {};
    auto layout = KAPSEL_TRY(cgroups::detect());
    if (ours.size() != dirs.size() || dirs.size() != layout.hierarchies.size()) {
        // Some hierarchies were joined, or not made yet: the empty ones we made go.
        for (auto& d : ours) ::rmdir(d.c_str());
        return {};
    }
    auto cg = cgroups::open(layout, ours);
    for (int i = 0; i < 100; ++i) {
        auto left = cg->pids();
        if (!left || left->empty()) break;
        if (i == 50) (void)cg->kill_all(SIGKILL);
        ::usleep(10000);
    }
    return cg->destroy();
}

}  // namespace

Status remove(const Globals& g, const std::string& id, bool force) {
    Store store(g.root);
    auto loaded = store.load(id);
    if (!loaded) {
        // A create that died before writing its state leaves only a directory.
        if (loaded.error().code == ENOENT && store.exists(id) && Store::validate_id(id)) {
            KAPSEL_TRY(remove_unrecorded_cgroup(store.dir(id)));
            KAPSEL_TRY(store.remove(id));
            return {};
        }
        if (loaded.error().code == ENOENT && force) return {};
        return std::move(loaded).error();
    }
    Record rec = std::move(loaded).take();
    unique_fd lock = KAPSEL_TRY(store.lock(id));
    oci::Status status = current_status(store, rec);
    // The runtime-spec forbids deleting a container that is not stopped, created
    // ones included (runc and crun allow that). podman always passes --force;
    // containerd kills first, and `kill` waits for a created container's init to
    // die, so its plain delete then finds it stopped. See kapsel-delete(8).
    if (status != oci::Status::stopped && !force)
        return make_error("cannot delete container \"" + id + "\": it is " +
                          oci::status_name(status) + " (stop it first, or use --force)");

    log::debug("delete: container " + id + " (" + oci::status_name(status) + ", init pid " +
               std::to_string(rec.pid) + ")");
    auto layout = KAPSEL_TRY(cgroups::detect());
    auto cg = cgroups::open(layout, rec.cgroup_dirs, rec.cgroup_created);
    unique_fd pidfd = open_init(rec);
    if (pidfd) {
        if (status == oci::Status::paused || !rec.new_pid_ns) (void)cg->kill_all(SIGKILL);
        pidfd_signal(pidfd.get(), SIGKILL);
        if (!wait_exit(pidfd.get(), 10000))
            return make_error("container \"" + id + "\" did not die after SIGKILL");
    }
    // Without a pid namespace of its own the container's other processes outlive
    // its init: the cgroup finds them.
    (void)cg->kill_all(SIGKILL);
    KAPSEL_TRY(cg->destroy());
    log::debug("delete: removed the cgroup of " + id);
    if (!rec.mount_ns) KAPSEL_TRY(linux::unmount_below(rec.rootfs));

    auto spec = oci::load_spec(store.dir(id) + "/config.json");
    KAPSEL_TRY(store.remove(id));
    if (uses_procfs(rec.annotations)) release_procfs(g);
    if (spec && !spec->hooks.poststop.empty())
        linux::run_hooks_warn(spec->hooks.poststop, "poststop",
                              oci::state_json(to_state(rec, oci::Status::stopped), false));
    return {};
}

Result<oci::State> state(const Globals& g, const std::string& id) {
    Store store(g.root);
    Record rec = KAPSEL_TRY(store.load(id));
    return to_state(rec, current_status(store, rec));
}

Result<std::vector<oci::State>> list(const Globals& g) {
    Store store(g.root);
    std::vector<oci::State> out;
    for (auto& id : KAPSEL_TRY(store.ids())) {
        auto rec = store.load(id);
        if (rec) out.push_back(to_state(*rec, current_status(store, *rec)));
    }
    return out;
}

}  // namespace kapsel::runtime
