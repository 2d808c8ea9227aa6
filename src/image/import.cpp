// Archives, OCI layouts and rootfs tars into the store.
#include "image/import.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <map>

#include "image/digest.hpp"
#include "image/distribution.hpp"
#include "image/progress.hpp"
#include "image/tar.hpp"
#include "oci/json_reader.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

namespace kapsel::image {
namespace {

using json = nlohmann::json;

std::string now_rfc3339() {
    time_t t = ::time(nullptr);
    tm tmv{};
    gmtime_r(&t, &tmv);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    return buf;
}

const char* layer_media_type(Compression c) {
    switch (c) {
        case Compression::gzip: return kMediaLayerGzip;
        case Compression::zstd: return kMediaLayerZstd;
        default: return kMediaLayer;
    }
}

// An archive entry holding a blob: "blobs/sha256/<hex>" -> "sha256:<hex>".
std::string digest_of_entry(const std::string& name) {
    std::string n = name.rfind("./", 0) == 0 ? name.substr(2) : name;
    if (n.rfind("blobs/sha256/", 0) != 0) return "";
    std::string d = "sha256:" + n.substr(13);
    return valid_digest(d) ? d : "";
}

std::string clean_entry(const std::string& name) {
    std::string n = name;
    while (n.rfind("./", 0) == 0) n = n.substr(2);
    return n;
}

// A layer is a tar (the "ustar" magic at offset 257), or gzip or zstd (their frame magic).
// Anything else in an archive is metadata (JSON) or not ours to understand.
bool looks_like_layer(const std::string& head) {
    auto starts = [&](std::string_view magic, size_t at = 0) {
        return head.size() >= at + magic.size() && std::string_view(head).substr(at, magic.size()) == magic;
    };
    return starts("ustar", 257) || starts("\x1f\x8b") || starts("\x28\xb5\x2f\xfd");
}

// "a/b/../c" -> "a/c": a link target relative to its entry, within the archive. A target
// that climbs out of the archive resolves to nothing (the lookup then fails by name).
std::string normalize_entry(const std::string& path) {
    std::vector<std::string> parts;
    size_t i = 0;
    while (i <= path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        std::string part = path.substr(i, j - i);
        if (part == "..") {
            if (parts.empty()) return "";
            parts.pop_back();
        } else if (!part.empty() && part != ".") {
            parts.push_back(part);
        }
        i = j + 1;
    }
    std::string out;
    for (auto& p : parts) out += (out.empty() ? "" : "/") + p;
    return out;
}

// One image of a docker archive's manifest.json:
// [{"Config": "x.json", "RepoTags": ["name:tag"], "Layers": ["y/layer.tar", ...]}]
struct DockerImage {
    std::string config;
    std::vector<std::string> repo_tags, layers;
};

Result<std::vector<DockerImage>> parse_docker_manifest(const std::string& text, const std::string& origin) {
    using R = oci::JsonReader;
    json list = KAPSEL_TRY(R::parse(text, origin));
    R r(origin);
    std::vector<DockerImage> out;
    if (!r.array(list, "")) return *r.error();
    if (list.empty()) return make_error(origin + ": lists no image");
    for (size_t i = 0; i < list.size() && !r.error(); ++i) {
        std::string p = R::index("", i);
        DockerImage img;
        if (!r.object(list[i], p)) break;
        r.req(list[i], "Config", p, img.config);
        r.opt(list[i], "RepoTags", p, img.repo_tags);
        r.opt(list[i], "Layers", p, img.layers);
        out.push_back(std::move(img));
    }
    if (r.error()) return *r.error();
    return out;
}

// An OCI layout's oci-layout file: {"imageLayoutVersion": "1.0.0"}.
Status check_oci_layout(const std::string& text, const std::string& origin) {
    using R = oci::JsonReader;
    json j = KAPSEL_TRY(R::parse(text, origin));
    R r(origin);
    std::string version;
    if (r.object(j, "")) r.req(j, "imageLayoutVersion", "", version);
    if (r.error()) return *r.error();
    return {};
}

// What load keeps in memory of an archive's metadata: all documents together, and one.
constexpr uint64_t kMetadataLimit = 64 << 20;
constexpr size_t kDocumentLimit = 16 << 20;
// What an entry kept costs beyond its name and content (map node, string headers),
// counted so that a million empty entries do not pass as nothing.
constexpr uint64_t kEntryCost = 256;

// The entries of an archive load may need as documents: a docker archive's
// manifest.json and configs (<id>.json, or blobs of an OCI layout inside it), an OCI
// archive's index.json, oci-layout and blobs (manifests, indexes, configs).
bool may_be_metadata(const std::string& name) {
    return name == "oci-layout" || !digest_of_entry(name).empty() ||
           (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0);
}

Error metadata_overflow(const std::string& where, const std::string& name) {
    return make_error(where + ": more than " + std::to_string(kMetadataLimit >> 20) +
                      " MiB of metadata (manifests, configs, links) by entry " + oci::JsonReader::quoted(name) +
                      ": not an image archive kapsel can load");
}

// The sizes of the documents kapsel reads whole (containerd's limit for manifests and
// indexes; Store::read_blob's for configs).
constexpr size_t kManifestLimit = 4 << 20;
constexpr size_t kConfigLimit = 16 << 20;

// A file of an OCI layout directory, which may have come from anywhere: resolved
// inside the layout (no symlink leads out of it, to /dev/zero or a secret, say),
// and only a regular file (no fifo to block on, no device).
Result<unique_fd> open_in_layout(int root, const std::string& dir, const std::string& name) {
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    unique_fd fd(static_cast<int>(::syscall(SYS_openat2, root, name.c_str(), &how, sizeof how)));
    if (!fd) return sys_error("open " + dir + "/" + name);
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) return sys_error("stat " + dir + "/" + name);
    if (!S_ISREG(st.st_mode)) return make_error(dir + "/" + name + " is not a regular file");
    return fd;
}

bool layout_has(int root, const char* name) {
    struct stat st {};
    return ::fstatat(root, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

Result<std::string> read_in_layout(int root, const std::string& dir, const std::string& name, size_t limit) {
    unique_fd fd = KAPSEL_TRY(open_in_layout(root, dir, name));
    FdReader r(fd.get(), dir + "/" + name);
    auto text = r.read_all(limit);
    if (!text) return std::move(text).error().context(dir + "/" + name);
    return text;
}

}  // namespace

Result<ImageRecord> register_image(Store& store, const std::string& config_text, const Manifest& manifest,
                                   const std::vector<std::string>& diff_ids, const std::vector<std::string>& names,
                                   uint64_t size) {
    // Names come from archives and layouts too: checked before anything is written.
    for (auto& n : names) KAPSEL_TRY(check_image_name(n));
    ImageConfig cfg = KAPSEL_TRY(parse_config(config_text));
    if (cfg.diff_ids != diff_ids) {
        for (size_t i = 0; i < std::max(cfg.diff_ids.size(), diff_ids.size()); ++i) {
            std::string want = i < cfg.diff_ids.size() ? cfg.diff_ids[i] : "(none)";
            std::string got = i < diff_ids.size() ? diff_ids[i] : "(none)";
            if (want != got)
                return make_error("image config lists layer " + std::to_string(i) + " as " + want + ", but the layer is " + got);
        }
    }
    if (manifest.layers.size() != diff_ids.size())
        return make_error("the manifest lists " + std::to_string(manifest.layers.size()) + " layers, the config " +
                          std::to_string(diff_ids.size()));
    std::string config_digest = KAPSEL_TRY(store.put_blob(config_text, manifest.config.digest));
    std::string manifest_text = manifest_json(manifest);
    std::string manifest_digest = KAPSEL_TRY(store.put_blob(manifest_text));
    // Every layer is in place with its blob (the caller's shared lock keeps rmi and
    // prune away). A layer's marker is written once its data is on disk: one syncfs
    // for the whole import, then the markers, then the index that names them.
    for (size_t i = 0; i < diff_ids.size(); ++i) {
        if (!fs::exists(store.layer_path(diff_ids[i]))) return make_error("layer " + diff_ids[i] + " is not in the store");
        if (!store.has_blob(manifest.layers[i].digest))
            return make_error("blob " + manifest.layers[i].digest + " of layer " + diff_ids[i] + " is not in the store");
        if (!store.has_layer(diff_ids[i])) store.set_dirty();  // maybe another import's data: sync it too
    }
    KAPSEL_TRY(store.sync());
    for (size_t i = 0; i < diff_ids.size(); ++i) {
        if (store.has_layer(diff_ids[i])) continue;
        const Descriptor& l = manifest.layers[i];
        KAPSEL_TRY(store.mark_layer_complete(
            diff_ids[i], {{"diff_id", diff_ids[i]}, {"blob", l.digest}, {"media_type", l.media_type}, {"blob_size", l.size}}));
    }
    ImageRecord rec;
    rec.id = config_digest;
    rec.manifest = manifest_digest;
    for (auto& n : names) rec.names.push_back(normalize_reference(n));
    rec.layers = diff_ids;
    rec.created = cfg.created.empty() ? now_rfc3339() : cfg.created;
    rec.size = size;
    auto index = KAPSEL_TRY(store.lock_index());
    KAPSEL_TRY(store.add_image(rec));
    return rec;
}

Result<std::vector<ImageRecord>> load_archive(Store& store, const std::string& path, const ImportOptions& o) {
    // "-": the archive arrives on stdin (kapsel load -i - < x.tar, or from a pipe).
    bool from_stdin = path == "-";
    unique_fd fd(from_stdin ? ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return sys_error(from_stdin ? std::string("read stdin") : "open " + path);
    const std::string where = from_stdin ? "stdin" : path;
    auto shared = KAPSEL_TRY(store.lock(false));  // keeps prune away while we import
    FdReader file(fd.get(), where);
    Decompressor outer(file);  // a compressed archive (.tar.gz) is accepted too
    TarReader tar(outer);
    std::map<std::string, std::string> docs;         // metadata entries by name ...
    uint64_t kept = 0;                               // ... and their bytes, links' too
    std::map<std::string, LayerResult> by_entry;     // layer entries by name
    std::map<std::string, LayerResult> by_digest;    // ... and by blob digest
    TarEntry e;
    int layer_no = 0;
    bool progress = progress_wanted(o.quiet);
    // Writers may store an entry once and link to it: skopeo writes <id>/layer.tar as a
    // symlink to ../<digest>.tar. Links are resolved after the walk, by entry name.
    std::map<std::string, std::string> links;
    while (KAPSEL_TRY(tar.next(e))) {
        if (e.type == EntryType::symlink || e.type == EntryType::hardlink) {
            std::string name = clean_entry(e.path);
            std::string target = e.link;
            if (e.type == EntryType::symlink && !target.empty() && target[0] != '/') {
                auto slash = name.rfind('/');
                target = (slash == std::string::npos ? "" : name.substr(0, slash + 1)) + target;
            }
            // Counted with the metadata: an archive of nothing but links is bounded too.
            kept += kEntryCost + name.size() + target.size();
            if (kept > kMetadataLimit) return metadata_overflow(where, name);
            links[name] = normalize_entry(target);
            continue;
        }
        if (e.type != EntryType::file) continue;
        std::string name = clean_entry(e.path);
        // For messages: the archive's name for the entry, escaped when it is not plain.
        const std::string shown_name = where + ": " + oci::JsonReader::key_shown(name);
        // Blobs of an OCI layout inside the archive are JSON documents or layers, told
        // apart by their first 512 bytes (a tar header, or gzip/zstd magic); a docker
        // archive's layers are <id>/layer.tar or <digest>.tar. The documents load may
        // need are kept in memory, kMetadataLimit in all (a crafted archive of many
        // small entries once took 940 MB); anything else (VERSION, <id>/json,
        // repositories, what kapsel does not know) is skipped unread.
        bool layer_name = name.size() >= 9 && name.compare(name.size() - 9, 9, "layer.tar") == 0;
        std::string head;
        head.resize(std::min<uint64_t>(e.size, 512));
        KAPSEL_TRY_CTX(tar.body().read_full(head.data(), head.size(), "the entry"), shown_name);
        if (!layer_name && !looks_like_layer(head)) {
            if (!may_be_metadata(name) || e.size > kDocumentLimit) continue;
            if ((kept += kEntryCost + name.size() + e.size) > kMetadataLimit) return metadata_overflow(where, name);
            std::string rest = KAPSEL_TRY_CTX(tar.body().read_all(kDocumentLimit), shown_name);
            docs[name] = head + rest;
            continue;
        }
        PrefixReader body(head, tar.body());
        ProgressReader shown(body, "layer " + std::to_string(++layer_no), progress, e.size);
        auto res = store.import_layer(shown, digest_of_entry(name));
        if (!res) return std::move(res).error().context(shown_name);
        by_entry[name] = *res;
        by_digest[res->blob_digest] = *res;
    }

    for (auto& [name, target] : links)
        if (auto it = by_entry.find(target); it != by_entry.end()) by_entry.emplace(name, it->second);
    // A document under its own name or a link's; not copied per link (a thousand links
    // to one 16 MiB entry would be 16 GB).
    auto doc = [&](const std::string& name) -> const std::string* {
        auto d = docs.find(name);
        if (d == docs.end())
            if (auto l = links.find(name); l != links.end()) d = docs.find(l->second);
        return d == docs.end() ? nullptr : &d->second;
    };

    std::vector<ImageRecord> out;
    if (const std::string* docker_manifest = doc("manifest.json")) {
        // docker save
        auto list = KAPSEL_TRY(parse_docker_manifest(*docker_manifest, where + ": manifest.json"));
        // Every name first: an archive with one bad name adds no image.
        for (auto& item : list)
            for (auto& n : item.repo_tags) KAPSEL_TRY_CTX(check_image_name(n), where + ": manifest.json");
        for (auto& item : list) {
            std::string cfg_name = clean_entry(item.config);
            const std::string* cfg = doc(cfg_name);
            if (!cfg) return make_error(where + ": image config " + oci::JsonReader::quoted(cfg_name) + " is missing");
            const std::string& cfg_text = *cfg;
            KAPSEL_TRY(parse_config(cfg_text, where + ": " + oci::JsonReader::key_shown(cfg_name)));
            Manifest m;
            m.media_type = kMediaManifest;
            m.config = {kMediaConfig, sha256_digest(cfg_text), cfg_text.size(), {}, "", "", ""};
            std::vector<std::string> diff_ids;
            uint64_t size = 0;
            for (auto& l : item.layers) {
                std::string ln = clean_entry(l);
                auto it = by_entry.find(ln);
                if (it == by_entry.end())
                    return make_error(where + ": layer " + oci::JsonReader::quoted(ln) + " is missing from the archive");
                m.layers.push_back({layer_media_type(it->second.compression), it->second.blob_digest, it->second.blob_size, {}, "", "", ""});
                diff_ids.push_back(it->second.diff_id);
                size += it->second.unpacked_size;
            }
            std::vector<std::string> names = item.repo_tags;
            names.insert(names.end(), o.names.begin(), o.names.end());
            out.push_back(KAPSEL_TRY_CTX(register_image(store, cfg_text, m, diff_ids, names, size), where));
        }
        return out;
    }
    const std::string* index = doc("index.json");
    if (!index) return make_error(where + ": neither a docker archive (manifest.json) nor an OCI archive (index.json)");
    if (const std::string* layout = doc("oci-layout")) KAPSEL_TRY(check_oci_layout(*layout, where + ": oci-layout"));
    Index idx = KAPSEL_TRY(parse_index(*index, where + ": index.json"));
    auto blob_text = [&](const std::string& digest) -> Result<std::string> {
        const std::string* text = doc("blobs/sha256/" + digest_hex(digest));
        if (!text) return make_error(where + ": blob " + digest + " is missing");
        if (sha256_digest(*text) != digest) return make_error(where + ": blob " + digest + " is corrupt");
        return *text;
    };
    // An image's name is its full reference in ref.name (a bare tag names nothing on
    // its own) or containerd's annotation; every name is checked first, so that an
    // archive with one bad name adds no image.
    auto names_of = [&](const Descriptor& d) {
        std::vector<std::string> names;
        if (auto ref = d.annotations.find("org.opencontainers.image.ref.name"); ref != d.annotations.end())
            if (ref->second.find('/') != std::string::npos || ref->second.find(':') != std::string::npos)
                names.push_back(ref->second);
        if (auto ref = d.annotations.find("io.containerd.image.name"); ref != d.annotations.end())
            names.push_back(ref->second);
        return names;
    };
    for (auto& d : idx.manifests)
        for (auto& n : names_of(d)) KAPSEL_TRY_CTX(check_image_name(n), where + ": index.json");
    for (auto& d : idx.manifests) {
        Descriptor md = d;
        if (is_index_media_type(d.media_type)) {
            // A multi-platform image: the host's platform.
            Index inner = KAPSEL_TRY(parse_index(KAPSEL_TRY(blob_text(d.digest)), where + ": index " + d.digest));
            bool found = false;
            for (auto& c : inner.manifests)
                if (c.os == "linux" && c.architecture == host_architecture()) md = c, found = true;
            if (!found) return make_error(where + ": no linux/" + host_architecture() + " image in the index");
        }
        Manifest m = KAPSEL_TRY(parse_manifest(KAPSEL_TRY(blob_text(md.digest)), where + ": manifest " + md.digest));
        std::string cfg_text = KAPSEL_TRY(blob_text(m.config.digest));
        KAPSEL_TRY(parse_config(cfg_text, where + ": config " + m.config.digest));
        std::vector<std::string> diff_ids;
        uint64_t size = 0;
        for (auto& l : m.layers) {
            auto it = by_digest.find(l.digest);
            if (it == by_digest.end()) return make_error(where + ": layer " + l.digest + " is missing from the archive");
            diff_ids.push_back(it->second.diff_id);
            size += it->second.unpacked_size;
        }
        std::vector<std::string> names = o.names;
        for (auto& n : names_of(d)) names.push_back(n);
        out.push_back(KAPSEL_TRY_CTX(register_image(store, cfg_text, m, diff_ids, names, size), where));
    }
    return out;
}

Result<ImageRecord> pull_layout(Store& store, const std::string& dir, const std::string& tag, const ImportOptions& o) {
    unique_fd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) return sys_error("open " + dir);
    if (!layout_has(root.get(), "index.json")) return make_error(dir + " is not an OCI image layout (no index.json)");
    if (layout_has(root.get(), "oci-layout"))
        KAPSEL_TRY(check_oci_layout(KAPSEL_TRY(read_in_layout(root.get(), dir, "oci-layout", kManifestLimit)),
                                    dir + "/oci-layout"));
    Index idx = KAPSEL_TRY(parse_index(KAPSEL_TRY(read_in_layout(root.get(), dir, "index.json", kManifestLimit)),
                                       dir + "/index.json"));
    auto blob = [&](const std::string& digest, size_t limit) -> Result<std::string> {
        std::string name = "blobs/sha256/" + digest_hex(digest);
        std::string text = KAPSEL_TRY(read_in_layout(root.get(), dir, name, limit));
        if (sha256_digest(text) != digest) return make_error(dir + "/" + name + " is corrupt (its digest does not match)");
        return text;
    };
    const Descriptor* chosen = nullptr;
    for (auto& d : idx.manifests) {
        auto ref = d.annotations.find("org.opencontainers.image.ref.name");
        std::string name = ref == d.annotations.end() ? "" : ref->second;
        if (tag.empty() ? idx.manifests.size() == 1 : (name == tag || name.substr(name.rfind(':') + 1) == tag)) chosen = &d;
    }
    if (!chosen)
        return make_error(tag.empty() ? dir + " holds several images: name one with oci:DIR:TAG"
                                      : "no image tagged \"" + tag + "\" in " + dir);
    // Its name: ref.name when it is a full reference, else localhost/<dir>:<ref.name>.
    // Checked before any layer is read.
    std::vector<std::string> names = o.names;
    if (auto ref = chosen->annotations.find("org.opencontainers.image.ref.name"); ref != chosen->annotations.end())
        names.push_back(ref->second.find('/') != std::string::npos ? ref->second : "localhost/" + fs::basename(fs::clean(dir)) + ":" + ref->second);
    for (auto& n : names) KAPSEL_TRY_CTX(check_image_name(n), dir + "/index.json");
    auto shared = KAPSEL_TRY(store.lock(false));
    Descriptor md = *chosen;
    if (is_index_media_type(md.media_type)) {
        Index inner = KAPSEL_TRY(parse_index(KAPSEL_TRY(blob(md.digest, kManifestLimit)), dir + ": index " + md.digest));
        bool found = false;
        for (auto& c : inner.manifests)
            if (c.os == "linux" && c.architecture == host_architecture()) md = c, found = true;
        if (!found) return make_error(dir + ": no linux/" + host_architecture() + " image in the index");
    }
    Manifest m = KAPSEL_TRY(parse_manifest(KAPSEL_TRY(blob(md.digest, kManifestLimit)), dir + ": manifest " + md.digest));
    std::string cfg_text = KAPSEL_TRY(blob(m.config.digest, kConfigLimit));
    ImageConfig cfg = KAPSEL_TRY(parse_config(cfg_text, dir + ": config " + m.config.digest));
    std::vector<std::string> diff_ids;
    uint64_t size = 0;
    bool progress = progress_wanted(o.quiet);
    for (size_t i = 0; i < m.layers.size(); ++i) {
        auto& l = m.layers[i];
        std::string expect_diff = i < cfg.diff_ids.size() ? cfg.diff_ids[i] : "";
        if (!expect_diff.empty() && store.has_layer(expect_diff) && store.has_blob(l.digest)) {
            diff_ids.push_back(expect_diff);  // already here: nothing to read
            continue;
        }
        std::string p = dir + "/blobs/sha256/" + digest_hex(l.digest);
        unique_fd fd = KAPSEL_TRY(open_in_layout(root.get(), dir, "blobs/sha256/" + digest_hex(l.digest)));
        FdReader r(fd.get(), p);
        ProgressReader shown(r, "layer " + std::to_string(i + 1) + "/" + std::to_string(m.layers.size()), progress,
                             l.size);
        auto res = store.import_layer(shown, l.digest, expect_diff);
        if (!res) return std::move(res).error().context(p);
        diff_ids.push_back(res->diff_id);
        size += res->unpacked_size;
    }
    return register_image(store, cfg_text, m, diff_ids, names, size);
}

Result<ImageRecord> import_rootfs(Store& store, const std::string& path, const std::string& name, const ImportOptions& o) {
    KAPSEL_TRY(check_image_name(name));
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return sys_error("open " + path);
    auto shared = KAPSEL_TRY(store.lock(false));
    FdReader r(fd.get(), path);
    struct stat st {};
    ::fstat(fd.get(), &st);
    ProgressReader shown(r, "rootfs", progress_wanted(o.quiet), S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0);
    LayerResult res = KAPSEL_TRY_CTX(store.import_layer(shown), path);
    nlohmann::json cfg = {
        {"created", now_rfc3339()}, {"architecture", host_architecture()}, {"os", "linux"},
        {"config", {{"Env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}}},
        {"rootfs", {{"type", "layers"}, {"diff_ids", {res.diff_id}}}},
        {"history", {{{"created", now_rfc3339()}, {"created_by", "kapsel import " + fs::basename(path)}}}},
    };
    // replace: the file name may be any bytes, and dump() throws on invalid UTF-8.
    std::string cfg_text = cfg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    Manifest m;
    m.media_type = kMediaManifest;
    m.config = {kMediaConfig, sha256_digest(cfg_text), cfg_text.size(), {}, "", "", ""};
    m.layers.push_back({layer_media_type(res.compression), res.blob_digest, res.blob_size, {}, "", "", ""});
    std::vector<std::string> names = o.names;
    names.push_back(local_reference(name));
    return register_image(store, cfg_text, m, {res.diff_id}, names, res.unpacked_size);
}

}  // namespace kapsel::image
