// See transfer.hpp.
#include "runtime/transfer.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "image/import.hpp"
#include "image/overlay.hpp"
#include "image/store.hpp"
#include "image/stream.hpp"
#include "image/tar.hpp"
#include "runtime/container_meta.hpp"
#include "runtime/containers.hpp"
#include "runtime/network.hpp"
#include "runtime/store.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/spawn.hpp"
#include "util/strings.hpp"

namespace kapsel::runtime {

using json = nlohmann::json;

namespace {

constexpr const char* kFormat = "kapsel-checkpoint/1";
constexpr uint64_t kMaxDocument = 4 << 20;      // export.json, config.json
constexpr uint64_t kMaxSmallFile = 1 << 20;     // etc/*
constexpr uint64_t kMaxCheckpointFile = 64ull << 30;
constexpr size_t kMaxCheckpointFiles = 100000;
const char* const kEtcFiles[] = {"hosts", "hostname", "resolv.conf"};

// A string field of a document that may come from anywhere, or `otherwise` where it is
// missing or of another type (json::value would throw on that).
std::string text_of(const json& j, const char* key, const std::string& otherwise = "") {
    if (!j.is_object()) return otherwise;
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : otherwise;
}

std::string machine() {
    utsname u{};
    return ::uname(&u) == 0 ? u.machine : "";
}

// "4.1.1" from `criu --version`, "" when it does not answer.
std::string criu_version(const Globals& g) {
    auto done = run_program({criu_binary(g), "--version"}, "", 4096, std::chrono::seconds(10));
    if (!done || !done->exited_ok()) return "";
    for (auto& line : split(done->out, '\n'))
        if (line.rfind("Version: ", 0) == 0) return std::string(trim(line.substr(9)));
    return "";
}

// Copies `in` to `out`, zstd-compressed.
Status zstd_copy(int in, int out, const std::string& what) {
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    if (!cctx) return make_error("zstd: out of memory");
    struct Free {
        ZSTD_CCtx* c;
        ~Free() { ZSTD_freeCCtx(c); }
    } free_ctx{cctx};
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3);
    std::vector<char> ibuf(ZSTD_CStreamInSize()), obuf(ZSTD_CStreamOutSize());
    for (;;) {
        ssize_t n = ::read(in, ibuf.data(), ibuf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_error("read " + what);
        ZSTD_EndDirective mode = n == 0 ? ZSTD_e_end : ZSTD_e_continue;
        ZSTD_inBuffer input{ibuf.data(), static_cast<size_t>(n), 0};
        bool done = false;
        while (!done) {
            ZSTD_outBuffer output{obuf.data(), obuf.size(), 0};
            size_t left = ZSTD_compressStream2(cctx, &output, &input, mode);
            if (ZSTD_isError(left)) return make_error(std::string("zstd: ") + ZSTD_getErrorName(left));
            KAPSEL_TRY(fs::write_all(out, std::string_view(obuf.data(), output.pos), what));
            done = mode == ZSTD_e_end ? left == 0 : input.pos == input.size;
        }
        if (n == 0) return {};
    }
}

// One regular file of the archive, from `fd` (its whole content).
Status add_file(image::TarWriter& tar, const std::string& name, int fd, const std::string& what) {
    struct stat st {};
    if (::fstat(fd, &st) < 0) return sys_error("stat " + what);
    image::TarEntry e;
    e.path = name;
    e.type = image::EntryType::file;
    e.size = static_cast<uint64_t>(st.st_size);
    e.mode = 0600;
    KAPSEL_TRY(tar.header(e));
    std::vector<char> buf(1 << 16);
    uint64_t left = e.size;
    while (left > 0) {
        ssize_t n = ::read(fd, buf.data(), std::min<uint64_t>(buf.size(), left));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n < 0 ? sys_error("read " + what) : make_error("read " + what + ": it shrank");
        KAPSEL_TRY(tar.data(buf.data(), static_cast<size_t>(n)));
        left -= static_cast<uint64_t>(n);
    }
    return tar.end_entry();
}

Status add_path(image::TarWriter& tar, const std::string& name, const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return sys_error("open " + path);
    return add_file(tar, name, fd.get(), path);
}

Status add_text(image::TarWriter& tar, const std::string& name, const std::string& text) {
    image::TarEntry e;
    e.path = name;
    e.type = image::EntryType::file;
    e.size = text.size();
    e.mode = 0600;
    KAPSEL_TRY(tar.header(e));
    KAPSEL_TRY(tar.data(text.data(), text.size()));
    return tar.end_entry();
}

// A CRIU image's name: one plain component (CRIU writes a flat directory).
bool plain_name(const std::string& n) {
    return !n.empty() && n.size() <= 255 && n != "." && n != ".." &&
           n.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == std::string::npos;
}

// Reads an entry's body into a string, refusing one larger than `max`.
Result<std::string> read_body(image::TarReader& tar, const image::TarEntry& e, uint64_t max) {
    if (e.size > max) return make_error("the archive's " + e.path + " is too large (" + std::to_string(e.size) + " bytes)");
    std::string out(e.size, '\0');
    size_t got = 0;
    while (got < out.size()) {
        size_t n = KAPSEL_TRY(tar.body().read(out.data() + got, out.size() - got));
        if (n == 0) return make_error("the archive's " + e.path + " is cut short");
        got += n;
    }
    return out;
}

// Writes an entry's body to a new file `name` in `dirfd`.
Status write_body(image::TarReader& tar, const image::TarEntry& e, int dirfd, const std::string& name,
                  const std::string& where) {
    if (e.size > kMaxCheckpointFile) return make_error("the archive's " + e.path + " is too large");
    unique_fd out(::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) return sys_error("create " + where);
    std::vector<char> buf(1 << 16);
    for (;;) {
        size_t n = KAPSEL_TRY(tar.body().read(buf.data(), buf.size()));
        if (n == 0) break;
        KAPSEL_TRY(fs::write_all(out.get(), std::string_view(buf.data(), n), where));
    }
    return {};
}

}  // namespace

namespace {

// The container's image as an OCI archive (oci-layout, index.json, its manifest, config
// and layer blobs from the store), for an export --with-image.
Status write_image_archive(const image::Store& store, const std::string& image_id, const std::string& path) {
    image::ImageRecord img = KAPSEL_TRY(store.find_image(image_id));
    std::string manifest_text = KAPSEL_TRY(store.read_blob(img.manifest));
    json manifest = json::parse(manifest_text, nullptr, false);
    if (!manifest.is_object() || !manifest.contains("layers") || !manifest["layers"].is_array())
        return make_error("export --with-image: the image's manifest " + img.manifest + " has no layers");
    std::vector<std::string> blobs = {img.manifest, img.id};
    for (auto& l : manifest["layers"])
        if (l.is_object() && l.contains("digest") && l["digest"].is_string()) blobs.push_back(l["digest"]);
    for (auto& b : blobs)
        if (!store.has_blob(b))
            return make_error("export --with-image: blob " + b + " of the image is not in the store (load or pull the image again)");
    json desc = {{"mediaType", text_of(manifest, "mediaType", "application/vnd.oci.image.manifest.v1+json")},
                 {"digest", img.manifest},
                 {"size", manifest_text.size()}};
    if (!img.names.empty()) desc["annotations"] = {{"org.opencontainers.image.ref.name", img.names[0]}};
    json index = {{"schemaVersion", 2}, {"manifests", json::array({desc})}};
    unique_fd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) return sys_error("create " + path);
    image::TarWriter tar(out.get());
    KAPSEL_TRY(add_text(tar, "oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
    KAPSEL_TRY(add_text(tar, "index.json", index.dump()));
    for (auto& b : blobs) KAPSEL_TRY(add_path(tar, "blobs/sha256/" + b.substr(7), store.blob_path(b)));
    return tar.finish();
}

std::string network_mode(const json& meta) {
    return meta.is_object() && meta.contains("network") ? text_of(meta["network"], "mode") : "";
}

// A network that can be set up again elsewhere: not another container's or a given
// namespace's.
bool movable(const std::string& mode) {
    return mode.rfind("container:", 0) != 0 && mode.rfind("ns:", 0) != 0;
}

// The network the container had at the source, set up again here: the same bridge
// network (by name) with the same address and MAC where they are free (on the same host
// the checkpointed source still holds its address: then another, and one line says
// so), or pasta or slirp4netns; the same published ports.
Result<NetworkSetup> attach_again(const Globals& g, const image::Store& store, const std::string& id,
                                  const std::string& name, const json& config, const json& summary,
                                  const std::string& dir) {
    NetworkRequest req;
    req.mode = text_of(summary, "mode");
    req.ports = published_ports(summary);
    if (req.mode == "bridge" && summary.contains("networks") && summary["networks"].is_object() &&
        !summary["networks"].empty()) {
        auto it = summary["networks"].begin();
        const json& n = it.value();
        req.mode = it.key() == network::kDefaultNetwork ? "bridge" : it.key();
        if (n.is_object()) {
            req.ip = text_of(n, "ip");
            req.mac = text_of(n, "mac");
            if (n.contains("aliases") && n["aliases"].is_array())
                for (auto& a : n["aliases"])
                    if (a.is_string() && a != name) req.aliases.push_back(a);
        }
    }
    std::string hostname = text_of(config, "hostname", id.substr(0, 12));
    // Networks are the host's: on the same host the checkpointed source still holds its
    // attachment (the same id), and a second one cannot be made beside it.
    if (auto ns = network::NetworkStore::open(network_root()); ns)
        if (auto held = ns->attachment(id); held && *held)
            return make_error("container " + id.substr(0, 12) +
                              " still holds its network on this host (the checkpointed source): remove it there first");
    auto set = attach_network(g, store, id, name, hostname, dir, {}, req);
    if (!set && !req.ip.empty() && set.error().message.find("is in use by container") != std::string::npos) {
        log::warn("container " + name + ": its address " + req.ip + " is in use here; it gets another");
        req.ip.clear();
        req.mac.clear();
        set = attach_network(g, store, id, name, hostname, dir, {}, req);
    }
    return set;
}

}  // namespace

Status export_checkpoint(const Globals& g, const std::string& id, CheckpointRequest r, const std::string& file,
                         bool with_image) {
    image::Store store = KAPSEL_TRY(open_store(g));
    json meta = KAPSEL_TRY(read_meta(store, id));
    std::string mode = network_mode(meta);
    if (!movable(mode))
        return make_error("export of a container on --network " + mode +
                          ": its network is another's, which does not come along");
    std::string version = criu_version(g);
    if (version.empty()) return make_error("export: " + criu_binary(g) + " --version does not answer");
    image::ContainerDirs dirs = image::container_dirs(store, id);
    std::string images = dirs.dir + "/checkpoint";
    if (fs::exists(images)) KAPSEL_TRY(fs::remove_tree(images));
    r.criu.image_dir = images;
    r.criu.pre_dump = false;
    KAPSEL_TRY(checkpoint_container(g, id, r));
    json info = {{"format", kFormat}, {"arch", machine()}, {"criu", version}, {"container", meta},
                 {"dir", dirs.dir}, {"with_image", with_image}};

    // The archive is made beside the container, then compressed to its place.
    std::string tar_path = dirs.dir + "/export.tar", upper_path = dirs.dir + "/upper.tar",
                image_path = dirs.dir + "/image.tar";
    struct Remove {
        std::vector<std::string> paths;
        ~Remove() {
            for (auto& p : paths) ::unlink(p.c_str());
        }
    } temps{{tar_path, upper_path, image_path}};
    if (with_image) KAPSEL_TRY(write_image_archive(store, text_of(meta, "image_id"), image_path));
    {
        unique_fd upper(::open(upper_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!upper) return sys_error("create " + upper_path);
        // All of it, the mount points kapsel made too: CRIU puts the mounts back on them.
        KAPSEL_TRY(image::write_upper_tar(store, id, upper.get()));
    }
    {
        unique_fd out(::open(tar_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!out) return sys_error("create " + tar_path);
        image::TarWriter tar(out.get());
        KAPSEL_TRY(add_text(tar, "export.json", info.dump(1) + "\n"));
        // The image before the rest: the destination loads it before it looks for it.
        if (with_image) KAPSEL_TRY(add_path(tar, "image.tar", image_path));
        KAPSEL_TRY(add_path(tar, "config.json", dirs.dir + "/config.json"));
        for (const char* f : kEtcFiles)
            if (fs::exists(dirs.dir + "/" + f)) KAPSEL_TRY(add_path(tar, std::string("etc/") + f, dirs.dir + "/" + f));
        if (fs::exists(dirs.dir + "/ctr.log")) KAPSEL_TRY(add_path(tar, "log/ctr.log", dirs.dir + "/ctr.log"));
        DIR* d = ::opendir(images.c_str());
        if (!d) return sys_error("open " + images);
        std::vector<std::string> names;
        while (dirent* e = ::readdir(d))
            if (e->d_type == DT_REG) names.emplace_back(e->d_name);
        ::closedir(d);
        for (auto& n : names) KAPSEL_TRY(add_path(tar, "checkpoint/" + n, images + "/" + n));
        KAPSEL_TRY(add_path(tar, "upper.tar", upper_path));
        KAPSEL_TRY(tar.finish());
    }
    unique_fd in(::open(tar_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) return sys_error("open " + tar_path);
    if (file == "-") return zstd_copy(in.get(), 1, "stdout");
    // Written beside its place and renamed: a failed export leaves no half archive.
    std::string tmp = fs::absolute(file) + ".tmp" + std::to_string(::getpid());
    unique_fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) return sys_error("create " + tmp);
    temps.paths.push_back(tmp);
    KAPSEL_TRY(zstd_copy(in.get(), out.get(), tmp));
    if (::fsync(out.get()) < 0) return sys_error("write " + tmp);
    if (::rename(tmp.c_str(), file.c_str()) < 0) return sys_error("rename " + tmp + " to " + file);
    temps.paths.pop_back();
    return {};
}

Result<std::string> import_checkpoint(const Globals& g, const std::string& file, const std::string& name,
                                      RestoreRequest r) {
    unique_fd in(file == "-" ? ::fcntl(0, F_DUPFD_CLOEXEC, 3) : ::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) return sys_error("open " + file);
    image::FdReader raw(in.get(), file);
    image::Decompressor unzstd(raw);
    image::TarReader tar(unzstd);
    image::Store store = KAPSEL_TRY(open_store(g));

    std::string id, dir, old_dir;
    json meta, config, source_network = json::object();
    bool made = false;
    // Whatever fails from here takes the new container's directory with it.
    struct Undo {
        std::string dir, id;
        bool armed = false, network = false;
        ~Undo() {
            if (armed && network) (void)detach_network(id);
            if (armed) (void)fs::remove_tree(dir);
        }
    } undo;
    auto bad = [&](const std::string& why) { return make_error("import " + file + ": " + why); };
    std::optional<std::string> layer;
    bool with_image = false, image_loaded = false;
    unique_fd images_dir;
    size_t checkpoint_files = 0;
    image::TarEntry e;
    auto shared = KAPSEL_TRY(store.lock(false));  // the imported layer is not pruned before it is referenced
    for (;;) {
        auto more = tar.next(e);
        if (!more) return bad(more.error().message);
        if (!*more) break;
        // The directories of the archive's own parts, as another tar may write them, are
        // nothing to make: each part's place is decided below.
        if (e.type == image::EntryType::directory && made &&
            (e.path == "checkpoint/" || e.path == "etc/" || e.path == "log/" || e.path == "checkpoint" ||
             e.path == "etc" || e.path == "log"))
            continue;
        if (e.type != image::EntryType::file) return bad("unexpected entry " + e.path);
        if (!made && e.path != "export.json") return bad("it does not start with export.json: not a kapsel export");
        if (e.path == "export.json") {
            if (made) return bad("export.json twice");
            json info = json::parse(KAPSEL_TRY(read_body(tar, e, kMaxDocument)), nullptr, false);
            if (text_of(info, "format") != kFormat) return bad("not a kapsel export (" + std::string(kFormat) + ")");
            if (text_of(info, "arch") != machine())
                return bad("made on " + text_of(info, "arch", "?") + ", this host is " + machine());
            std::string version = criu_version(g);
            if (text_of(info, "criu") != version)
                return bad("made with CRIU " + text_of(info, "criu", "?") + ", this host has " +
                           (version.empty() ? "none that answers" : version));
            if (!info.contains("container") || !info["container"].is_object()) return bad("export.json has no container");
            // The container's record is made anew from what it says, field by field, each
            // checked: what the other verbs read later is what kapsel itself writes.
            const json& src = info["container"];
            old_dir = text_of(info, "dir");
            id = text_of(src, "id");
            if (id.size() != 64 || id.find_first_not_of("0123456789abcdef") != std::string::npos)
                return bad("export.json names no valid container id");
            if (!movable(network_mode(src)))
                return bad("a container on --network " + network_mode(src) + " cannot be imported");
            with_image = info.contains("with_image") && info["with_image"].is_boolean() && info["with_image"].get<bool>();
            if (!with_image && !store.find_image(text_of(src, "image_id")))
                return bad("its image " + text_of(src, "image", "?") + " (" + text_of(src, "image_id", "?") +
                           ") is not in this store: load or pull it first");
            std::string new_name = name.empty() ? text_of(src, "name", id.substr(0, 12)) : name;
            if (new_name.empty() || new_name.size() > 253 ||
                new_name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
                    std::string::npos)
                return bad("\"" + new_name + "\" is not a container name");
            meta = {{"id", id},
                    {"name", new_name},
                    {"image", text_of(src, "image")},
                    {"image_id", text_of(src, "image_id")},
                    {"created", text_of(src, "created")},
                    {"rm", src.contains("rm") && src["rm"].is_boolean() && src["rm"].get<bool>()},
                    {"stop_signal", text_of(src, "stop_signal")},
                    {"network", {{"mode", network_mode(src)}}}};
            if (src.contains("command") && src["command"].is_array() && src["command"].size() <= 4096) {
                json command = json::array();
                for (auto& a : src["command"])
                    if (a.is_string()) command.push_back(a);
                meta["command"] = command;
            }
            // What the network was (read by attach_again, through checked accessors only).
            if (src.contains("network") && src["network"].is_object()) source_network = src["network"];
            auto index = KAPSEL_TRY(store.lock_index());
            if (fs::exists(store.container_dir(id)) || Store(g.root).exists(id))
                return bad("container " + id.substr(0, 12) + " exists here already");
            if (DIR* d = ::opendir((store.root() + "/containers").c_str())) {
                std::string user;
                while (dirent* c = ::readdir(d)) {
                    if (c->d_name[0] == '.') continue;
                    auto m = read_meta(store, c->d_name);
                    if (m && m->value("name", "") == new_name) user = c->d_name;
                }
                ::closedir(d);
                if (!user.empty()) return bad("the name \"" + new_name + "\" is in use by container " + user.substr(0, 12));
            }
            dir = store.container_dir(id);
            undo.dir = dir;
            KAPSEL_TRY(fs::mkdir_p(dir, 0700));
            undo.armed = true;
            KAPSEL_TRY(write_meta(store, id, meta));
            KAPSEL_TRY(fs::mkdir_p(dir + "/checkpoint", 0700));
            images_dir.reset(::open((dir + "/checkpoint").c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!images_dir) return sys_error("open " + dir + "/checkpoint");
            made = true;
        } else if (e.path == "image.tar") {
            if (!with_image || image_loaded) return bad("unexpected entry " + e.path);
            // Loaded as `kapsel load` loads an archive (every blob checked against its
            // digest), from a file of its own beside the new container.
            unique_fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!d) return sys_error("open " + dir);
            KAPSEL_TRY(write_body(tar, e, d.get(), "image.tar", dir + "/image.tar"));
            image::ImportOptions opts;
            opts.quiet = true;
            auto loaded = image::load_archive(store, dir + "/image.tar", opts);
            ::unlink((dir + "/image.tar").c_str());
            if (!loaded) return bad("its image: " + loaded.error().message);
            image_loaded = true;
        } else if (e.path == "config.json") {
            config = json::parse(KAPSEL_TRY(read_body(tar, e, kMaxDocument)), nullptr, false);
            if (!config.is_object()) return bad("config.json is not a JSON object");
        } else if (e.path.rfind("etc/", 0) == 0) {
            std::string f = e.path.substr(4);
            if (std::find(std::begin(kEtcFiles), std::end(kEtcFiles), f) == std::end(kEtcFiles))
                return bad("unexpected entry " + e.path);
            KAPSEL_TRY(fs::write_file_atomic(dir + "/" + f, KAPSEL_TRY(read_body(tar, e, kMaxSmallFile)), 0644));
        } else if (e.path == "log/ctr.log") {
            unique_fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!d) return sys_error("open " + dir);
            KAPSEL_TRY(write_body(tar, e, d.get(), "ctr.log", dir + "/ctr.log"));
        } else if (e.path.rfind("checkpoint/", 0) == 0) {
            std::string f = e.path.substr(11);
            if (!plain_name(f)) return bad("unexpected entry " + e.path);
            if (++checkpoint_files > kMaxCheckpointFiles) return bad("too many checkpoint files");
            KAPSEL_TRY(write_body(tar, e, images_dir.get(), f, dir + "/checkpoint/" + f));
        } else if (e.path == "upper.tar") {
            if (layer) return bad("upper.tar twice");
            // The container's changes: a layer like any other, unpacked below its own
            // directory, hostile entries refused (image/unpack.cpp).
            // No blob kept: the layer belongs to this container only (no image to push).
            auto got = store.import_layer(tar.body(), "", "", /*keep_blob=*/false);
            if (!got) return bad("its writable layer: " + got.error().message);
            // Complete once its data is on disk (the marker must never be there before it).
            KAPSEL_TRY(store.sync());
            if (!store.has_layer(got->diff_id))
                KAPSEL_TRY(store.mark_layer_complete(got->diff_id, {{"diff_id", got->diff_id}}));
            layer = got->diff_id;
        } else {
            return bad("unexpected entry " + e.path);
        }
    }
    if (!made || !layer || !config.is_object()) return bad("it is incomplete (export.json, config.json, upper.tar)");
    if (with_image && !image_loaded) return bad("it says it holds its image, and does not");
    auto img = store.find_image(text_of(meta, "image_id"));
    if (!img)
        return bad("its image " + text_of(meta, "image", "?") + " (" + text_of(meta, "image_id", "?") +
                   ") is not in this store");
    meta["layers"] = img->layers;

    // The container's layers: the image's and its changes, under a new writable layer.
    image::ContainerDirs dirs = image::container_dirs(store, id);
    for (auto* p : {&dirs.upper, &dirs.work, &dirs.merged}) KAPSEL_TRY(fs::mkdir_p(*p, 0755));
    std::vector<std::string> layers = meta["layers"].get<std::vector<std::string>>();
    layers.push_back(*layer);
    meta["layers"] = layers;
    meta["checkpoint"] = dir + "/checkpoint";
    KAPSEL_TRY(write_meta(store, id, meta));
    // Its config, rebased from the old store's paths onto this one's.
    json overlay = {{"lowerdir", json::array()}, {"upperdir", dirs.upper}, {"workdir", dirs.work}};
    for (auto it = layers.rbegin(); it != layers.rend(); ++it) overlay["lowerdir"].push_back(store.layer_path(*it));
    if (!config.contains("root") || !config["root"].is_object()) return bad("config.json has no root");
    config["root"]["path"] = dirs.merged;
    if (!config.contains("annotations") || !config["annotations"].is_object()) config["annotations"] = json::object();
    config["annotations"]["io.kapsel.rootfs.overlay"] = overlay.dump();
    if (config.contains("mounts") && config["mounts"].is_array() && !old_dir.empty())
        for (auto& m : config["mounts"])
            if (m.is_object() && m.contains("source") && m["source"].is_string()) {
                std::string src = m["source"].get<std::string>();
                if (src.rfind(old_dir + "/", 0) == 0) m["source"] = dir + src.substr(old_dir.size());
            }
    // Its network, set up again here (none, private and host need nothing: CRIU makes
    // the private ones' namespaces itself).
    std::string mode = network_mode(meta);
    if (mode != "none" && mode != "private" && mode != "host" && !mode.empty()) {
        NetworkSetup net = KAPSEL_TRY_CTX(attach_again(g, store, id, text_of(meta, "name", id), config, source_network, dir),
                                          "import " + file);
        // Only now is the network this import's to take down again (the same id's,
        // before, would be another store's container's).
        undo.id = id;
        undo.network = true;
        meta["network"] = net.summary;
        KAPSEL_TRY(write_meta(store, id, meta));
        if (config.contains("linux") && config["linux"].is_object() && config["linux"].contains("namespaces") &&
            config["linux"]["namespaces"].is_array())
            for (auto& ns : config["linux"]["namespaces"])
                if (text_of(ns, "type") == "network") ns["path"] = net.spec_network.substr(3);
    }
    KAPSEL_TRY(fs::write_file_atomic(dir + "/config.json", config.dump(1), 0600));
    shared = {};
    undo.armed = false;
    // Restored detached under its monitor; a failure takes the container away again.
    auto rc = restore_container(g, id, std::move(r));
    if (!rc) {
        (void)remove_container(g, id, true);
        return rc.error();
    }
    return id;
}

}  // namespace kapsel::runtime
