// Re-exec from a read-only view of our own binary.
#include "linux/exe_guard.hpp"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/fd.hpp"

extern char** environ;

namespace kapsel::linux {

bool self_is_sealed() {
    struct statvfs vfs;
    if (::statvfs("/proc/self/exe", &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) return true;
    unique_fd fd(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    if (!fd) return false;
    int seals = ::fcntl(fd.get(), F_GET_SEALS);
    return seals >= 0 && (seals & F_SEAL_WRITE) && (seals & F_SEAL_SEAL);
}

static Status exec_from_readonly_mount(char** argv) {
    // A private, detached clone of the mount holding our binary, made read-only:
    // writes through /proc/PID/exe then fail with EROFS, even after we exit.
    int tree = static_cast<int>(
        ::syscall(SYS_open_tree, AT_FDCWD, "/proc/self/exe", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    if (tree < 0) return sys_error("open_tree of kapsel's own binary");
    unique_fd t(tree);
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if (::syscall(SYS_mount_setattr, t.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
        return sys_error("make kapsel's binary read-only");
    ::syscall(SYS_execveat, t.get(), "", argv, environ, AT_EMPTY_PATH);
    return sys_error("re-exec kapsel from a read-only mount");
}

static Status exec_from_sealed_memfd(char** argv) {
    unique_fd src(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    if (!src) return sys_error("open /proc/self/exe");
    struct stat st;
    if (::fstat(src.get(), &st) < 0) return sys_error("stat /proc/self/exe");
    unique_fd mem(::memfd_create("kapsel", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!mem) return sys_error("memfd_create");
    off_t off = 0;
    while (off < st.st_size) {
        ssize_t n = ::sendfile(mem.get(), src.get(), &off, static_cast<size_t>(st.st_size - off));
        if (n <= 0) return sys_error("copy kapsel into memfd");
    }
    if (::fcntl(mem.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) <
        0)
        return sys_error("seal memfd");
    ::syscall(SYS_execveat, mem.get(), "", argv, environ, AT_EMPTY_PATH);
    return sys_error("re-exec kapsel from a sealed memfd");
}

Status ensure_sealed_self(char** argv) {
    if (self_is_sealed()) return {};
    auto st = exec_from_readonly_mount(argv);
    // Only reached if the exec did not happen.
    auto st2 = exec_from_sealed_memfd(argv);
    return std::move(st2).error().context(st.error().message);
}

}  // namespace kapsel::linux
