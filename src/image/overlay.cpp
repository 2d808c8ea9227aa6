// Overlay root file systems.
#include "image/overlay.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <functional>

#include "image/tar.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::image {

ContainerDirs container_dirs(const Store& store, const std::string& id) {
    std::string d = store.container_dir(id);
    return {d, d + "/upper", d + "/work", d + "/merged"};
}

static Status fsconfig(int fd, unsigned cmd, const char* key, const std::string& value) {
    if (::syscall(SYS_fsconfig, fd, cmd, key, cmd == FSCONFIG_SET_STRING ? value.c_str() : nullptr, 0) < 0)
        return sys_error(std::string("overlay option ") + (key ? key : "create"));
    return {};
}

Status mount_rootfs(const Store& store, const std::string& id, const std::vector<std::string>& layers) {
    ContainerDirs d = container_dirs(store, id);
    for (auto* p : {&d.upper, &d.work, &d.merged}) KAPSEL_TRY(fs::mkdir_p(*p, 0755));
    std::vector<std::string> lowers;
    for (auto it = layers.rbegin(); it != layers.rend(); ++it) lowers.push_back(store.layer_path(*it));  // top first
    if (lowers.empty()) {
        // overlay wants a lower layer; an image without layers has an empty one.
        std::string empty = store.root() + "/layers/empty";
        KAPSEL_TRY(fs::mkdir_p(empty, 0755));
        lowers.push_back(empty);
    }
    int fs = static_cast<int>(::syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC));
    if (fs < 0) return sys_error("overlay is not available in this kernel (fsopen overlay)");
    unique_fd fsfd(fs);
    // "lowerdir+" (Linux 6.8) takes one layer per call with no length limit; older
    // kernels get the classic colon-separated list.
    bool appended = true;
    for (auto& l : lowers) {
        if (!fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "lowerdir+", l)) {
            appended = false;
            break;
        }
    }
    if (!appended) {
        fsfd.reset(static_cast<int>(::syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC)));
        KAPSEL_TRY(fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "lowerdir", join(lowers, ":")));
    }
    KAPSEL_TRY(fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "upperdir", d.upper));
    KAPSEL_TRY(fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "workdir", d.work));
    KAPSEL_TRY(fsconfig(fsfd.get(), FSCONFIG_CMD_CREATE, nullptr, ""));
    int mnt = static_cast<int>(::syscall(SYS_fsmount, fsfd.get(), FSMOUNT_CLOEXEC, 0));
    if (mnt < 0) return sys_error("fsmount overlay");
    unique_fd mntfd(mnt);
    if (::syscall(SYS_move_mount, mntfd.get(), "", AT_FDCWD, d.merged.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return sys_error("mount the root file system at " + d.merged);
    return {};
}

bool rootfs_mounted(const Store& store, const std::string& id) {
    ContainerDirs d = container_dirs(store, id);
    struct statx a{}, b{};
    if (::statx(AT_FDCWD, d.merged.c_str(), AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &a) < 0) return false;
    if (::statx(AT_FDCWD, d.dir.c_str(), AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &b) < 0) return false;
    return a.stx_mnt_id != b.stx_mnt_id;
}

Status unmount_rootfs(const Store& store, const std::string& id) {
    ContainerDirs d = container_dirs(store, id);
    if (!rootfs_mounted(store, id)) return {};
    if (::umount2(d.merged.c_str(), 0) == 0) return {};
    if (errno == EBUSY && ::umount2(d.merged.c_str(), MNT_DETACH) == 0) return {};
    return sys_error("unmount " + d.merged);
}

namespace {

bool is_whiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0); }

bool is_opaque(int dirfd) {
    char v[4] = {};
    ssize_t n = ::fgetxattr(dirfd, "trusted.overlay.opaque", v, sizeof v);
    return n == 1 && v[0] == 'y';
}

// Walks `dir` (relative paths below it), calling fn(path, stat, dirfd-of-parent, name).
Status walk(const std::string& root, const std::string& rel,
            const std::function<Status(const std::string&, const struct stat&)>& fn) {
    std::string here = rel.empty() ? root : root + "/" + rel;
    DIR* d = ::opendir(here.c_str());
    if (!d) return sys_error("open " + here);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d))
        if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") names.push_back(e->d_name);
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (auto& n : names) {
        std::string p = rel.empty() ? n : rel + "/" + n;
        struct stat st;
        if (::lstat((root + "/" + p).c_str(), &st) < 0) return sys_error("stat " + p);
        KAPSEL_TRY(fn(p, st));
        if (S_ISDIR(st.st_mode)) KAPSEL_TRY(walk(root, p, fn));
    }
    return {};
}

}  // namespace

Result<std::vector<ChangeEntry>> diff_rootfs(const Store& store, const std::string& id, const std::vector<std::string>& layers) {
    ContainerDirs d = container_dirs(store, id);
    std::vector<ChangeEntry> out;
    auto in_lower = [&](const std::string& p) {
        for (auto& l : layers) {
            struct stat st;
            if (::lstat((store.layer_path(l) + "/" + p).c_str(), &st) == 0 && !is_whiteout(st)) return true;
        }
        return false;
    };
    KAPSEL_TRY(walk(d.upper, "", [&](const std::string& p, const struct stat& st) -> Status {
        if (is_whiteout(st)) out.push_back({Change::deleted, "/" + p});
        else out.push_back({in_lower(p) ? Change::changed : Change::added, "/" + p});
        return {};
    }));
    return out;
}

Status write_upper_tar(const Store& store, const std::string& id, int fd) {
    ContainerDirs d = container_dirs(store, id);
    TarWriter tar(fd);
    auto header_for = [&](const std::string& p, const struct stat& st) {
        TarEntry e;
        e.path = p;
        e.mode = st.st_mode & 07777;
        e.uid = st.st_uid;
        e.gid = st.st_gid;
        e.mtime = st.st_mtim.tv_sec;
        return e;
    };
    KAPSEL_TRY(walk(d.upper, "", [&](const std::string& p, const struct stat& st) -> Status {
        std::string full = d.upper + "/" + p;
        std::string dir = fs::dirname(p), base = fs::basename(p);
        std::string prefix = dir == "." ? "" : dir + "/";
        if (is_whiteout(st)) {
            // overlay's deletion marker -> the OCI one.
            TarEntry e = header_for(prefix + ".wh." + base, st);
            e.type = EntryType::file;
            e.mode = 0;
            e.size = 0;
            KAPSEL_TRY(tar.header(e));
            return tar.end_entry();
        }
        TarEntry e = header_for(p, st);
        if (S_ISDIR(st.st_mode)) {
            e.type = EntryType::directory;
            KAPSEL_TRY(tar.header(e));
            KAPSEL_TRY(tar.end_entry());
            unique_fd dfd(::open(full.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (dfd && is_opaque(dfd.get())) {
                TarEntry o = header_for(p + "/.wh..wh..opq", st);
                o.type = EntryType::file;
                o.mode = 0;
                KAPSEL_TRY(tar.header(o));
                KAPSEL_TRY(tar.end_entry());
            }
            return {};
        }
        if (S_ISLNK(st.st_mode)) {
            char buf[4096];
            ssize_t n = ::readlink(full.c_str(), buf, sizeof buf - 1);
            if (n < 0) return sys_error("readlink " + p);
            e.type = EntryType::symlink;
            e.link.assign(buf, static_cast<size_t>(n));
            KAPSEL_TRY(tar.header(e));
            return tar.end_entry();
        }
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
            e.type = S_ISCHR(st.st_mode) ? EntryType::chardev : S_ISBLK(st.st_mode) ? EntryType::blockdev : EntryType::fifo;
            e.devmajor = major(st.st_rdev);
            e.devminor = minor(st.st_rdev);
            KAPSEL_TRY(tar.header(e));
            return tar.end_entry();
        }
        if (!S_ISREG(st.st_mode)) return {};  // sockets do not go into images
        e.type = EntryType::file;
        e.size = static_cast<uint64_t>(st.st_size);
        unique_fd in(::open(full.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        if (!in) return sys_error("open " + p);
        KAPSEL_TRY(tar.header(e));
        char buf[65536];
        uint64_t left = e.size;
        while (left > 0) {
            ssize_t n = ::read(in.get(), buf, std::min<uint64_t>(sizeof buf, left));
            if (n <= 0) return make_error(p + " changed while it was being committed");
            KAPSEL_TRY(tar.data(buf, static_cast<size_t>(n)));
            left -= static_cast<uint64_t>(n);
        }
        return tar.end_entry();
    }));
    return tar.finish();
}

}  // namespace kapsel::image
