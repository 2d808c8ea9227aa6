// Importing one layer: the stream is stored as a blob and hashed as given (both
// on a second thread), hashed again uncompressed when it is compressed (the diff
// id), and unpacked in the same pass. Every path is
// resolved beneath the layer's own directory (openat2 RESOLVE_BENEATH), so no
// entry can write outside it, whatever the archive says. Regular files go to the
// deduplicating file store and are hardlinked into the layer. OCI whiteouts
// become overlayfs whiteouts, ready to be a lowerdir.
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

#include "image/digest.hpp"
#include "image/filestore.hpp"
#include "image/space.hpp"
#include "image/store.hpp"
#include "image/tar.hpp"
#include "image/tree.hpp"
#include "util/fs.hpp"
#include "util/proc.hpp"
#include "util/strings.hpp"

namespace kapsel::image {
namespace {

using fs::openat2;

constexpr uint64_t kBeneath = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;

// "./usr/bin/../x" -> error; "./usr/bin/sh" -> {"usr","bin","sh"}. Absolute paths
// and ".." are refused outright: no layer needs them, hostile ones use them.
Result<std::vector<std::string>> entry_components(const std::string& path, const char* what) {
    if (!path.empty() && path.front() == '/')
        return make_error("layer " + std::string(what) + " \"" + path + "\" is an absolute path");
    std::vector<std::string> out;
    for (auto& c : split(path, '/')) {
        if (c.empty() || c == ".") continue;
        if (c == "..") return make_error("layer " + std::string(what) + " \"" + path + "\" contains \"..\"");
        out.push_back(c);
    }
    return out;
}

std::string join_components(const std::vector<std::string>& c, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) out += (i ? "/" : "") + c[i];
    return out.empty() ? "." : out;
}

// chown's failure. In a user's namespace (linux/user_session.hpp) EINVAL means an owner
// the namespace does not map: the user has no subordinate ids (or too few).
Error chown_error(const TarEntry& e) {
    if (errno == EINVAL && in_user_namespace())
        return make_error("layer entry \"" + e.path + "\" is owned by " + std::to_string(e.uid) + ":" +
                          std::to_string(e.gid) +
                          ", which your user namespace does not map: /etc/subuid and /etc/subgid must "
                          "give you subordinate ids");
    return sys_error("chown " + e.path);
}

// A layer's own overlay xattrs would steer overlayfs (tree.hpp): dropped.
void drop_overlay_xattrs(TarEntry& e) {
    std::erase_if(e.xattrs, [](const auto& kv) { return is_overlay_xattr(kv.first); });
}

// A directory's mode and times wait until its layer is done (creating its entries
// changes its mtime). They are kept for the directory the entry made, known by its
// inode: an entry that removes that directory drops them, and at the end they go only
// to the same inode, through an fd, never through a name that may have become a symlink.
struct DirMeta {
    std::string path;  // to find it again beneath the layer's root
    dev_t dev;
    ino_t ino;
    uint32_t mode;
    int64_t mtime;
    bool dropped = false;
};

class Unpacker {
public:
    Unpacker(Store& store, int root, std::string root_path, SpaceGuard& space)
        : store_(store), root_(root), root_path_(std::move(root_path)), space_(space) {}

    Status entry(const TarEntry& e, Reader& body, LayerResult& res);
    Status finish();

private:
    Result<unique_fd> parent_of(const std::vector<std::string>& comps, const std::string& shown);
    Status remove_existing(int dir, const std::string& name);
    Status directory(int parent, const std::string& name, const std::string& path, const TarEntry& e);
    Status special_file(int parent, const std::string& name, const TarEntry& e);
    Status symlink_meta(int parent, const std::string& name, const TarEntry& e);
    Result<std::string> store_file(const TarEntry& e, Reader& body, LayerResult& res);
    Result<unique_fd> content_file(std::string& unlink_after);
    Result<bool> link_content(int fd, const std::string& named, const std::string& final_path);

    Store& store_;
    int root_;
    std::string root_path_;
    SpaceGuard& space_;
    std::vector<DirMeta> dirs_;
    std::map<std::pair<dev_t, ino_t>, size_t> dir_index_;  // inode -> its entry in dirs_
    bool no_tmpfile_ = false;  // the store's file system has no O_TMPFILE
};

Result<unique_fd> Unpacker::parent_of(const std::vector<std::string>& comps, const std::string& shown) {
    std::string parent = join_components(comps, comps.size() - 1);
    auto fd = openat2(root_, parent, O_PATH | O_DIRECTORY, kBeneath);
    if (fd) return fd;
    if (fd.error().code == EXDEV)
        return make_error("layer entry \"" + shown + "\" goes through a symlink that leads outside the layer");
    if (fd.error().code != ENOENT) return std::move(fd).error().context("layer entry \"" + shown + "\"");
    // Parents the archive did not list: created on the way, as tar does.
    unique_fd cur = KAPSEL_TRY(openat2(root_, ".", O_PATH | O_DIRECTORY, kBeneath));
    for (size_t i = 0; i + 1 < comps.size(); ++i) {
        std::string sub = join_components(comps, i + 1);
        auto next = openat2(root_, sub, O_PATH | O_DIRECTORY, kBeneath);
        if (!next && next.error().code == ENOENT) {
            if (::mkdirat(cur.get(), comps[i].c_str(), 0755) < 0 && errno != EEXIST)
                return sys_error("create directory " + sub);
            next = openat2(root_, sub, O_PATH | O_DIRECTORY, kBeneath);
        }
        if (!next) {
            if (next.error().code == EXDEV)
                return make_error("layer entry \"" + shown + "\" goes through a symlink that leads outside the layer");
            return std::move(next).error().context("layer entry \"" + shown + "\"");
        }
        cur = std::move(*next);
    }
    return cur;
}

Status Unpacker::remove_existing(int dir, const std::string& name) {
    struct stat st;
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return {};
    // A later entry replaces an earlier one of the same name, except that a
    // directory stays a directory (tar semantics).
    if (S_ISDIR(st.st_mode)) {
        if (::unlinkat(dir, name.c_str(), AT_REMOVEDIR) == 0) {
            // What was pending for the removed directory dies with it: applied later it
            // would reach whatever took its name (issue 12: a symlink to a host file).
            if (auto it = dir_index_.find({st.st_dev, st.st_ino}); it != dir_index_.end()) {
                dirs_[it->second].dropped = true;
                dir_index_.erase(it);
            }
            return {};
        }
        if (errno == ENOTEMPTY) return {};
        return sys_error("replace " + name);
    }
    if (::unlinkat(dir, name.c_str(), 0) < 0) return sys_error("replace " + name);
    return {};
}

// Owner and xattrs now, through an fd of the directory itself (O_NOFOLLOW: never a
// symlink's target); mode and times at the end of the layer (finish).
Status Unpacker::directory(int parent, const std::string& name, const std::string& path, const TarEntry& e) {
    unique_fd fd = KAPSEL_TRY_CTX(openat2(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, kBeneath),
                                  "layer entry \"" + e.path + "\"");
    struct stat st;
    if (::fstat(fd.get(), &st) < 0) return sys_error("stat " + e.path);
    if (::fchown(fd.get(), e.uid, e.gid) < 0) return chown_error(e);
    for (auto& [k, v] : e.xattrs)
        if (::fsetxattr(fd.get(), k.c_str(), v.data(), v.size(), 0) < 0)
            return sys_error("set xattr " + k + " on " + e.path);
    // The same directory again: the later entry decides, as tar does.
    DirMeta m{path, st.st_dev, st.st_ino, e.mode, e.mtime};
    if (auto it = dir_index_.find({st.st_dev, st.st_ino}); it != dir_index_.end()) dirs_[it->second].dropped = true;
    dir_index_[{st.st_dev, st.st_ino}] = dirs_.size();
    dirs_.push_back(std::move(m));
    return {};
}

// A device node or fifo must not be opened for real (opening a device has effects, a
// fifo blocks), so its metadata goes through its O_PATH fd: fchownat with AT_EMPTY_PATH,
// and for mode and xattrs the fd's /proc/self/fd link, which leads to the node itself.
// That link would lead on to a symlink's target, so the node is checked to be none.
Status Unpacker::special_file(int parent, const std::string& name, const TarEntry& e) {
    unique_fd fd = KAPSEL_TRY(openat2(parent, name, O_PATH | O_NOFOLLOW, kBeneath));
    struct stat st;
    if (::fstat(fd.get(), &st) < 0) return sys_error("stat " + e.path);
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode) && !S_ISFIFO(st.st_mode))
        return make_error("layer entry \"" + e.path + "\" changed while it was unpacked");
    if (::fchownat(fd.get(), "", e.uid, e.gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) return chown_error(e);
    std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
    // chown clears setuid/setgid bits, so the mode comes after it.
    if (::chmod(proc.c_str(), e.mode & 07777) < 0) return sys_error("chmod " + e.path);
    for (auto& [k, v] : e.xattrs)
        if (::setxattr(proc.c_str(), k.c_str(), v.data(), v.size(), 0) < 0)
            return sys_error("set xattr " + k + " on " + e.path);
    timespec t[2] = {{e.mtime, 0}, {e.mtime, 0}};
    if (::utimensat(AT_FDCWD, proc.c_str(), t, 0) < 0) return sys_error("set the times of " + e.path);
    return {};
}

// A symlink's own owner and times (AT_SYMLINK_NOFOLLOW: the link, never its target).
// Xattrs are not kept on symlinks (user.* cannot be set on them).
Status Unpacker::symlink_meta(int parent, const std::string& name, const TarEntry& e) {
    if (::fchownat(parent, name.c_str(), e.uid, e.gid, AT_SYMLINK_NOFOLLOW) < 0) return chown_error(e);
    timespec t[2] = {{e.mtime, 0}, {e.mtime, 0}};
    if (::utimensat(parent, name.c_str(), t, AT_SYMLINK_NOFOLLOW) < 0) return sys_error("set the times of " + e.path);
    return {};
}

// A nameless file in the store's tmp/ (O_TMPFILE): a killed import leaves nothing
// behind, and storing it is one linkat. Where the file system has no O_TMPFILE, a
// named temporary file, removed by `unlink_after` once linked or abandoned.
Result<unique_fd> Unpacker::content_file(std::string& unlink_after) {
    if (!no_tmpfile_) {
        unique_fd fd(::open((store_.root() + "/tmp").c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600));
        if (fd) return fd;
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
            return sys_error("create a file in " + store_.root() + "/tmp");
        no_tmpfile_ = true;
    }
    return store_.make_temp_file("file", &unlink_after);
}

// Gives the content file its name in the file store. false: the name was taken
// (another import stored the same file meanwhile).
Result<bool> Unpacker::link_content(int fd, const std::string& named, const std::string& final_path) {
    int r = named.empty() ? ::linkat(fd, "", AT_FDCWD, final_path.c_str(), AT_EMPTY_PATH)
                          : ::link(named.c_str(), final_path.c_str());
    if (r < 0 && named.empty() && errno == ENOENT) {
        // AT_EMPTY_PATH wants CAP_DAC_READ_SEARCH; the /proc link does not.
        std::string proc = "/proc/self/fd/" + std::to_string(fd);
        r = ::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, final_path.c_str(), AT_SYMLINK_FOLLOW);
    }
    if (r == 0) return true;
    if (errno == EEXIST) return false;
    return sys_error("store " + final_path);
}

// Whether a stored file is what its key says, as far as stat tells (the xattrs and the
// content are `system check`'s to verify): a name whose file differs is damage.
bool matches(const struct stat& st, const FileKey& k, uint64_t size) {
    return S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) == size && (st.st_mode & 07777) == k.mode &&
           st.st_uid == k.uid && st.st_gid == k.gid && st.st_mtim.tv_sec == k.mtime && st.st_mtim.tv_nsec == 0;
}

// Writes the content to the file store (or finds it there) and returns the store path.
Result<std::string> Unpacker::store_file(const TarEntry& e, Reader& body, LayerResult& res) {
    std::string files = store_.root() + "/files";
    std::string named;
    unique_fd fd = KAPSEL_TRY(content_file(named));
    struct RemoveNamed {
        std::string& p;
        ~RemoveNamed() {
            if (!p.empty()) ::unlink(p.c_str());
        }
    } remove_named{named};
    Sha256 h;
    char buf[1 << 16];
    uint64_t total = 0;
    while (true) {
        size_t n = KAPSEL_TRY(body.read(buf, sizeof buf));
        if (n == 0) break;
        KAPSEL_TRY(space_.add(n));
        h.update(buf, n);
        total += n;
        KAPSEL_TRY(fs::write_all(fd.get(), std::string_view(buf, n), e.path));
    }
    res.unpacked_size += total;
    // Everything the inode carries is set now, while it has no name: once linked into
    // the store it is shared, and nothing may change it (issue 12, break 2). chown
    // clears setuid bits and file capabilities, so it comes first.
    if (::fchown(fd.get(), e.uid, e.gid) < 0) return chown_error(e);
    for (auto& [k, v] : e.xattrs)
        if (::fsetxattr(fd.get(), k.c_str(), v.data(), v.size(), 0) < 0) return sys_error("set xattr " + k + " on " + e.path);
    if (::fchmod(fd.get(), e.mode & 07777) < 0) return sys_error("chmod " + e.path);
    timespec t[2] = {{e.mtime, 0}, {e.mtime, 0}};
    if (::futimens(fd.get(), t) < 0) return sys_error("set the times of " + e.path);
    // The key is read back from the inode rather than taken from the entry: what the
    // kernel made of it (an ACL's mode bits, a capability's format) is what is shared.
    FileKey key = KAPSEL_TRY(key_of(fd.get(), digest_hex(h.digest()), e.path));
    std::string name = key.name();
    std::string dir = files + "/" + name.substr(0, 2);
    std::string final_path = dir + "/" + name;
    // A stored file that is not what its name says is damage (a power cut before its
    // data reached the disk leaves an empty file; an older kapsel changed shared
    // inodes): this import's copy replaces it.
    bool damaged = false;
    if (struct stat st; ::lstat(final_path.c_str(), &st) == 0) {
        if (matches(st, key, total)) {
            ++res.shared_files;
            return final_path;
        }
        damaged = true;
    }
    if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST) return sys_error("create " + dir);
    if (damaged) {
        // Under a temporary name beside it first: rename replaces in one step.
        std::string aside = final_path + ".new";
        ::unlink(aside.c_str());
        if (!KAPSEL_TRY(link_content(fd.get(), named, aside))) return sys_error("store " + aside, EEXIST);
        if (::rename(aside.c_str(), final_path.c_str()) < 0) {
            ::unlink(aside.c_str());
            return sys_error("store " + e.path);
        }
        ++res.new_files;
        return final_path;
    }
    // A link, never a rename: if another import stored the same file meanwhile, we
    // use theirs and the content stays one inode.
    if (KAPSEL_TRY(link_content(fd.get(), named, final_path))) ++res.new_files;
    else ++res.shared_files;
    return final_path;
}

Status Unpacker::entry(const TarEntry& e, Reader& body, LayerResult& res) {
    KAPSEL_TRY(space_.add(0, /*entry=*/true));
    auto comps = KAPSEL_TRY(entry_components(e.path, "entry"));
    if (comps.empty()) {
        // The layer's root directory itself ("./").
        if (e.type == EntryType::directory) return directory(root_, ".", ".", e);
        return {};
    }
    const std::string& base = comps.back();
    unique_fd parent = KAPSEL_TRY(parent_of(comps, e.path));

    // OCI whiteouts -> overlayfs: ".wh.NAME" is a 0:0 character device, the
    // opaque marker an xattr on its directory.
    if (base.rfind(".wh.", 0) == 0) {
        if (base == ".wh..wh..opq") {
            unique_fd dir = KAPSEL_TRY(openat2(parent.get(), ".", O_RDONLY | O_DIRECTORY, kBeneath));
            if (::fsetxattr(dir.get(), opaque_xattr(), "y", 1, 0) < 0) {
                std::string what = "mark " + join_components(comps, comps.size() - 1) + " opaque";
                // A user's store needs user.* xattrs, which tmpfs has only from Linux 6.6 on.
                if (errno == EOPNOTSUPP && in_user_namespace())
                    return make_error(what + ": the file system of " + store_.root() +
                                      " has no user xattrs (tmpfs before Linux 6.6): put the store on "
                                      "another one (--storage-root)");
                return sys_error(what);
            }
            return {};
        }
        if (base.rfind(".wh..wh.", 0) == 0) return {};  // aufs bookkeeping: nothing to do
        std::string name = base.substr(4);
        if (name.empty() || name == "." || name == "..") return make_error("layer whiteout \"" + e.path + "\" is invalid");
        KAPSEL_TRY(remove_existing(parent.get(), name));
        if (::mknodat(parent.get(), name.c_str(), S_IFCHR | 0, makedev(0, 0)) < 0) return sys_error("whiteout " + e.path);
        return {};
    }

    switch (e.type) {
        case EntryType::directory: {
            struct stat st;
            if (::fstatat(parent.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
                KAPSEL_TRY(remove_existing(parent.get(), base));
            if (::mkdirat(parent.get(), base.c_str(), 0755) < 0 && errno != EEXIST) return sys_error("mkdir " + e.path);
            return directory(parent.get(), base, join_components(comps, comps.size()), e);
        }
        case EntryType::file: {
            std::string stored = KAPSEL_TRY(store_file(e, body, res));
            KAPSEL_TRY(remove_existing(parent.get(), base));
            if (::linkat(AT_FDCWD, stored.c_str(), parent.get(), base.c_str(), 0) < 0) return sys_error("link " + e.path);
            return {};
        }
        case EntryType::hardlink: {
            auto target = entry_components(e.link, "hardlink target");
            if (!target || target->empty())
                return make_error("layer hardlink \"" + e.path + "\" points outside the layer (\"" + e.link + "\")");
            auto src = openat2(root_, join_components(*target, target->size()), O_PATH | O_NOFOLLOW,
                               kBeneath | RESOLVE_NO_SYMLINKS);
            if (!src) {
                if (src.error().code == ENOENT)
                    return make_error("layer hardlink \"" + e.path + "\" points to \"" + e.link + "\", which is not in this layer");
                return make_error("layer hardlink \"" + e.path + "\" points outside the layer (\"" + e.link + "\")");
            }
            struct stat st;
            if (::fstat(src->get(), &st) == 0 && S_ISDIR(st.st_mode))
                return make_error("layer hardlink \"" + e.path + "\" points to a directory");
            KAPSEL_TRY(remove_existing(parent.get(), base));
            if (::linkat(src->get(), "", parent.get(), base.c_str(), AT_EMPTY_PATH) < 0) return sys_error("link " + e.path);
            return {};
        }
        case EntryType::symlink:
            KAPSEL_TRY(remove_existing(parent.get(), base));
            if (::symlinkat(e.link.c_str(), parent.get(), base.c_str()) < 0) return sys_error("symlink " + e.path);
            return symlink_meta(parent.get(), base, e);
        case EntryType::chardev:
        case EntryType::blockdev:
        case EntryType::fifo: {
            KAPSEL_TRY(remove_existing(parent.get(), base));
            mode_t type = e.type == EntryType::chardev ? S_IFCHR : e.type == EntryType::blockdev ? S_IFBLK : S_IFIFO;
            if (::mknodat(parent.get(), base.c_str(), type | (e.mode & 07777), makedev(e.devmajor, e.devminor)) < 0) {
                // A user namespace may not make device nodes (a fifo it may): in a
                // user's store a layer's device is left out, as podman leaves it out.
                if (errno == EPERM && e.type != EntryType::fifo && in_user_namespace()) return {};
                return sys_error("mknod " + e.path);
            }
            return special_file(parent.get(), base, e);
        }
    }
    return {};
}

Status Unpacker::finish() {
    // Directory modes and times last and deepest first: creating entries changed the
    // mtimes, and a read-only directory must not stop its children. Each goes to the
    // inode its entry made, opened beneath the layer without following a symlink at
    // the end; a name that now holds anything else is left alone.
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
        if (it->dropped) continue;
        auto fd = openat2(root_, it->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, kBeneath);
        if (!fd) {
            int err = fd.error().code;
            if (err == ENOENT || err == ENOTDIR || err == ELOOP || err == EXDEV) continue;
            return std::move(fd).error();
        }
        struct stat st;
        if (::fstat(fd->get(), &st) < 0) return sys_error("stat " + it->path);
        if (st.st_dev != it->dev || st.st_ino != it->ino) continue;
        if (::fchmod(fd->get(), it->mode & 07777) < 0) return sys_error("chmod " + it->path);
        timespec t[2] = {{it->mtime, 0}, {it->mtime, 0}};
        if (::futimens(fd->get(), t) < 0) return sys_error("set the times of " + it->path);
    }
    return {};
}

}  // namespace

Result<LayerResult> Store::import_layer(Reader& in, const std::string& expected_blob,
                                        const std::string& expected_diff_id, bool keep_blob) {
    dirty_ = true;  // whatever this writes must reach the disk before a marker names it
    // A layer is refused before it starts when the store's file system is down to its
    // reserve, and stops when it would get there or pass the command's maximum.
    SpaceGuard space(root_, max_unpacked_, unpacked_);
    KAPSEL_TRY(space.start());
    std::string tmp = KAPSEL_TRY(make_temp("layer"));
    struct Cleanup {
        std::string dir, blob;
        bool keep = false;
        ~Cleanup() {
            if (!keep) (void)fs::remove_tree(dir);
            if (!blob.empty()) ::unlink(blob.c_str());
        }
    } cleanup{tmp, ""};
    ::chmod(tmp.c_str(), 0755);
    unique_fd root(::open(tmp.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return sys_error("open " + tmp);

    unique_fd blob_fd;
    if (keep_blob) {
        cleanup.blob = tmp + ".blob";
        blob_fd.reset(::open(cleanup.blob.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (!blob_fd) return sys_error("create " + cleanup.blob);
    }
    BackgroundHashingReader as_given(in, blob_fd.get(), "layer blob " + cleanup.blob);
    Decompressor plain(as_given);
    HashingReader uncompressed(plain, [&] { return plain.compression() != Compression::none; });
    TarReader tar(uncompressed);
    Unpacker unpacker(*this, root.get(), tmp, space);
    LayerResult res;
    TarEntry e;
    while (KAPSEL_TRY(tar.next(e))) {
        drop_overlay_xattrs(e);
        KAPSEL_TRY(unpacker.entry(e, tar.body(), res));
    }
    KAPSEL_TRY(unpacker.finish());
    // What follows the end-of-archive blocks still counts for both digests.
    KAPSEL_TRY(uncompressed.drain());
    KAPSEL_TRY(as_given.drain());
    KAPSEL_TRY(as_given.finish());
    res.blob_digest = as_given.digest();
    res.blob_size = as_given.size();
    res.compression = plain.compression();
    res.diff_id = res.compression == Compression::none ? res.blob_digest : uncompressed.digest();
    if (!expected_blob.empty() && expected_blob != res.blob_digest)
        return make_error("layer digest mismatch: expected " + expected_blob + ", got " + res.blob_digest);
    if (!expected_diff_id.empty() && expected_diff_id != res.diff_id)
        return make_error("layer diff id mismatch: expected " + expected_diff_id + ", got " + res.diff_id);

    // A stored blob of another size is damage (see store_file): ours replaces it.
    struct stat blob_st;
    bool blob_ok = ::stat(blob_path(res.blob_digest).c_str(), &blob_st) == 0 &&
                   static_cast<uint64_t>(blob_st.st_size) == res.blob_size;
    if (keep_blob && !blob_ok) {
        if (::rename(cleanup.blob.c_str(), blob_path(res.blob_digest).c_str()) < 0)
            return sys_error("store layer blob " + res.blob_digest);
        cleanup.blob.clear();
    }
    std::string final_dir = layer_path(res.diff_id);
    if (::rename(tmp.c_str(), final_dir.c_str()) == 0) {
        cleanup.keep = true;
        return res;
    }
    if (errno != EEXIST && errno != ENOTEMPTY) return sys_error("store layer " + res.diff_id);
    // A complete copy is there already (another import was first): ours goes.
    if (has_layer(res.diff_id)) return res;
    // One without its marker was left by an import that was killed or lost its data
    // in a power cut: ours, known to be whole, takes its place. A concurrent import's
    // unmarked copy is as good as ours, and nothing uses a layer before its marker;
    // but that import checks that its layer is there before it marks it, so the two
    // swap places in one step (RENAME_EXCHANGE): the layer is never missing. The old
    // copy is then where ours was, and goes with the temporary directory.
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_EXCHANGE) == 0) return res;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOENT) return sys_error("store layer " + res.diff_id);
    // A file system without RENAME_EXCHANGE (or the old copy gone meanwhile): in two steps.
    std::string stale = KAPSEL_TRY(make_temp("stale"));
    if (::rename(final_dir.c_str(), (stale + "/layer").c_str()) < 0 && errno != ENOENT)
        return sys_error("move aside the incomplete layer " + final_dir);
    if (::rename(tmp.c_str(), final_dir.c_str()) == 0) cleanup.keep = true;
    else if (errno != EEXIST && errno != ENOTEMPTY) return sys_error("store layer " + res.diff_id);
    (void)fs::remove_tree(stale);
    return res;
}

}  // namespace kapsel::image
