// Walking layer and upper directories through fds, and writing their entries into
// tars (see tree.hpp for why nothing here takes a path).
#include "image/tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <vector>

#include "util/fs.hpp"
#include "util/proc.hpp"

namespace kapsel::image {
namespace {

// No symlink in any component, no magic link: what a walk found as a directory
// must still be a directory below the root when it is entered.
constexpr uint64_t kStrict = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

bool same_object(const struct stat& a, const struct stat& b) {
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
           (a.st_mode & S_IFMT) == (b.st_mode & S_IFMT);
}

// The xattrs of the object behind `fd` (any kind of fd, O_PATH too: its /proc link
// leads to the object itself, a symlink included), overlayfs's own left out. The
// kernel bounds them (64 KiB of names, 64 KiB per value).
Result<std::map<std::string, std::string>> xattrs_of(int fd, const std::string& shown) {
    std::string proc = "/proc/self/fd/" + std::to_string(fd);
    std::map<std::string, std::string> out;
    std::vector<char> names(65536);
    ssize_t n = ::listxattr(proc.c_str(), names.data(), names.size());
    if (n < 0) {
        if (errno == ENOTSUP) return out;  // a file system without xattrs has none to keep
        return sys_error("list the xattrs of " + shown);
    }
    std::vector<char> value(65536);
    for (size_t i = 0; i < static_cast<size_t>(n);) {
        std::string name(names.data() + i);
        i += name.size() + 1;
        if (name == "trusted.overlay.redirect" || name == "trusted.overlay.metacopy" ||
            name == "user.overlay.redirect" || name == "user.overlay.metacopy")
            return make_error(shown + " carries overlayfs's " + name +
                              " (its data or children live elsewhere): it cannot be written as a layer");
        if (is_overlay_xattr(name)) continue;
        ssize_t v = ::getxattr(proc.c_str(), name.c_str(), value.data(), value.size());
        if (v < 0) {
            if (errno == ENODATA) continue;  // removed since the list
            return sys_error("read xattr " + name + " of " + shown);
        }
        out[name].assign(value.data(), static_cast<size_t>(v));
    }
    return out;
}

}  // namespace

bool is_overlay_xattr(std::string_view name) {
    return name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.");
}

bool is_whiteout(const struct stat& st) {
    return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

Result<Tree> Tree::open(const std::string& root) {
    unique_fd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return sys_error("open " + root);
    return Tree(std::move(fd), root);
}

Result<unique_fd> Tree::open_below(const std::string& rel, uint64_t flags) const {
    auto fd = fs::openat2(fd_.get(), rel, flags | O_NOFOLLOW, kStrict);
    if (!fd) return make_error("open " + path_ + "/" + rel + ": " +
                               (fd.error().code == ELOOP || fd.error().code == ENOTDIR
                                    ? std::string("changed while it was read")
                                    : errno_text(fd.error().code)));
    return fd;
}

Status Tree::walk_dir(int dirfd, const std::string& rel,
                      const std::function<Status(const std::string&, const struct stat&)>& fn) const {
    // fdopendir takes the fd it is given; ours stays open for the fstatat calls.
    int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return sys_error("dup " + path_ + "/" + rel);
    DIR* d = ::fdopendir(dup);
    if (!d) {
        ::close(dup);
        return sys_error("open " + path_ + "/" + rel);
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d))
        if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..")
            names.push_back(e->d_name);
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (auto& n : names) {
        std::string p = rel.empty() ? n : rel + "/" + n;
        struct stat st;
        if (::fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT) continue;  // removed since readdir: not there to archive
            return sys_error("stat " + path_ + "/" + p);
        }
        KAPSEL_TRY(fn(p, st));
        if (!S_ISDIR(st.st_mode)) continue;
        auto sub = fs::openat2(dirfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, kStrict);
        if (!sub) return make_error("open " + path_ + "/" + p + ": changed while it was read");
        struct stat now;
        if (::fstat(sub->get(), &now) < 0 || !same_object(st, now))
            return make_error("open " + path_ + "/" + p + ": changed while it was read");
        KAPSEL_TRY(walk_dir(sub->get(), p, fn));
    }
    return {};
}

Status Tree::walk(const std::function<Status(const std::string&, const struct stat&)>& fn) const {
    return walk_dir(fd_.get(), "", fn);
}

bool Tree::lstat(const std::string& rel, struct stat& st) const {
    auto fd = fs::openat2(fd_.get(), rel, O_PATH | O_NOFOLLOW, kStrict);
    return fd && ::fstat(fd->get(), &st) == 0;
}

const char* opaque_xattr() {
    return in_user_namespace() ? "user.overlay.opaque" : "trusted.overlay.opaque";
}

bool Tree::is_opaque(const std::string& rel) const {
    auto fd = fs::openat2(fd_.get(), rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, kStrict);
    if (!fd) return false;
    char v[4] = {};
    ssize_t n = ::fgetxattr(fd->get(), opaque_xattr(), v, sizeof v);
    return n == 1 && v[0] == 'y';
}

TarEntry entry_from_stat(const std::string& name, const struct stat& st) {
    TarEntry e;
    e.path = name;
    e.mode = st.st_mode & 07777;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    e.mtime = st.st_mtim.tv_sec;
    return e;
}

Status Tree::write_entry(TarWriter& tar, const std::string& rel, TarEntry e,
                         const struct stat& st) const {
    std::string shown = path_ + "/" + rel;
    if (S_ISSOCK(st.st_mode)) return {};
    // The object itself, for its xattrs (and below, its content); no other kind of
    // object may have taken its name since the walk saw it.
    unique_fd fd = KAPSEL_TRY(open_below(
        rel, S_ISREG(st.st_mode) ? O_RDONLY | O_NONBLOCK  // a fifo swapped in must not block
                                 : O_PATH));
    struct stat now;
    if (::fstat(fd.get(), &now) < 0 || !same_object(st, now))
        return make_error(shown + " changed while it was read");
    e.xattrs = KAPSEL_TRY(xattrs_of(fd.get(), shown));
    if (S_ISDIR(st.st_mode)) {
        e.type = EntryType::directory;
        KAPSEL_TRY(tar.header(e));
        return tar.end_entry();
    }
    if (S_ISLNK(st.st_mode)) {
        char buf[4096];
        ssize_t n = ::readlinkat(fd.get(), "", buf, sizeof buf - 1);
        if (n < 0) return sys_error("readlink " + shown);
        e.type = EntryType::symlink;
        e.link.assign(buf, static_cast<size_t>(n));
        KAPSEL_TRY(tar.header(e));
        return tar.end_entry();
    }
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
        e.type = S_ISCHR(st.st_mode)   ? EntryType::chardev
                 : S_ISBLK(st.st_mode) ? EntryType::blockdev
                                       : EntryType::fifo;
        e.devmajor = major(st.st_rdev);
        e.devminor = minor(st.st_rdev);
        KAPSEL_TRY(tar.header(e));
        return tar.end_entry();
    }
    if (!S_ISREG(st.st_mode)) return {};
    e.type = EntryType::file;
    e.size = static_cast<uint64_t>(st.st_size);
    KAPSEL_TRY(tar.header(e));
    char buf[65536];
    uint64_t left = e.size;
    while (left > 0) {
        ssize_t n = ::read(fd.get(), buf, std::min<uint64_t>(sizeof buf, left));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_error("read " + shown);
        if (n == 0) return make_error(shown + " changed while it was read");
        KAPSEL_TRY(tar.data(buf, static_cast<size_t>(n)));
        left -= static_cast<uint64_t>(n);
    }
    return tar.end_entry();
}

}  // namespace kapsel::image
