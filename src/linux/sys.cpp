// RealSys: each method is one syscall (or one open+write) and an error that
// names the operation and its object.
#include "linux/sys.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace kapsel::linux {

Status RealSys::mount(const std::string& source, const std::string& target,
                      const std::string& fstype, unsigned long flags, const std::string& data) {
    if (::mount(source.empty() ? nullptr : source.c_str(), target.c_str(),
                fstype.empty() ? nullptr : fstype.c_str(), flags,
                data.empty() ? nullptr : data.c_str()) < 0)
        return sys_error("mount " + (source.empty() ? fstype : source) + " at " + target);
    return {};
}

Status RealSys::umount2(const std::string& target, int flags) {
    if (::umount2(target.c_str(), flags) < 0) return sys_error("unmount " + target);
    return {};
}

Status RealSys::pivot_root(const std::string& new_root, const std::string& put_old) {
    if (::syscall(SYS_pivot_root, new_root.c_str(), put_old.c_str()) < 0)
        return sys_error("pivot_root " + new_root);
    return {};
}

Status RealSys::chdir(const std::string& path) {
    if (::chdir(path.c_str()) < 0) return sys_error("chdir " + path);
    return {};
}

Status RealSys::fchdir(int fd) {
    if (::fchdir(fd) < 0) return sys_error("fchdir");
    return {};
}

Status RealSys::chroot(const std::string& path) {
    if (::chroot(path.c_str()) < 0) return sys_error("chroot " + path);
    return {};
}

Result<unique_fd> RealSys::fsopen(const std::string& fstype) {
    int fd = static_cast<int>(::syscall(SYS_fsopen, fstype.c_str(), FSOPEN_CLOEXEC));
    if (fd < 0) return sys_error("fsopen " + fstype);
    return unique_fd(fd);
}

// The kernel explains a refused fsconfig in the context's message log; read it so
// the user sees "tmpfs: Bad value for 'mode'" rather than just EINVAL.
static std::string fs_context_log(int fsfd) {
    std::string out;
    char buf[512];
    for (int i = 0; i < 8; ++i) {
        ssize_t n = ::read(fsfd, buf, sizeof buf - 1);
        if (n <= 0) break;
        buf[n] = 0;
        std::string line(buf, static_cast<size_t>(n));
        if (line.size() > 2 && line[1] == ' ') line = line.substr(2);  // "e " prefix
        while (!line.empty() && line.back() == '\n') line.pop_back();
        if (!out.empty()) out += "; ";
        out += line;
    }
    return out;
}

Status RealSys::fsconfig(int fsfd, unsigned cmd, const std::string& key, const std::string& value) {
    const char* k = key.empty() ? nullptr : key.c_str();
    const char* v = cmd == FSCONFIG_SET_STRING ? value.c_str() : nullptr;
    if (::syscall(SYS_fsconfig, fsfd, cmd, k, v, 0) < 0) {
        int err = errno;
        std::string what = cmd == FSCONFIG_CMD_CREATE ? "create filesystem"
                           : value.empty()            ? "set option " + key
                                                      : "set option " + key + "=" + value;
        std::string log = fs_context_log(fsfd);
        return Error{err, what + ": " +
                              (log.empty() ? errno_text(err) : log + " (" + errno_text(err) + ")")};
    }
    return {};
}

Result<unique_fd> RealSys::fsmount(int fsfd, unsigned attr_flags) {
    int fd = static_cast<int>(::syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, attr_flags));
    if (fd < 0) return sys_error("fsmount");
    return unique_fd(fd);
}

Result<unique_fd> RealSys::open_tree(int dirfd, const std::string& path, unsigned flags) {
    int fd =
        static_cast<int>(::syscall(SYS_open_tree, dirfd, path.c_str(), flags | OPEN_TREE_CLOEXEC));
    if (fd < 0) return sys_error("open_tree " + path);
    return unique_fd(fd);
}

Status RealSys::mount_setattr(int dirfd, const std::string& path, unsigned flags,
                              const mount_attr& attr) {
    mount_attr a = attr;
    if (::syscall(SYS_mount_setattr, dirfd, path.c_str(), flags, &a, sizeof a) < 0)
        return sys_error("mount_setattr " + path);
    return {};
}

Status RealSys::move_mount(int from_dirfd, const std::string& from_path, int to_dirfd,
                           const std::string& to_path, unsigned flags) {
    if (::syscall(SYS_move_mount, from_dirfd, from_path.c_str(), to_dirfd, to_path.c_str(), flags) <
        0)
        return sys_error("move_mount");
    return {};
}

Result<unique_fd> RealSys::openat2(int dirfd, const std::string& path, uint64_t flags,
                                   uint64_t mode, uint64_t resolve) {
    open_how how{};
    how.flags = flags | O_CLOEXEC;
    how.mode = mode;
    how.resolve = resolve;
    int fd = static_cast<int>(::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how));
    if (fd < 0) return sys_error("open " + path);
    return unique_fd(fd);
}

Status RealSys::mkdirat(int dirfd, const std::string& name, mode_t mode) {
    if (::mkdirat(dirfd, name.c_str(), mode) < 0) return sys_error("mkdir " + name);
    return {};
}

Status RealSys::mknodat(int dirfd, const std::string& name, mode_t mode, dev_t dev) {
    if (::mknodat(dirfd, name.c_str(), mode, dev) < 0) return sys_error("mknod " + name);
    return {};
}

Status RealSys::unlinkat(int dirfd, const std::string& name, int flags) {
    if (::unlinkat(dirfd, name.c_str(), flags) < 0) return sys_error("remove " + name);
    return {};
}

Status RealSys::symlinkat(const std::string& target, int dirfd, const std::string& name) {
    if (::symlinkat(target.c_str(), dirfd, name.c_str()) < 0)
        return sys_error("symlink " + name + " -> " + target);
    return {};
}

Status RealSys::fchownat(int dirfd, const std::string& name, uid_t uid, gid_t gid, int flags) {
    if (::fchownat(dirfd, name.c_str(), uid, gid, flags) < 0) return sys_error("chown " + name);
    return {};
}

Status RealSys::fchmodat(int dirfd, const std::string& name, mode_t mode) {
    if (::fchmodat(dirfd, name.c_str(), mode, 0) < 0) return sys_error("chmod " + name);
    return {};
}

Status RealSys::fstatat(int dirfd, const std::string& name, struct stat& st, int flags) {
    if (::fstatat(dirfd, name.c_str(), &st, flags) < 0) return sys_error("stat " + name);
    return {};
}

Status RealSys::write_at(int dirfd, const std::string& name, const std::string& data) {
    unique_fd fd(::openat(dirfd, name.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return sys_error("open " + name);
    if (::write(fd.get(), data.data(), data.size()) < 0) return sys_error("write " + name);
    return {};
}

Status RealSys::sethostname(const std::string& name) {
    if (::sethostname(name.data(), name.size()) < 0) return sys_error("sethostname " + name);
    return {};
}

Status RealSys::setdomainname(const std::string& name) {
    if (::setdomainname(name.data(), name.size()) < 0) return sys_error("setdomainname " + name);
    return {};
}

}  // namespace kapsel::linux
