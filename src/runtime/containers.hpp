// Containers made from images (podman's side of kapsel): run an image, list,
// stop, remove, logs, inspect, diff, commit. Each is a runtime container (same
// id, same --root) whose bundle and copy-on-write layer live in the image store
// (containers/<id>/). Detached ones get a small monitor process that holds
// their output, waits for them, records the exit code and cleans up.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "image/gc.hpp"
#include "image/manifest.hpp"
#include "image/overlay.hpp"
#include "image/store.hpp"
#include "plan/container_spec.hpp"
#include "plan/log_options.hpp"
#include "runtime/checkpoint.hpp"
#include "runtime/context.hpp"
#include "runtime/network.hpp"
#include "util/result.hpp"

namespace kapsel::runtime {

struct ImageRunOptions {
    std::string image;
    std::string name;
    std::string user;  // -u, overrides the image's User
    bool detach = false, rm = false;
    uint64_t writable_size = 0;  // --storage-opt size=: the writable layer's limit (0: none)
    plan::RunRequest request;  // everything that shapes the config (rootfs is filled in)
    plan::LogOptions log;      // --log-opt: the bound of a detached container's log
    NetworkRequest network;    // --network, -p, --dns, ... (request.network is set from it)
};

// Attached: the container's exit code. Detached: 0 once it runs (the id is in `id_out`).
Result<int> run_image(const Globals& g, const ImageRunOptions& o, std::string* id_out);

struct ContainerInfo {
    std::string id, name, image, image_id, created, status;
    std::vector<std::string> command;
    std::optional<int> exit_code;
    int pid = 0;
};

Result<std::vector<ContainerInfo>> list_containers(const Globals& g, bool all);
// A container by name, id or id prefix: its id.
Result<std::string> resolve_container(const Globals& g, const std::string& name_or_id);
// For runc's verbs (exec, kill, pause, ...): the runtime id a name or id prefix of an
// image container stands for, or the argument itself when nothing matches (the verb
// then reports it); an ambiguous prefix is an error.
Result<std::string> runtime_id(const Globals& g, const std::string& name_or_id);
Status stop_container(const Globals& g, const std::string& name, int timeout_s);
// checkpoint/restore of a container of run IMAGE: as the runc verbs, and its monitor
// knows the dump's end from an exit; restore starts a new monitor (stdio: the log),
// remounts the overlay root for CRIU and takes the images from the checkpoint's
// --image-path unless given.
Status checkpoint_container(const Globals& g, const std::string& id, CheckpointRequest r);
Result<int> restore_container(const Globals& g, const std::string& id, RestoreRequest r);
// Whether `id` is a container of run IMAGE; and whether it was checkpointed and not
// restored since.
bool is_image_container(const Globals& g, const std::string& id);
bool has_checkpoint(const Globals& g, const std::string& id);
Status remove_container(const Globals& g, const std::string& name, bool force);
Status container_logs(const Globals& g, const std::string& name, bool follow,
                      const std::function<void(std::string_view)>& out);
Result<nlohmann::json> inspect(const Globals& g, const std::string& name_or_image);
Result<std::vector<image::ChangeEntry>> container_diff(const Globals& g, const std::string& name);
// The destinations of the container's mounts, from the config kapsel wrote for it, as
// paths relative to the root ("etc/hosts"): where diff, commit and export skip the
// mount points kapsel made.
image::MountPoints container_mount_points(const image::Store& store, const std::string& id);
// With `pause` (the default, as podman's), a running container is frozen while its
// changes are read, so that they are read as one consistent state.
Result<image::ImageRecord> commit_container(const Globals& g, const std::string& name,
                                            const std::string& image_name, bool pause = true);

Result<image::Store> open_store(const Globals& g);

// The OCI config `kapsel run` gives a container of `img` with the options in `req`
// (its rootfs, hostname and annotations taken as they are): the image's defaults,
// the user resolved through the image's /etc/passwd, podman's defaults. Creates nothing.
Result<nlohmann::json> image_spec(const image::Store& store, const image::ImageRecord& img,
                                  const image::ImageConfig& cfg, const plan::RunRequest& req,
                                  const std::string& user_override);

// For the store's upkeep (rmi, system check and prune), which hold the store lock:
// what every container directory holds on to (invalid: no readable container.json).
std::vector<image::ContainerRef> container_refs(const image::Store& store);
// Container directories nothing looks after: --rm containers whose monitor died and
// that no longer run, and directories a killed `run` left without a container.json.
std::vector<std::string> abandoned_containers(const Globals& g, const image::Store& store);
// Containers of this store and --root whose network is still set up though they ended
// (their monitor was killed) or are gone: system check reports, system prune takes down.
std::vector<std::string> stale_network_attachments(const Globals& g, const image::Store& store);
// Removes a container whatever its state (SIGKILL first), the caller holding the store lock.
Status remove_container_locked(const Globals& g, image::Store& store, const std::string& id);

}  // namespace kapsel::runtime
