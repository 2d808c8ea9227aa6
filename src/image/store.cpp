// The image store: blobs, the image index, temp space.
#include "image/store.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "image/digest.hpp"
#include "util/fs.hpp"
#include "util/proc.hpp"
#include "util/strings.hpp"

namespace kapsel::image {

std::string Store::default_root() {
    if (const char* e = ::getenv("KAPSEL_STORAGE"); e && *e) return e;
    if (!rootless()) return "/var/lib/kapsel";
    // podman's place for a user's store; a relative XDG_DATA_HOME is ignored, as the
    // XDG base directory specification says.
    if (const char* d = ::getenv("XDG_DATA_HOME"); d && *d == '/') return fs::join(d, "kapsel");
    const char* home = ::getenv("HOME");
    return fs::join(home && *home == '/' ? home : "/", ".local/share/kapsel");
}

Result<Store> Store::open(const std::string& root) {
    std::string r = fs::absolute(root);
    // Without root, a store is the caller's own or none: one owned by another user
    // (root's /var/lib/kapsel included) is refused before anything is written into it.
    // In the user's namespace (linux/user_session.hpp) the user is 0 and another user
    // is unmapped (65534), so the same comparison holds there.
    if (struct stat st; rootless() && ::stat(r.c_str(), &st) == 0 && st.st_uid != ::geteuid())
        return make_error("the image store " + r +
                          " belongs to another user: use a store of your own (--storage-root)");
    for (const char* sub : {"", "/blobs/sha256", "/layers", "/files", "/tmp", "/containers"})
        KAPSEL_TRY(fs::mkdir_p(r + sub, 0700));
    return Store(r);
}

std::string Store::blob_path(const std::string& digest) const { return root_ + "/blobs/sha256/" + digest_hex(digest); }
std::string Store::layer_path(const std::string& diff_id) const { return root_ + "/layers/" + digest_hex(diff_id); }

static Result<unique_fd> flock_file(const std::string& path, int op) {
    unique_fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) return sys_error("open " + path);
    while (::flock(fd.get(), op) < 0)
        if (errno != EINTR) return sys_error("lock " + path);
    return fd;
}

Result<unique_fd> Store::lock(bool exclusive) const { return flock_file(root_ + "/lock", exclusive ? LOCK_EX : LOCK_SH); }
Result<unique_fd> Store::lock_index() const { return flock_file(root_ + "/index.lock", LOCK_EX); }

bool Store::has_blob(const std::string& digest) const { return valid_digest(digest) && fs::exists(blob_path(digest)); }
std::string Store::layer_marker(const std::string& diff_id) const { return layer_path(diff_id) + ".json"; }
bool Store::has_layer(const std::string& diff_id) const {
    return valid_digest(diff_id) && fs::exists(layer_marker(diff_id)) && fs::exists(layer_path(diff_id));
}

Status Store::mark_layer_complete(const std::string& diff_id, const nlohmann::json& info) {
    if (!fs::exists(layer_path(diff_id))) return make_error("layer " + diff_id + " is not in the store");
    return write_file(layer_marker(diff_id), info.dump(), 0644);
}

Status Store::sync() {
    if (!dirty_) return {};
    unique_fd fd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return sys_error("open " + root_);
    if (::syncfs(fd.get()) < 0) return sys_error("sync the file system of " + root_);
    dirty_ = false;
    return {};
}

Result<std::string> Store::put_blob(std::string_view data, const std::string& expected) {
    std::string digest = sha256_digest(data);
    if (!expected.empty() && digest != expected)
        return make_error("blob digest mismatch: expected " + expected + ", got " + digest);
    if (has_blob(digest)) return digest;
    KAPSEL_TRY(write_file(blob_path(digest), data, 0644));
    dirty_ = true;
    return digest;
}

Result<std::string> Store::read_blob(const std::string& digest, size_t limit) const {
    if (!valid_digest(digest)) return make_error("invalid digest \"" + digest + "\"");
    std::string data = KAPSEL_TRY(fs::read_file(blob_path(digest)));
    if (data.size() > limit) return make_error("blob " + digest + " is too large for a manifest or config");
    // Verified on every read: a manifest or config that changed on disk is not trusted.
    if (sha256_digest(data) != digest) return make_error("blob " + digest + " is corrupt (its digest does not match)");
    return data;
}

Result<std::string> Store::make_temp(const std::string& what) const {
    std::string tmpl = root_ + "/tmp/" + what + ".XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back(0);
    if (!::mkdtemp(buf.data())) return sys_error("create a temporary directory in " + root_ + "/tmp");
    return std::string(buf.data());
}

Result<unique_fd> Store::make_temp_file(const std::string& what, std::string* path) const {
    std::string tmpl = root_ + "/tmp/" + what + ".XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back(0);
    unique_fd fd(::mkostemp(buf.data(), O_CLOEXEC));
    if (!fd) return sys_error("create a temporary file in " + root_ + "/tmp");
    *path = buf.data();
    return fd;
}

Status Store::write_file(const std::string& path, std::string_view data, int mode, bool durable) {
    std::string tmp;
    unique_fd fd = KAPSEL_TRY(make_temp_file(fs::basename(path), &tmp));
    struct Unlink {
        std::string p;
        ~Unlink() {
            if (!p.empty()) ::unlink(p.c_str());
        }
    } unlink_tmp{tmp};
    KAPSEL_TRY(fs::write_all(fd.get(), data, tmp));
    if (::fchmod(fd.get(), static_cast<mode_t>(mode)) < 0) return sys_error("chmod " + tmp);
    if (durable && ::fdatasync(fd.get()) < 0) return sys_error("sync " + tmp);
    if (::rename(tmp.c_str(), path.c_str()) < 0) return sys_error("rename " + tmp + " to " + path);
    unlink_tmp.p.clear();
    return {};
}

std::string normalize_reference(const std::string& ref) {
    std::string r = ref;
    // A digest reference keeps its digest; otherwise a missing tag is "latest".
    std::string name = r, suffix;
    if (auto at = r.find('@'); at != std::string::npos) {
        name = r.substr(0, at);
        suffix = r.substr(at);
    } else {
        auto slash = r.rfind('/');
        auto colon = r.rfind(':');
        if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) suffix = ":latest";
        else {
            name = r.substr(0, colon);
            suffix = r.substr(colon);
        }
    }
    // The first component is a registry when it has a dot, a port, or is localhost.
    auto first = name.substr(0, name.find('/'));
    bool has_registry = name.find('/') != std::string::npos &&
                        (first.find('.') != std::string::npos || first.find(':') != std::string::npos || first == "localhost");
    if (!has_registry) name = "docker.io/" + (name.find('/') == std::string::npos ? "library/" + name : name);
    return name + suffix;
}

std::string local_reference(const std::string& ref) {
    auto slash = ref.find('/');
    auto first = ref.substr(0, slash);
    bool has_registry = slash != std::string::npos &&
                        (first.find('.') != std::string::npos || first.find(':') != std::string::npos || first == "localhost");
    return normalize_reference(has_registry ? ref : "localhost/" + ref);
}

Result<std::vector<ImageRecord>> Store::images() const {
    std::vector<ImageRecord> out;
    auto text = fs::read_file(root_ + "/images.json");
    if (!text) {
        if (text.error().code == ENOENT) return out;
        return std::move(text).error();
    }
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_array()) return make_error(root_ + "/images.json is corrupt");
    // kapsel wrote it, but a damaged file must be an error, not an exception.
    auto str = [](const nlohmann::json& e, const char* k, std::string& out) {
        if (!e.contains(k)) return true;
        if (!e[k].is_string()) return false;
        out = e[k].get<std::string>();
        return true;
    };
    auto strs = [](const nlohmann::json& e, const char* k, std::vector<std::string>& out) {
        if (!e.contains(k)) return true;
        if (!e[k].is_array()) return false;
        for (auto& v : e[k]) {
            if (!v.is_string()) return false;
            out.push_back(v.get<std::string>());
        }
        return true;
    };
    for (size_t i = 0; i < j.size(); ++i) {
        auto& e = j[i];
        ImageRecord r;
        bool ok = e.is_object() && str(e, "id", r.id) && str(e, "manifest", r.manifest) &&
                  strs(e, "names", r.names) && strs(e, "layers", r.layers) &&
                  str(e, "created", r.created) &&
                  (!e.contains("size") || e["size"].is_number_unsigned());
        if (!ok) return make_error(root_ + "/images.json is corrupt (entry " + std::to_string(i) + ")");
        if (e.contains("size")) r.size = e["size"].get<uint64_t>();
        out.push_back(std::move(r));
    }
    return out;
}

Status Store::save_images(const std::vector<ImageRecord>& list) {
    nlohmann::json j = nlohmann::json::array();
    for (auto& r : list)
        j.push_back({{"id", r.id}, {"manifest", r.manifest}, {"names", r.names}, {"layers", r.layers},
                     {"created", r.created}, {"size", r.size}});
    // Durable: after a power cut the index is the old one or the new one, never empty.
    return write_file(root_ + "/images.json", j.dump(1), 0600, /*durable=*/true);
}

Status Store::add_image(const ImageRecord& rec) {
    auto list = KAPSEL_TRY(images());
    for (auto& r : list)
        std::erase_if(r.names, [&](const std::string& n) {
            return std::find(rec.names.begin(), rec.names.end(), n) != rec.names.end();
        });
    auto same = std::find_if(list.begin(), list.end(), [&](auto& r) { return r.id == rec.id; });
    if (same != list.end()) {
        for (auto& n : rec.names)
            if (std::find(same->names.begin(), same->names.end(), n) == same->names.end()) same->names.push_back(n);
        same->manifest = rec.manifest;
    } else {
        list.push_back(rec);
    }
    return save_images(list);
}

Result<std::pair<ImageRecord, std::string>> Store::match_image(const std::string& ref) const {
    auto list = KAPSEL_TRY(images());
    std::string norm = normalize_reference(ref);
    for (auto& r : list)
        for (auto& n : r.names)
            if (n == norm || n == ref) return std::pair{r, n};
    // "localhost/x" is also found as "x" when nothing else is called that.
    std::vector<std::pair<const ImageRecord*, std::string>> loose;
    for (auto& r : list)
        for (auto& n : r.names) {
            std::string short_name = n.substr(n.rfind('/') + 1);
            if (short_name == ref || short_name == ref + ":latest") loose.emplace_back(&r, n);
        }
    if (loose.size() == 1) return std::pair{*loose[0].first, loose[0].second};
    // An id or a manifest digest, or a prefix of either (as `kapsel images` shows ids).
    std::string id = ref.rfind("sha256:", 0) == 0 ? ref : "sha256:" + ref;
    std::vector<const ImageRecord*> by_id;
    bool hex = id.size() > 7 && id.find_first_not_of("0123456789abcdef", 7) == std::string::npos;
    if (hex && id.size() >= 13)
        for (auto& r : list)
            if (r.id.rfind(id, 0) == 0 || r.manifest.rfind(id, 0) == 0) by_id.push_back(&r);
    if (by_id.size() == 1) return std::pair{*by_id[0], std::string()};
    if (loose.size() > 1 || by_id.size() > 1) return make_error("image \"" + ref + "\" is ambiguous: give the full name");
    return Error{ENOENT, "image \"" + ref + "\" is not in the store (kapsel images lists them; kapsel pull or load adds one)"};
}

Result<ImageRecord> Store::find_image(const std::string& ref) const {
    auto m = KAPSEL_TRY(match_image(ref));
    return std::move(m.first);
}

}  // namespace kapsel::image
