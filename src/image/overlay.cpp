// Overlay root file systems.
#include "image/overlay.hpp"

#include <algorithm>

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "image/tar.hpp"
#include "image/tree.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::image {

ContainerDirs container_dirs(const Store& store, const std::string& id) {
    std::string d = store.container_dir(id);
    return {d, d + "/upper", d + "/work", d + "/merged"};
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

// A mount point the runtime made: an empty regular file or a directory at a mount's
// destination, where the image had nothing.
bool made_mount_point(const MountPoints& points, const std::string& p, const struct stat& st) {
    if (!(S_ISREG(st.st_mode) && st.st_size == 0) && !S_ISDIR(st.st_mode)) return false;
    return std::find(points.begin(), points.end(), p) != points.end();
}

}  // namespace

Result<std::vector<ChangeEntry>> diff_rootfs(const Store& store, const std::string& id,
                                             const std::vector<std::string>& layers,
                                             const MountPoints& mount_points) {
    ContainerDirs d = container_dirs(store, id);
    Tree upper = KAPSEL_TRY(Tree::open(d.upper));
    std::vector<Tree> lowers;
    for (auto& l : layers) lowers.push_back(KAPSEL_TRY(Tree::open(store.layer_path(l))));
    std::vector<ChangeEntry> out;
    auto in_lower = [&](const std::string& p) {
        for (auto& l : lowers) {
            struct stat st;
            if (l.lstat(p, st) && !is_whiteout(st)) return true;
        }
        return false;
    };
    KAPSEL_TRY(upper.walk([&](const std::string& p, const struct stat& st) -> Status {
        if (is_whiteout(st))
            out.push_back({Change::deleted, "/" + p});
        else if (in_lower(p))
            out.push_back({Change::changed, "/" + p});
        else if (!made_mount_point(mount_points, p, st))
            out.push_back({Change::added, "/" + p});
        return {};
    }));
    return out;
}

Status write_upper_tar(const Store& store, const std::string& id, int fd, const MountPoints& mount_points) {
    ContainerDirs d = container_dirs(store, id);
    Tree upper = KAPSEL_TRY(Tree::open(d.upper));
    TarWriter tar(fd);
    KAPSEL_TRY(upper.walk([&](const std::string& p, const struct stat& st) -> Status {
        if (made_mount_point(mount_points, p, st)) return {};
        std::string dir = fs::dirname(p), base = fs::basename(p);
        std::string prefix = dir == "." ? "" : dir + "/";
        if (is_whiteout(st)) {
            // overlay's deletion marker -> the OCI one.
            TarEntry e = entry_from_stat(prefix + ".wh." + base, st);
            e.type = EntryType::file;
            e.mode = 0;
            e.size = 0;
            KAPSEL_TRY(tar.header(e));
            return tar.end_entry();
        }
        KAPSEL_TRY(upper.write_entry(tar, p, entry_from_stat(p, st), st));
        if (S_ISDIR(st.st_mode) && upper.is_opaque(p)) {
            TarEntry o = entry_from_stat(p + "/.wh..wh..opq", st);
            o.type = EntryType::file;
            o.mode = 0;
            KAPSEL_TRY(tar.header(o));
            KAPSEL_TRY(tar.end_entry());
        }
        return {};
    }));
    return tar.finish();
}

}  // namespace kapsel::image
