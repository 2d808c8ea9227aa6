// The syscalls that shape a container's file system, behind one thin interface.
// RealSys calls the kernel; tests/unit/fake_sys.hpp records the calls, so a test
// can assert "these mounts, in this order, with these flags" without root.
#pragma once

#include <linux/mount.h>
#include <sys/stat.h>

#include <string>

#include "util/fd.hpp"
#include "util/result.hpp"

namespace kapsel::linux {

class Sys {
  public:
    virtual ~Sys() = default;

    // Classic mount(2) family.
    virtual Status mount(const std::string& source, const std::string& target,
                         const std::string& fstype, unsigned long flags,
                         const std::string& data) = 0;
    virtual Status umount2(const std::string& target, int flags) = 0;
    virtual Status pivot_root(const std::string& new_root, const std::string& put_old) = 0;
    virtual Status chdir(const std::string& path) = 0;
    virtual Status fchdir(int fd) = 0;
    virtual Status chroot(const std::string& path) = 0;

    // The fd-based mount API: nothing is resolved by path once the fds exist.
    virtual Result<unique_fd> fsopen(const std::string& fstype) = 0;
    virtual Status fsconfig(int fsfd, unsigned cmd, const std::string& key,
                            const std::string& value) = 0;
    virtual Result<unique_fd> fsmount(int fsfd, unsigned attr_flags) = 0;
    virtual Result<unique_fd> open_tree(int dirfd, const std::string& path, unsigned flags) = 0;
    virtual Status mount_setattr(int dirfd, const std::string& path, unsigned flags,
                                 const mount_attr& attr) = 0;
    virtual Status move_mount(int from_dirfd, const std::string& from_path, int to_dirfd,
                              const std::string& to_path, unsigned flags) = 0;

    // Files, resolved relative to a directory fd.
    virtual Result<unique_fd> openat2(int dirfd, const std::string& path, uint64_t flags,
                                      uint64_t mode, uint64_t resolve) = 0;
    virtual Status mkdirat(int dirfd, const std::string& name, mode_t mode) = 0;
    virtual Status mknodat(int dirfd, const std::string& name, mode_t mode, dev_t dev) = 0;
    virtual Status unlinkat(int dirfd, const std::string& name, int flags) = 0;
    virtual Status symlinkat(const std::string& target, int dirfd, const std::string& name) = 0;
    virtual Status fchownat(int dirfd, const std::string& name, uid_t uid, gid_t gid,
                            int flags) = 0;
    virtual Status fchmodat(int dirfd, const std::string& name, mode_t mode) = 0;
    virtual Status fstatat(int dirfd, const std::string& name, struct stat& st, int flags) = 0;
    virtual Status write_at(int dirfd, const std::string& name, const std::string& data) = 0;

    virtual Status sethostname(const std::string& name) = 0;
    virtual Status setdomainname(const std::string& name) = 0;
};

// The kernel.
class RealSys final : public Sys {
  public:
    Status mount(const std::string& source, const std::string& target, const std::string& fstype,
                 unsigned long flags, const std::string& data) override;
    Status umount2(const std::string& target, int flags) override;
    Status pivot_root(const std::string& new_root, const std::string& put_old) override;
    Status chdir(const std::string& path) override;
    Status fchdir(int fd) override;
    Status chroot(const std::string& path) override;
    Result<unique_fd> fsopen(const std::string& fstype) override;
    Status fsconfig(int fsfd, unsigned cmd, const std::string& key,
                    const std::string& value) override;
    Result<unique_fd> fsmount(int fsfd, unsigned attr_flags) override;
    Result<unique_fd> open_tree(int dirfd, const std::string& path, unsigned flags) override;
    Status mount_setattr(int dirfd, const std::string& path, unsigned flags,
                         const mount_attr& attr) override;
    Status move_mount(int from_dirfd, const std::string& from_path, int to_dirfd,
                      const std::string& to_path, unsigned flags) override;
    Result<unique_fd> openat2(int dirfd, const std::string& path, uint64_t flags, uint64_t mode,
                              uint64_t resolve) override;
    Status mkdirat(int dirfd, const std::string& name, mode_t mode) override;
    Status mknodat(int dirfd, const std::string& name, mode_t mode, dev_t dev) override;
    Status unlinkat(int dirfd, const std::string& name, int flags) override;
    Status symlinkat(const std::string& target, int dirfd, const std::string& name) override;
    Status fchownat(int dirfd, const std::string& name, uid_t uid, gid_t gid, int flags) override;
    Status fchmodat(int dirfd, const std::string& name, mode_t mode) override;
    Status fstatat(int dirfd, const std::string& name, struct stat& st, int flags) override;
    Status write_at(int dirfd, const std::string& name, const std::string& data) override;
    Status sethostname(const std::string& name) override;
    Status setdomainname(const std::string& name) override;
};

}  // namespace kapsel::linux
