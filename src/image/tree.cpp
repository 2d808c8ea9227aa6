// Walking layer directories and writing their entries into tars.
#include "image/tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "util/fd.hpp"

namespace kapsel::image {

bool is_whiteout(const struct stat& st) {
    return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

bool is_opaque(const std::string& dir) {
    char v[4] = {};
    ssize_t n = ::lgetxattr(dir.c_str(), "trusted.overlay.opaque", v, sizeof v);
    return n == 1 && v[0] == 'y';
}

static Status walk(const std::string& root, const std::string& rel,
                   const std::function<Status(const std::string&, const struct stat&)>& fn) {
    std::string here = rel.empty() ? root : root + "/" + rel;
    DIR* d = ::opendir(here.c_str());
    if (!d) return sys_error("open " + here);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d))
        if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..")
            names.push_back(e->d_name);
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (auto& n : names) {
        std::string p = rel.empty() ? n : rel + "/" + n;
        struct stat st;
        if (::lstat((root + "/" + p).c_str(), &st) < 0) return sys_error("stat " + root + "/" + p);
        KAPSEL_TRY(fn(p, st));
        if (S_ISDIR(st.st_mode)) KAPSEL_TRY(walk(root, p, fn));
    }
    return {};
}

Status walk_tree(const std::string& root,
                 const std::function<Status(const std::string&, const struct stat&)>& fn) {
    return walk(root, "", fn);
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

Status write_from_disk(TarWriter& tar, const std::string& full, TarEntry e, const struct stat& st) {
    if (S_ISDIR(st.st_mode)) {
        e.type = EntryType::directory;
        KAPSEL_TRY(tar.header(e));
        return tar.end_entry();
    }
    if (S_ISLNK(st.st_mode)) {
        char buf[4096];
        ssize_t n = ::readlink(full.c_str(), buf, sizeof buf - 1);
        if (n < 0) return sys_error("readlink " + full);
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
    unique_fd in(::open(full.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!in) return sys_error("open " + full);
    KAPSEL_TRY(tar.header(e));
    char buf[65536];
    uint64_t left = e.size;
    while (left > 0) {
        ssize_t n = ::read(in.get(), buf, std::min<uint64_t>(sizeof buf, left));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_error("read " + full);
        if (n == 0) return make_error(full + " changed while it was being archived");
        KAPSEL_TRY(tar.data(buf, static_cast<size_t>(n)));
        left -= static_cast<uint64_t>(n);
    }
    return tar.end_entry();
}

}  // namespace kapsel::image
