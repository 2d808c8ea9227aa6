// The store's check, prune and rmi clean-up.
#include "image/gc.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "image/digest.hpp"
#include "image/filestore.hpp"
#include "image/manifest.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::image {
namespace {

bool is_hex64(std::string_view s) {
    return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// The names in a directory, sorted (so reports are stable); empty when it is missing.
std::vector<std::string> list_dir(const std::string& path) {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(path.c_str())) {
        while (dirent* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n != "." && n != "..") out.push_back(n);
        }
        ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

Result<std::string> fd_digest(int fd, const std::string& path) {
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    Sha256 h;
    std::vector<char> buf(1 << 20);
    while (true) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("read " + path);
        }
        if (n == 0) break;
        h.update(buf.data(), static_cast<size_t>(n));
    }
    return h.digest();
}

Result<std::string> file_digest(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return sys_error("open " + path);
    return fd_digest(fd.get(), path);
}

// What is wrong with a stored file ("" when nothing): its content against the digest
// its name states, and everything else the inode carries against the rest of the name.
std::string stored_file_problem(const std::string& path, const FileKey& want) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return sys_error("open " + path).message;
    auto digest = fd_digest(fd.get(), path);
    if (!digest) return digest.error().message;
    if (*digest != "sha256:" + want.content) return "its content does not match its digest";
    auto have = key_of(fd.get(), want.content, path);
    if (!have) return have.error().message;
    if (have->mode != want.mode || have->uid != want.uid || have->gid != want.gid)
        return "its mode or owner does not match its name";
    if (have->mtime != want.mtime) return "its mtime does not match its name";
    if (have->xattrs != want.xattrs) return "its xattrs do not match its name";
    return "";
}

// Removes a file or tree; returns the disk space given back: the blocks of every
// inode whose last link went (a layer's files are links into files/, so removing a
// layer frees little until the file scan removes what it alone used).
uint64_t remove_counting(int dirfd, const std::string& name) {
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return 0;
    uint64_t freed = 0;
    if (S_ISDIR(st.st_mode)) {
        unique_fd sub(
            ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub) {
            std::vector<std::string> names;
            if (DIR* d = ::fdopendir(::dup(sub.get()))) {
                while (dirent* e = ::readdir(d)) {
                    std::string n = e->d_name;
                    if (n != "." && n != "..") names.push_back(n);
                }
                ::closedir(d);
            }
            for (auto& n : names) freed += remove_counting(sub.get(), n);
        }
        if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) == 0)
            freed += static_cast<uint64_t>(st.st_blocks) * 512;
        return freed;
    }
    if (::unlinkat(dirfd, name.c_str(), 0) == 0 && st.st_nlink == 1)
        freed += static_cast<uint64_t>(st.st_blocks) * 512;
    return freed;
}

uint64_t remove_path(const std::string& path) {
    return remove_counting(AT_FDCWD, path);
}

// Visits every entry below `dir` (not following symlinks).
void walk(const std::string& dir,
          const std::function<void(const std::string&, const struct stat&)>& fn) {
    for (auto& n : list_dir(dir)) {
        std::string p = dir + "/" + n;
        struct stat st;
        if (::lstat(p.c_str(), &st) < 0) continue;
        fn(p, st);
        if (S_ISDIR(st.st_mode)) walk(p, fn);
    }
}

// What the index and the containers hold on to.
struct Refs {
    std::set<std::string> blobs, layers;
};

// The layer blob digests of an image, from its manifest (verified), or failing
// that from its layers' markers.
std::vector<std::string> layer_blobs(const Store& store, const ImageRecord& rec) {
    std::vector<std::string> out;
    if (auto text = store.read_blob(rec.manifest))
        if (auto m = parse_manifest(*text)) {
            for (auto& l : m->layers) out.push_back(l.digest);
            return out;
        }
    for (auto& l : rec.layers)
        if (auto text = fs::read_file(store.layer_marker(l))) {
            auto j = nlohmann::json::parse(*text, nullptr, false);
            if (j.is_object() && j.value("blob", "") != "") out.push_back(j.value("blob", ""));
        }
    return out;
}

Refs referenced(const Store& store, const std::vector<ImageRecord>& images,
                const std::vector<ContainerRef>& containers) {
    Refs r;
    for (auto& img : images) {
        r.blobs.insert(img.manifest);
        r.blobs.insert(img.id);
        for (auto& b : layer_blobs(store, img)) r.blobs.insert(b);
        r.layers.insert(img.layers.begin(), img.layers.end());
    }
    for (auto& c : containers) r.layers.insert(c.layers.begin(), c.layers.end());
    return r;
}

// Marker first: from then on the layer is not there, whatever remains of its
// directory (moved to tmp/ and removed; a kill meanwhile leaves it to prune).
uint64_t remove_layer(Store& store, const std::string& diff_id) {
    uint64_t freed = 0;
    std::string marker = store.layer_marker(diff_id);
    struct stat st;
    if (::lstat(marker.c_str(), &st) == 0 && ::unlink(marker.c_str()) == 0)
        freed += static_cast<uint64_t>(st.st_blocks) * 512;
    std::string dir = store.layer_path(diff_id);
    if (auto aside = store.make_temp("gone")) {
        if (::rename(dir.c_str(), (*aside + "/layer").c_str()) == 0)
            return freed + remove_path(*aside);
        (void)fs::remove_tree(*aside);
    }
    return freed + remove_path(dir);
}

// Stored files that no layer links to any more (link count 1: only files/ has them).
uint64_t remove_unlinked_files(Store& store, size_t* count) {
    uint64_t freed = 0;
    std::string files = store.root() + "/files";
    for (auto& sub : list_dir(files)) {
        std::string d = files + "/" + sub;
        for (auto& n : list_dir(d)) {
            std::string p = d + "/" + n;
            struct stat st;
            if (::lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
                ::unlink(p.c_str()) == 0) {
                freed += static_cast<uint64_t>(st.st_blocks) * 512;
                ++*count;
            }
        }
        ::rmdir(d.c_str());  // only when empty
    }
    return freed;
}

// Unpacks a layer again from its blob (verified against both digests) and marks it.
Status reimport_layer(Store& store, const std::string& diff_id, const std::string& blob) {
    ::unlink(store.layer_marker(diff_id).c_str());
    std::string path = store.blob_path(blob);
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return sys_error("open " + path);
    FdReader r(fd.get(), path);
    KAPSEL_TRY(store.import_layer(r, blob, diff_id, /*keep_blob=*/false));
    KAPSEL_TRY(store.sync());
    return store.mark_layer_complete(diff_id, {{"diff_id", diff_id}, {"blob", blob}});
}

}  // namespace

std::string Finding::line() const {
    return object + ": " + problem + (prunable ? " (prune removes it)" : "");
}

std::string human_bytes(uint64_t b) {
    char buf[32];
    if (b >= 1000ull * 1000 * 1000)
        std::snprintf(buf, sizeof buf, "%.2f GB", static_cast<double>(b) / 1e9);
    else if (b >= 1000 * 1000)
        std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(b) / 1e6);
    else if (b >= 1000)
        std::snprintf(buf, sizeof buf, "%.1f kB", static_cast<double>(b) / 1e3);
    else
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
    return buf;
}

Result<CheckResult> check_store(Store& store, const std::vector<ContainerRef>& containers,
                                bool repair) {
    CheckResult out;
    auto report = [&](std::string object, std::string problem, bool prunable) {
        out.findings.push_back({std::move(object), std::move(problem), prunable});
    };
    const std::string& root = store.root();

    // Blobs: every one's content against its name.
    std::set<std::string> good_blobs;
    for (auto& n : list_dir(root + "/blobs/sha256")) {
        std::string p = root + "/blobs/sha256/" + n;
        if (!is_hex64(n)) {
            report("blobs/sha256/" + n, "not a blob (a leftover)", true);
            continue;
        }
        std::string digest = "sha256:" + n;
        auto d = file_digest(p);
        if (!d) {
            report("blob " + digest, d.error().message, false);
        } else if (*d != digest) {
            report("blob " + digest, "its content does not match its digest", false);
            if (repair && ::unlink(p.c_str()) == 0)
                out.repaired.push_back("removed the corrupt blob " + digest);
        } else {
            good_blobs.insert(digest);
        }
    }

    // Stored files: content and all inode metadata against the key their name states.
    std::set<std::pair<dev_t, ino_t>> bad_inodes, stored_inodes;
    size_t unused_files = 0;
    uint64_t unused_bytes = 0;
    for (auto& sub : list_dir(root + "/files")) {
        std::string d = root + "/files/" + sub;
        for (auto& n : list_dir(d)) {
            std::string p = d + "/" + n;
            std::string shown = "files/" + sub + "/" + n;
            struct stat st;
            auto key = parse_file_key(n);
            bool legacy = !key && is_legacy_file_key(n);
            if (::lstat(p.c_str(), &st) < 0 || !S_ISREG(st.st_mode) || (!key && !legacy) ||
                n.substr(0, 2) != sub) {
                report(shown, "not a stored file (a leftover)", true);
                continue;
            }
            stored_inodes.insert({st.st_dev, st.st_ino});
            // A name of the older form does not say all that its inode shares, so the
            // inode cannot be checked: its layers are unpacked again (--repair).
            std::string why = legacy ? "stored under an older name that does not state its mtime and xattrs"
                                     : stored_file_problem(p, *key);
            if (!why.empty()) {
                report(shown, why + " (the layers using it are damaged)", false);
                bad_inodes.insert({st.st_dev, st.st_ino});
                if (repair && ::unlink(p.c_str()) == 0)
                    out.repaired.push_back("removed the corrupt stored file " + shown);
                continue;
            }
            if (st.st_nlink == 1) {
                ++unused_files;
                unused_bytes += static_cast<uint64_t>(st.st_blocks) * 512;
            }
        }
    }
    // One line for them all: a load killed mid-layer leaves thousands.
    if (unused_files)
        report("files/", std::to_string(unused_files) + " stored files (" + human_bytes(unused_bytes) +
                             ") that no layer uses", true);

    // Layers holding a corrupt file are damaged too, and so are those holding a regular
    // file that is not in the file store (every layer file is a link to a stored one;
    // one that is not was replaced there as damaged, or put in behind the store's back).
    std::map<std::string, std::string> damaged_layers;  // diff id -> why
    for (auto& n : list_dir(root + "/layers"))
        if (is_hex64(n))
            walk(root + "/layers/" + n, [&](const std::string&, const struct stat& st) {
                if (!S_ISREG(st.st_mode) || damaged_layers.count("sha256:" + n)) return;
                if (bad_inodes.count({st.st_dev, st.st_ino}))
                    damaged_layers["sha256:" + n] = "holds a corrupt file";
                else if (!stored_inodes.count({st.st_dev, st.st_ino}))
                    damaged_layers["sha256:" + n] = "holds a file that is not in the file store";
            });

    // Images: manifest -> config and layer blobs -> layers.
    auto images = store.images();
    if (!images) {
        report("images.json", images.error().message, false);
        return out;
    }
    std::vector<ImageRecord> keep;
    bool index_changed = false;
    for (auto& img : *images) {
        std::string shown = "image " + (img.names.empty() ? img.id : img.names[0]);
        bool broken = false;  // cannot be mended: dropped from the index by --repair
        auto problem = [&](const std::string& what, bool fatal) {
            report(shown, what, false);
            broken = broken || fatal;
        };
        Manifest m;
        if (!good_blobs.count(img.manifest)) {
            problem("its manifest blob " + img.manifest + " is missing or corrupt", true);
        } else if (auto pm = parse_manifest(*store.read_blob(img.manifest)); !pm) {
            problem("its manifest is invalid: " + pm.error().message, true);
        } else {
            m = *pm;
            if (m.config.digest != img.id)
                problem("its manifest names the config " + m.config.digest + ", not its id", true);
        }
        if (!good_blobs.count(img.id)) {
            problem("its config blob " + img.id + " is missing or corrupt", true);
        } else if (auto cfg = parse_config(*store.read_blob(img.id)); !cfg) {
            problem("its config is invalid: " + cfg.error().message, true);
        } else if (cfg->diff_ids != img.layers) {
            problem("its config lists other layers than the index", true);
        }
        if (!broken && m.layers.size() != img.layers.size())
            problem("its manifest lists other layers than the index", true);
        for (size_t i = 0; !broken && i < img.layers.size(); ++i) {
            const std::string& diff = img.layers[i];
            const std::string& blob = m.layers[i].digest;
            bool blob_ok = good_blobs.count(blob) > 0;
            if (!blob_ok)
                problem("the blob " + blob + " of its layer " + diff + " is missing or corrupt",
                        false);
            std::string state;
            if (!fs::exists(store.layer_path(diff)))
                state = "is missing";
            else if (!fs::exists(store.layer_marker(diff)))
                state = "is incomplete (no marker)";
            else if (auto it = damaged_layers.find(diff); it != damaged_layers.end())
                state = it->second;
            if (state.empty()) continue;
            if (!repair) {
                problem("its layer " + diff + " " + state, false);
                continue;
            }
            if (!blob_ok) {
                problem("its layer " + diff + " " + state +
                            ", and cannot be unpacked again without its blob",
                        true);
                continue;
            }
            problem("its layer " + diff + " " + state, false);
            if (auto st = reimport_layer(store, diff, blob); !st) {
                problem("unpacking its layer " + diff + " again failed: " + st.error().message,
                        true);
                continue;
            }
            damaged_layers.erase(diff);
            out.repaired.push_back("unpacked the layer " + diff + " again from its blob");
        }
        if (broken && repair) {
            out.repaired.push_back("removed the " + shown +
                                   " from the index (pull or load it again)");
            index_changed = true;
            continue;
        }
        keep.push_back(img);
    }
    if (index_changed) KAPSEL_TRY(store.save_images(keep));

    // Containers: their image and layers.
    std::set<std::string> image_ids;
    for (auto& img : keep) image_ids.insert(img.id);
    for (auto& c : containers) {
        std::string shown =
            "container " + c.id.substr(0, 12) + (c.name.empty() ? "" : " (" + c.name + ")");
        if (!c.valid) {
            report("containers/" + c.id, "no readable container.json (an interrupted run)", true);
            continue;
        }
        if (!image_ids.count(c.image_id))
            report(shown, "its image " + c.image_id + " is not in the store", false);
        for (auto& l : c.layers)
            if (!store.has_layer(l))
                report(shown, "its layer " + l + " is missing or incomplete", false);
    }

    // What nothing references, and leftovers.
    Refs refs = referenced(store, keep, containers);
    for (auto& b : good_blobs)
        if (!refs.blobs.count(b) && fs::exists(store.blob_path(b)))
            report("blob " + b, "no image uses it", true);
    for (auto& n : list_dir(root + "/layers")) {
        if (n == "empty") continue;  // the lower directory of images without layers
        if (n.size() == 69 && n.compare(64, 5, ".json") == 0 && is_hex64(n.substr(0, 64))) {
            std::string diff = "sha256:" + n.substr(0, 64);
            auto text = fs::read_file(store.layer_marker(diff));
            auto j = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
            if (!j.is_object() || j.value("diff_id", "") != diff)
                report("layers/" + n, "an invalid layer marker", false);
            if (!fs::exists(store.layer_path(diff)))
                report("layers/" + n, "a marker without its layer", true);
            continue;
        }
        if (!is_hex64(n)) {
            report("layers/" + n, "not a layer (a leftover)", true);
            continue;
        }
        std::string diff = "sha256:" + n;
        if (refs.layers.count(diff)) continue;  // its image or container reported any problem
        if (!fs::exists(store.layer_marker(diff)))
            report("layer " + diff, "incomplete (an interrupted import)", true);
        else
            report("layer " + diff, "no image or container uses it", true);
    }
    for (auto& n : list_dir(root + "/tmp"))
        report("tmp/" + n, "left by an interrupted operation", true);
    for (auto& n : list_dir(root))
        if (n.find(".tmp") != std::string::npos) report(n, "a leftover temporary file", true);
    return out;
}

Result<Freed> prune_store(Store& store, const std::vector<ContainerRef>& containers) {
    Freed out;
    const std::string& root = store.root();
    // tmp/ first: a killed import's layer there still links stored files.
    for (auto& n : list_dir(root + "/tmp")) {
        out.bytes += remove_path(root + "/tmp/" + n);
        out.removed.push_back("removed tmp/" + n);
    }
    for (auto& n : list_dir(root))
        if (n.find(".tmp") != std::string::npos) {
            out.bytes += remove_path(root + "/" + n);
            out.removed.push_back("removed " + n);
        }
    auto images = KAPSEL_TRY(store.images());
    Refs refs = referenced(store, images, containers);
    for (auto& n : list_dir(root + "/blobs/sha256")) {
        std::string digest = "sha256:" + n;
        if (is_hex64(n) && refs.blobs.count(digest)) continue;
        out.bytes += remove_path(root + "/blobs/sha256/" + n);
        out.removed.push_back("removed blob " + (is_hex64(n) ? digest : "blobs/sha256/" + n));
    }
    for (auto& n : list_dir(root + "/layers")) {
        if (n == "empty") continue;
        std::string hex = n.size() == 69 && n.compare(64, 5, ".json") == 0 ? n.substr(0, 64) : n;
        if (!is_hex64(hex)) {
            out.bytes += remove_path(root + "/layers/" + n);
            out.removed.push_back("removed layers/" + n);
            continue;
        }
        std::string diff = "sha256:" + hex;
        if (hex != n) {  // a marker: goes with its layer, or alone when the layer is gone
            if (!fs::exists(store.layer_path(diff))) {
                out.bytes += remove_path(root + "/layers/" + n);
                out.removed.push_back("removed the marker of the missing layer " + diff);
            }
            continue;
        }
        if (refs.layers.count(diff)) continue;
        bool complete = fs::exists(store.layer_marker(diff));
        out.bytes += remove_layer(store, diff);
        out.removed.push_back(
            std::string(complete ? "removed layer " : "removed incomplete layer ") + diff);
    }
    size_t files = 0;
    out.bytes += remove_unlinked_files(store, &files);
    if (files)
        out.removed.push_back("removed " + std::to_string(files) + " stored files no layer uses");
    return out;
}

Result<Freed> remove_unused(Store& store, const std::vector<ContainerRef>& containers,
                            const std::vector<ImageRecord>& removed) {
    Freed out;
    auto images = KAPSEL_TRY(store.images());
    Refs refs = referenced(store, images, containers);
    std::set<std::string> blobs, layers;
    for (auto& img : removed) {
        blobs.insert(img.manifest);
        blobs.insert(img.id);
        for (auto& b : layer_blobs(store, img)) blobs.insert(b);
        layers.insert(img.layers.begin(), img.layers.end());
    }
    for (auto& b : blobs)
        if (valid_digest(b) && !refs.blobs.count(b) && fs::exists(store.blob_path(b))) {
            out.bytes += remove_path(store.blob_path(b));
            out.removed.push_back("removed blob " + b);
        }
    bool any_layer = false;
    for (auto& l : layers)
        if (valid_digest(l) && !refs.layers.count(l) &&
            (fs::exists(store.layer_path(l)) || fs::exists(store.layer_marker(l)))) {
            out.bytes += remove_layer(store, l);
            out.removed.push_back("removed layer " + l);
            any_layer = true;
        }
    if (any_layer) {
        size_t files = 0;
        out.bytes += remove_unlinked_files(store, &files);
        if (files)
            out.removed.push_back("removed " + std::to_string(files) +
                                  " stored files no layer uses");
    }
    return out;
}

}  // namespace kapsel::image
