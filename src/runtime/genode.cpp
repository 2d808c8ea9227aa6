// kapsel genode: spec -> plan -> Genode model, and the files.
#include "runtime/genode.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <optional>
#include <tuple>

#include "genode/model.hpp"
#include "image/flatten.hpp"
#include "image/manifest.hpp"
#include "oci/spec.hpp"
#include "plan/build.hpp"
#include "runtime/containers.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::runtime {

namespace {

// Paths for a dropped-line: the first few, then how many more.
std::string some(const std::vector<std::string>& paths) {
    std::string out;
    for (size_t i = 0; i < paths.size() && i < 4; ++i) out += (i ? ", /" : "/") + paths[i];
    if (paths.size() > 4) out += ", ... (" + std::to_string(paths.size()) + " in all)";
    return out;
}

// What export_genode wrote so far, removed again unless it finishes.
struct Written {
    std::vector<std::string> files;
    std::string made_dir;
    bool keep = false;
    ~Written() {
        if (keep) return;
        for (auto& f : files) ::unlink(f.c_str());
        if (!made_dir.empty()) ::rmdir(made_dir.c_str());
    }
};

Status write_tar(const std::vector<std::string>& dirs, bool whiteouts, const std::string& path,
                 image::FlattenResult& res, Written& w) {
    std::string tmp = path + ".tmp" + std::to_string(::getpid());
    unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) return sys_error("create " + tmp);
    w.files.push_back(tmp);
    // Genode's tar VFS knows ustar with GNU long names, and no device nodes.
    image::FlattenOptions fo{.whiteouts = whiteouts,
                             .format = image::TarFormat::gnu,
                             .skip_special = true,
                             .short_links_only = true};
    res = KAPSEL_TRY_CTX(image::write_flat_tar(dirs, fd.get(), fo), "write " + path);
    if (::rename(tmp.c_str(), path.c_str()) < 0) return sys_error("rename " + tmp + " to " + path);
    w.files.back() = path;
    return {};
}

}  // namespace

std::string genode_name(const std::string& image_or_dir) {
    std::string s = image_or_dir;
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    if (auto at = s.find('@'); at != std::string::npos) s = s.substr(0, at);
    if (auto slash = s.rfind('/'); slash != std::string::npos) s = s.substr(slash + 1);
    if (auto colon = s.find(':'); colon != std::string::npos) s = s.substr(0, colon);
    for (char& c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
            c = '-';
    if (s.empty() || s == "." || s == "..") s = "container";
    return s;
}

Result<GenodeOutput> export_genode(const Globals& g, const GenodeExport& o) {
    std::string out_dir = fs::absolute(o.out_dir);
    std::string name =
        o.name.empty() ? genode_name(o.image.empty() ? fs::absolute(o.bundle) : o.image) : o.name;
    std::string tar_name = name + ".tar";

    oci::Spec spec;
    plan::Plan plan;
    std::vector<std::string> layers;  // bottom first
    bool whiteouts = true;
    std::optional<image::Store> store;
    unique_fd store_lock;
    if (!o.image.empty()) {
        store = KAPSEL_TRY(open_store(g));
        // Shared: no rmi or prune removes a layer while it is being read.
        store_lock = KAPSEL_TRY(store->lock(false));
        image::ImageRecord img = KAPSEL_TRY(store->find_image(o.image));
        image::ImageConfig cfg =
            KAPSEL_TRY(image::parse_config(KAPSEL_TRY(store->read_blob(img.id))));
        for (auto& l : img.layers) {
            if (!store->has_layer(l))
                return make_error("image " + o.image + " is damaged: layer " + l + " is missing");
            layers.push_back(store->layer_path(l));
        }
        plan::RunRequest req = o.request;
        req.rootfs = tar_name;  // the spec's root is the tar; nothing on this host
        if (req.hostname.empty()) req.hostname = name;
        req.annotations["io.kapsel.image"] = img.names.empty() ? img.id : img.names[0];
        auto j = KAPSEL_TRY(image_spec(*store, img, cfg, req, o.user));
        spec = KAPSEL_TRY(oci::parse_spec(j.dump(), "the config of " + o.image));
        plan = KAPSEL_TRY(plan::build(spec, {.id = name, .bundle = out_dir}));
    } else {
        std::string bundle = fs::absolute(o.bundle);
        spec = KAPSEL_TRY(oci::load_spec(bundle + "/config.json"));
        plan = KAPSEL_TRY(plan::build(spec, {.id = name, .bundle = bundle}));
        if (plan.rootfs_overlay) {
            // A container made by `kapsel run IMAGE`: its layers and its own changes.
            for (auto it = plan.rootfs_overlay->lowers.rbegin();
                 it != plan.rootfs_overlay->lowers.rend(); ++it)
                layers.push_back(*it);
            layers.push_back(plan.rootfs_overlay->upper);
        } else {
            layers.push_back(plan.rootfs);
            whiteouts = false;
        }
        for (auto& l : layers)
            if (!fs::exists(l)) return make_error("root file system " + l + " does not exist");
    }

    // Decided before anything is written: a spec Genode cannot take leaves no files.
    genode::Deployment d = KAPSEL_TRY(genode::deploy(
        plan, spec, {.name = name, .tar = tar_name, .sockets = o.request.network != "none"}));

    Written w;
    if (!fs::exists(out_dir)) {
        KAPSEL_TRY(fs::mkdir_p(out_dir, 0755));
        w.made_dir = out_dir;
    }
    image::FlattenResult flat;
    KAPSEL_TRY(write_tar(layers, whiteouts, out_dir + "/" + tar_name, flat, w));
    if (!flat.skipped_special.empty())
        d.dropped.push_back({"rootfs device nodes and fifos " + some(flat.skipped_special),
                             "Genode's tar file system has none (/dev is the VFS's own)"});
    if (!flat.skipped_links.empty())
        d.dropped.push_back(
            {"rootfs symlinks " + some(flat.skipped_links),
             "Genode's tar file system reads link paths and targets of at most 99 bytes"});
    genode::add_scratch_dirs(d.start, flat.shared_dirs);
    std::string kind = o.subinit ? "config" : "start";
    genode::Node node = o.subinit ? genode::subinit_node(d) : genode::start_node(d.start);
    for (auto [wanted, ext, text] :
         {std::tuple{o.xml, "xml", &genode::to_xml}, std::tuple{o.hid, "hid", &genode::to_hid}}) {
        if (!wanted) continue;
        std::string path = out_dir + "/" + name + "." + kind + "." + ext;
        KAPSEL_TRY(fs::write_file_atomic(path, text(node), 0644));
        w.files.push_back(path);
    }

    GenodeOutput out;
    for (auto& x : d.dropped) out.dropped.push_back("dropped " + x.what + ": " + x.why);
    out.files = w.files;
    w.keep = true;
    return out;
}

}  // namespace kapsel::runtime
