// `commit` and `diff` of a container from an image: its writable layer read through fds
// (image/tree.hpp), as a list of changes or as a new layer on top of its image.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <nlohmann/json.hpp>

#include "image/digest.hpp"
#include "image/import.hpp"
#include "image/manifest.hpp"
#include "runtime/container_meta.hpp"
#include "runtime/containers.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/manage.hpp"
#include "runtime/store.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"
#include "util/undo.hpp"

namespace kapsel::runtime {

using json = nlohmann::json;

image::MountPoints container_mount_points(const image::Store& store, const std::string& id) {
    image::MountPoints out;
    auto text = fs::read_file(image::container_dirs(store, id).dir + "/config.json");
    if (!text) return out;
    json cfg = json::parse(*text, nullptr, false);
    if (!cfg.is_object() || !cfg.contains("mounts") || !cfg["mounts"].is_array()) return out;
    for (auto& m : cfg["mounts"]) {
        if (!m.is_object() || !m.contains("destination") || !m["destination"].is_string()) continue;
        std::string dest = m["destination"].get<std::string>();
        if (dest.empty() || dest[0] != '/') continue;
        std::string p = fs::clean(dest);
        if (p.size() > 1) out.push_back(p.substr(1));
    }
    return out;
}

Result<std::vector<image::ChangeEntry>> container_diff(const Globals& g, const std::string& name) {
    std::string id = KAPSEL_TRY(resolve_container(g, name));
    image::Store store = KAPSEL_TRY(open_store(g));
    json meta = KAPSEL_TRY(read_meta(store, id));
    return image::diff_rootfs(store, id, meta.value("layers", std::vector<std::string>{}), container_mount_points(store, id));
}

Result<image::ImageRecord> commit_container(const Globals& g, const std::string& name,
                                            const std::string& image_name, bool pause) {
    std::string id = KAPSEL_TRY(resolve_container(g, name));
    image::Store store = KAPSEL_TRY(open_store(g));
    json meta = KAPSEL_TRY(read_meta(store, id));
    image::ImageRecord base = KAPSEL_TRY(store.find_image(meta.value("image_id", "")));
    // The stored config came from outside (an import before its types were checked):
    // read without exceptions, and only an object with an array of diff ids is built on.
    json cfg = json::parse(KAPSEL_TRY(store.read_blob(base.id)), nullptr, false);
    if (!cfg.is_object() || !cfg.contains("rootfs") || !cfg["rootfs"].is_object() ||
        !cfg["rootfs"].contains("diff_ids") || !cfg["rootfs"]["diff_ids"].is_array())
        return make_error("commit " + name + ": the image's config " + base.id +
                          " has no rootfs.diff_ids array");
    // Frozen, the container cannot change its upper dir while it is read (the read
    // itself never follows a symlink either way: image/tree.hpp).
    Store rs(g.root);
    bool paused_here = false;
    // A user's container without a cgroup of its own cannot be frozen: it is read as it
    // runs (--pause=false), as podman commits a rootless container on cgroup v1.
    if (auto rec = rs.load(id); pause && rec && !rec->cgroup_dirs.empty() &&
                                current_status(rs, *rec) == oci::Status::running) {
        KAPSEL_TRY_CTX(runtime::pause(g, id), "commit " + name);
        paused_here = true;
    }
    Undo thaw{[&] {
        if (auto st = runtime::resume(g, id); !st) log::warn("commit " + name + ": " + st.error().message);
    }};
    thaw.armed = paused_here;
    // The upper dir as a layer: written by a child into a pipe, imported as it streams.
    // The child's error, if any, comes back on a second pipe: it is the cause, and
    // the import's complaint about a cut-off archive only follows from it.
    int p[2], e[2];
    if (::pipe2(p, O_CLOEXEC) < 0) return sys_error("pipe");
    unique_fd rd(p[0]), wr(p[1]);
    if (::pipe2(e, O_CLOEXEC) < 0) return sys_error("pipe");
    unique_fd err_rd(e[0]), err_wr(e[1]);
    image::MountPoints points = container_mount_points(store, id);
    pid_t writer = ::fork();
    if (writer < 0) return sys_error("fork");
    if (writer == 0) {
        rd.reset();
        auto st = image::write_upper_tar(store, id, wr.get(), points);
        if (!st) (void)fs::write_all(err_wr.get(), st.error().message, "error");
        ::_exit(st ? 0 : 1);
    }
    wr.reset();
    err_wr.reset();
    image::FdReader in(rd.get(), "container changes");
    auto shared = KAPSEL_TRY(store.lock(false));
    auto layer = store.import_layer(in);
    rd.reset();  // a writer still writing gets EPIPE, not a wait
    int status = 0;
    while (::waitpid(writer, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char buf[1024];
        ssize_t n = ::read(err_rd.get(), buf, sizeof buf);
        return make_error("commit " + name + ": " +
                          (n > 0 ? std::string(buf, static_cast<size_t>(n))
                                 : std::string("reading its changes failed")));
    }
    if (!layer) return std::move(layer).error().context("commit " + name);

    cfg["rootfs"]["diff_ids"].push_back(layer->diff_id);
    cfg["created"] = now_rfc3339();
    if (!cfg.contains("history") || !cfg["history"].is_array()) cfg["history"] = json::array();
    cfg["history"].push_back({{"created", cfg["created"]}, {"created_by", "kapsel commit " + name}});
    std::string cfg_text = cfg.dump();
    image::Manifest m = KAPSEL_TRY(image::parse_manifest(KAPSEL_TRY(store.read_blob(base.manifest))));
    m.config = {image::kMediaConfig, image::sha256_digest(cfg_text), cfg_text.size(), {}, "", "", ""};
    m.layers.push_back({image::kMediaLayer, layer->blob_digest, layer->blob_size, {}, "", "", ""});
    std::vector<std::string> diff_ids = base.layers;
    diff_ids.push_back(layer->diff_id);
    return image::register_image(store, cfg_text, m, diff_ids, {image::local_reference(image_name)},
                                 base.size + layer->unpacked_size);
}

}  // namespace kapsel::runtime
