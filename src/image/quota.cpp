// Project quotas for writable layers (see quota.hpp).
#include "image/quota.hpp"

#include <fcntl.h>
#include <linux/dqblk_xfs.h>
#include <linux/fs.h>
#include <linux/quota.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <random>

#include "util/fd.hpp"

namespace kapsel::image {
namespace {

// quotactl_fd (Linux 5.14) takes any fd on the file system, no block device path.
int quotactl_fd(int fd, unsigned cmd, uint32_t id, void* addr) {
    return static_cast<int>(::syscall(SYS_quotactl_fd, fd, QCMD(cmd, PRJQUOTA), id, addr));
}

Result<unique_fd> open_dir(const std::string& dir) {
    unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return sys_error("open " + dir);
    return fd;
}

const char* fs_name(int fd) {
    struct statfs st{};
    if (::fstatfs(fd, &st) < 0) return "its file system";
    switch (st.f_type) {
        case 0xEF53: return "ext4";
        case 0x58465342: return "xfs";
        case 0x9123683E: return "btrfs";
        case 0x01021994: return "tmpfs";
        case 0x794c7630: return "overlayfs";
        default: return "its file system";
    }
}

Status require_enforced(int fd, const std::string& where) {
    fs_quota_stat st{};
    if (quotactl_fd(fd, Q_XGETQSTAT, 0, &st) == 0 && (st.qs_flags & FS_QUOTA_PDQ_ENFD)) return {};
    // An fd of -1 tells a kernel without the call (ENOSYS) from one with it (EBADF).
    std::string why;
    if (quotactl_fd(-1, Q_XGETQSTAT, 0, &st) < 0 && errno == ENOSYS)
        why = "this kernel has no quotactl_fd (Linux 5.14)";
    else
        why = std::string(fs_name(fd)) +
              " there enforces none (ext4: mkfs -O quota,project and mount -o prjquota, with a "
              "kernel built with CONFIG_QFMT_V2; xfs: mount -o pquota)";
    return make_error("--storage-opt size needs project quotas on the file system of " + where +
                      ": " + why);
}

// A project with neither a limit nor anything charged to it is free. Ids come from a
// range far above what people number their projects by hand (/etc/projid).
Result<uint32_t> free_project(int fd, const std::string& dir) {
    std::random_device rd;
    std::uniform_int_distribution<uint32_t> pick(1u << 24, (1u << 31) - 1);
    for (int tries = 0; tries < 64; ++tries) {
        uint32_t id = pick(rd);
        if_dqblk q{};
        if (quotactl_fd(fd, Q_GETQUOTA, id, &q) < 0)
            return sys_error("read project quota " + std::to_string(id) + " on " + dir);
        if (q.dqb_bhardlimit == 0 && q.dqb_bsoftlimit == 0 && q.dqb_ihardlimit == 0 &&
            q.dqb_curspace == 0 && q.dqb_curinodes == 0)
            return id;
    }
    return make_error("no free project id on " + dir);
}

Status set_limit(int fd, uint32_t id, uint64_t kib, const std::string& dir) {
    if_dqblk q{};
    q.dqb_bhardlimit = kib;  // in 1 KiB quota blocks
    q.dqb_bsoftlimit = kib;
    q.dqb_valid = QIF_BLIMITS;
    if (quotactl_fd(fd, Q_SETQUOTA, id, &q) < 0)
        return sys_error("set the limit of project " + std::to_string(id) + " on " + dir);
    return {};
}

}  // namespace

Result<uint32_t> limit_directories(const std::string& where, const std::vector<std::string>& dirs,
                                   uint64_t bytes) {
    if (dirs.empty()) return make_error("no directory to limit");
    unique_fd first = KAPSEL_TRY(open_dir(dirs[0]));
    KAPSEL_TRY(require_enforced(first.get(), where));
    uint32_t id = KAPSEL_TRY(free_project(first.get(), dirs[0]));
    for (auto& d : dirs) {
        // Through the directory's own fd: these are ours and new, but a name is never
        // trusted to still be the object it was.
        unique_fd fd = KAPSEL_TRY(open_dir(d));
        fsxattr x{};
        if (::ioctl(fd.get(), FS_IOC_FSGETXATTR, &x) < 0) return sys_error("read the project of " + d);
        x.fsx_projid = id;
        x.fsx_xflags |= FS_XFLAG_PROJINHERIT;
        if (::ioctl(fd.get(), FS_IOC_FSSETXATTR, &x) < 0) return sys_error("set the project of " + d);
    }
    // The limit last: a failure before leaves directories of an unlimited project, which
    // go with the container, and no limit behind to release.
    KAPSEL_TRY(set_limit(first.get(), id, (bytes + 1023) / 1024, dirs[0]));
    return id;
}

Status release_project(const std::string& dir, uint32_t id) {
    unique_fd fd = KAPSEL_TRY(open_dir(dir));
    return set_limit(fd.get(), id, 0, dir);
}

}  // namespace kapsel::image
