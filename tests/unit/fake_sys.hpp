// A recording linux::Sys for unit tests: every call is kept as one readable line
// ("fsopen tmpfs -> 100", "mount /src -> /proc/self/fd/101 bind,rec") so a test
// asserts the exact sequence of syscalls without root. Fds are fake, counting up
// from 100; a small model of the file system answers lookups.
//
// How calls read:
//   mount SRC -> TARGET FLAGS [type=T] [data=D]   SRC "" when absent; flags as bind,rec,slave...
//   fsconfig FD string KEY=VALUE | fsconfig FD flag KEY | fsconfig FD create
//   fsmount FD ATTRS -> FD                        ATTRS as ro,nosuid,... or 0
//   open_tree FD [PATH] FLAGS -> FD               PATH omitted when "" with AT_EMPTY_PATH
//   mount_setattr FD [PATH] [recursive] set=.. clear=.. propagation=.. userns=..  (only non-zero
//   parts) move_mount FD -> FD                           both *_EMPTY_PATH; anything else is
//   spelled out openat2 DIRFD PATH FLAGS [in_root] -> FD|ERRNO
// DIRFD is "cwd" for AT_FDCWD. A failed call ends in "-> ENOENT" (its errno name).
// fstatat ends in "=> dir" (or file, chr, symlink): what it found.
#pragma once

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "linux/path.hpp"
#include "linux/sys.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::testing {

class FakeSys final : public linux::Sys {
  public:
    // Every call so far, in order.
    std::vector<std::string> calls;

    // --- telling the fake about the file system ---
    // Unless told otherwise, every path exists and is a directory: a test names
    // only the paths that matter to it. Mounts are recorded, not modelled: a
    // mount does not hide or change what the fake says is below it.

    // `path` and everything below it do not exist (until created through this Sys).
    void missing(const std::string& path) { missing_.insert(fs::clean(path)); }
    // `path` is a directory with nothing in it (a fresh tmpfs).
    void empty_dir(const std::string& path) {
        missing_.insert(fs::clean(path));
        created_.insert(fs::clean(path));
    }
    // `path` is a regular file (default: a directory) for fstatat.
    void file(const std::string& path) { modes_[fs::clean(path)] = S_IFREG | 0644; }
    void mode(const std::string& path, mode_t mode) { modes_[fs::clean(path)] = mode; }
    // From now on, every call whose line starts with `prefix` fails with `err`.
    void fail(const std::string& prefix, int err) { failures_.emplace_back(prefix, err); }
    // An fd the test passes in, as if opened on `path` (e.g. the rootfs).
    int open_dir(const std::string& path) {
        int fd = next_fd_++;
        paths_[fd] = fs::clean(path);
        return fd;
    }
    std::string path_of(int fd) const {
        if (fd == AT_FDCWD) return "/";
        auto it = paths_.find(fd);
        return it == paths_.end() ? "<fd " + std::to_string(fd) + ">" : it->second;
    }
    bool exists(const std::string& path) const {
        std::string p = fs::clean(path);
        if (created_.count(p)) return true;
        for (std::string cur = p;; cur = fs::dirname(cur)) {
            if (missing_.count(cur)) return false;
            if (cur == "/" || cur == ".") return true;
        }
    }

    // The calls whose line starts with one of `prefixes`, e.g. {"mount", "move_mount"}.
    std::vector<std::string> calls_of(std::initializer_list<const char*> prefixes) const {
        std::vector<std::string> out;
        for (auto& c : calls)
            for (auto* p : prefixes)
                if (c.rfind(std::string(p) + " ", 0) == 0) {
                    out.push_back(c);
                    break;
                }
        return out;
    }

    // --- linux::Sys ---

    Status mount(const std::string& source, const std::string& target, const std::string& fstype,
                 unsigned long flags, const std::string& data) override {
        std::string line = "mount " + shown(source) + " -> " + target + " " + ms_flags(flags);
        if (!fstype.empty()) line += " type=" + fstype;
        if (!data.empty()) line += " data=" + data;
        return status(line);
    }
    Status umount2(const std::string& target, int flags) override {
        return status(
            "umount2 " + target + (flags & MNT_DETACH ? " detach" : "") +
            ((flags & ~MNT_DETACH) ? " flags=" + std::to_string(flags & ~MNT_DETACH) : ""));
    }
    Status pivot_root(const std::string& new_root, const std::string& put_old) override {
        return status("pivot_root " + new_root + " " + put_old);
    }
    Status chdir(const std::string& path) override { return status("chdir " + path); }
    Status fchdir(int fd) override { return status("fchdir " + std::to_string(fd)); }
    Status chroot(const std::string& path) override { return status("chroot " + path); }

    Result<unique_fd> fsopen(const std::string& fstype) override {
        return new_fd("fsopen " + fstype, "");
    }
    Status fsconfig(int fsfd, unsigned cmd, const std::string& key,
                    const std::string& value) override {
        std::string line = "fsconfig " + std::to_string(fsfd);
        switch (cmd) {
            case FSCONFIG_SET_STRING:
                line += " string " + key + "=" + value;
                break;
            case FSCONFIG_SET_FLAG:
                line += " flag " + key + (value.empty() ? "" : " value=" + value);
                break;
            case FSCONFIG_CMD_CREATE:
                line += " create" + (key.empty() ? "" : " " + key);
                break;
            default:
                line += " cmd=" + std::to_string(cmd) + " " + key + "=" + value;
        }
        return status(line);
    }
    Result<unique_fd> fsmount(int fsfd, unsigned attr_flags) override {
        return new_fd("fsmount " + std::to_string(fsfd) + " " + attrs(attr_flags), "");
    }
    Result<unique_fd> open_tree(int dirfd, const std::string& path, unsigned flags) override {
        std::string line = "open_tree " + fd_and_path(dirfd, path, flags);
        unsigned rest = flags & ~(path.empty() ? unsigned{AT_EMPTY_PATH} : 0u);
        std::vector<std::string> names;
        if (rest & OPEN_TREE_CLONE) names.push_back("clone"), rest &= ~unsigned{OPEN_TREE_CLONE};
        if (rest & AT_RECURSIVE) names.push_back("recursive"), rest &= ~unsigned{AT_RECURSIVE};
        if (rest & AT_EMPTY_PATH) names.push_back("empty_path"), rest &= ~unsigned{AT_EMPTY_PATH};
        if (rest) names.push_back("0x" + hex(rest));
        line += " " + (names.empty() ? std::string("0") : join(names, ","));
        return new_fd(line, "");
    }
    Status mount_setattr(int dirfd, const std::string& path, unsigned flags,
                         const mount_attr& a) override {
        std::string line = "mount_setattr " + fd_and_path(dirfd, path, flags);
        unsigned rest = flags & ~(path.empty() ? unsigned{AT_EMPTY_PATH} : 0u);
        if (rest & AT_RECURSIVE) line += " recursive", rest &= ~unsigned{AT_RECURSIVE};
        if (rest) line += " flags=0x" + hex(rest);
        if (a.attr_set) line += " set=" + attrs(a.attr_set);
        if (a.attr_clr) line += " clear=" + attrs(a.attr_clr);
        if (a.propagation) line += " propagation=" + ms_flags(a.propagation);
        if (a.attr_set & MOUNT_ATTR_IDMAP) line += " userns=" + std::to_string(a.userns_fd);
        return status(line);
    }
    Status move_mount(int from_dirfd, const std::string& from_path, int to_dirfd,
                      const std::string& to_path, unsigned flags) override {
        constexpr unsigned both = MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH;
        if (from_path.empty() && to_path.empty() && flags == both)
            return status("move_mount " + std::to_string(from_dirfd) + " -> " +
                          std::to_string(to_dirfd));
        return status("move_mount " + fd_str(from_dirfd) + " " + shown(from_path) + " -> " +
                      fd_str(to_dirfd) + " " + shown(to_path) + " flags=0x" + hex(flags));
    }

    Result<unique_fd> openat2(int dirfd, const std::string& path, uint64_t flags, uint64_t mode,
                              uint64_t resolve) override {
        std::string full = fs::clean(fs::join(path_of(dirfd), path));
        std::string line = "openat2 " + fd_str(dirfd) + " " + shown(path) + " " + open_flags(flags);
        if (flags & O_CREAT) line += " mode=0" + oct(static_cast<unsigned>(mode));
        if (resolve == linux::kInRoot)
            line += " in_root";
        else if (resolve)
            line += " resolve=0x" + hex(resolve);
        if (!exists(full)) {
            if (!(flags & O_CREAT)) return record_error(line, ENOENT);
            if (!exists(fs::dirname(full))) return record_error(line, ENOENT);
            created_.insert(full);
            if (!modes_.count(full)) modes_[full] = S_IFREG | static_cast<mode_t>(mode);
        }
        return new_fd(line, full);
    }
    Status mkdirat(int dirfd, const std::string& name, mode_t mode) override {
        std::string full = fs::clean(fs::join(path_of(dirfd), name));
        std::string line = "mkdirat " + fd_str(dirfd) + " " + name + " 0" + oct(mode);
        if (exists(full)) return error(line, EEXIST);
        if (!exists(fs::dirname(full))) return error(line, ENOENT);
        auto st = status(line);
        if (st) created_.insert(full);
        return st;
    }
    Status unlinkat(int dirfd, const std::string& name, int flags) override {
        std::string line = "unlinkat " + fd_str(dirfd) + " " + name + (flags ? " dir" : "");
        std::string full = fs::clean(fs::join(path_of(dirfd), name));
        auto st = status(line);
        if (st) created_.erase(full), modes_.erase(full);
        return st;
    }

    Status mknodat(int dirfd, const std::string& name, mode_t mode, dev_t dev) override {
        char type = S_ISBLK(mode) ? 'b' : S_ISFIFO(mode) ? 'p' : S_ISCHR(mode) ? 'c' : '?';
        std::string line = "mknodat " + fd_str(dirfd) + " " + name + " " + type + " " +
                           std::to_string(major(dev)) + ":" + std::to_string(minor(dev)) + " 0" +
                           oct(mode & 07777);
        std::string full = fs::clean(fs::join(path_of(dirfd), name));
        if (exists(full)) return error(line, EEXIST);
        auto st = status(line);
        if (st) created_.insert(full), modes_[full] = mode;
        return st;
    }
    Status symlinkat(const std::string& target, int dirfd, const std::string& name) override {
        std::string full = fs::clean(fs::join(path_of(dirfd), name));
        std::string line = "symlinkat " + fd_str(dirfd) + " " + name + " => " + target;
        if (exists(full)) return error(line, EEXIST);
        auto st = status(line);
        if (st) created_.insert(full), modes_[full] = S_IFLNK | 0777;
        return st;
    }
    Status fchownat(int dirfd, const std::string& name, uid_t uid, gid_t gid, int flags) override {
        return status("fchownat " + fd_str(dirfd) + " " + shown(name) + " " + std::to_string(uid) +
                      ":" + std::to_string(gid) + (flags & AT_SYMLINK_NOFOLLOW ? " nofollow" : ""));
    }
    Status fchmodat(int dirfd, const std::string& name, mode_t mode) override {
        return status("fchmodat " + fd_str(dirfd) + " " + shown(name) + " 0" + oct(mode));
    }
    Status fstatat(int dirfd, const std::string& name, struct stat& st, int flags) override {
        std::string full = fs::clean(fs::join(path_of(dirfd), name));
        std::string line = "fstatat " + fd_and_path(dirfd, name, static_cast<unsigned>(flags));
        if (flags & AT_SYMLINK_NOFOLLOW) line += " nofollow";
        if (!exists(full)) return error(line, ENOENT);
        st = {};
        auto it = modes_.find(full);
        st.st_mode = it == modes_.end() ? S_IFDIR | 0755 : it->second;
        return status(line + " => " + kind(st.st_mode));
    }
    Status write_at(int dirfd, const std::string& name, const std::string& data) override {
        return status("write_at " + fd_str(dirfd) + " " + name + " " + data);
    }
    Status sethostname(const std::string& name) override { return status("sethostname " + name); }
    Status setdomainname(const std::string& name) override {
        return status("setdomainname " + name);
    }

  private:
    static std::string shown(const std::string& s) { return s.empty() ? "\"\"" : s; }
    static std::string fd_str(int fd) { return fd == AT_FDCWD ? "cwd" : std::to_string(fd); }
    static std::string fd_and_path(int fd, const std::string& path, unsigned flags) {
        if (path.empty() && (flags & AT_EMPTY_PATH)) return fd_str(fd);
        return fd_str(fd) + " " + shown(path);
    }
    static std::string hex(uint64_t v) {
        char buf[32];
        snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
        return buf;
    }
    static std::string oct(unsigned v) {
        char buf[32];
        snprintf(buf, sizeof buf, "%o", v);
        return buf;
    }
    static std::string kind(mode_t m) {
        if (S_ISDIR(m)) return "dir";
        if (S_ISREG(m)) return "file";
        if (S_ISLNK(m)) return "symlink";
        if (S_ISCHR(m)) return "chr";
        if (S_ISBLK(m)) return "blk";
        return "other";
    }
    static std::string names_of(uint64_t v,
                                std::initializer_list<std::pair<uint64_t, const char*>> table) {
        std::vector<std::string> out;
        for (auto& [bit, name] : table)
            if (bit && (v & bit) == bit) out.push_back(name), v &= ~bit;
        if (v) out.push_back("0x" + hex(v));
        return out.empty() ? "0" : join(out, ",");
    }
    static std::string ms_flags(uint64_t f) {
        return names_of(f, {{MS_BIND, "bind"},
                            {MS_MOVE, "move"},
                            {MS_SHARED, "shared"},
                            {MS_SLAVE, "slave"},
                            {MS_PRIVATE, "private"},
                            {MS_UNBINDABLE, "unbindable"},
                            {MS_REC, "rec"},
                            {MS_RDONLY, "rdonly"},
                            {MS_REMOUNT, "remount"},
                            {MS_NOSUID, "nosuid"},
                            {MS_NODEV, "nodev"},
                            {MS_NOEXEC, "noexec"}});
    }
    static std::string attrs(uint64_t a) {
        std::vector<std::string> out;
        if ((a & MOUNT_ATTR__ATIME) == MOUNT_ATTR__ATIME)
            out.push_back("atime"), a &= ~uint64_t{MOUNT_ATTR__ATIME};
        std::string rest = names_of(a, {{MOUNT_ATTR_RDONLY, "ro"},
                                        {MOUNT_ATTR_NOSUID, "nosuid"},
                                        {MOUNT_ATTR_NODEV, "nodev"},
                                        {MOUNT_ATTR_NOEXEC, "noexec"},
                                        {MOUNT_ATTR_NOATIME, "noatime"},
                                        {MOUNT_ATTR_STRICTATIME, "strictatime"},
                                        {MOUNT_ATTR_NODIRATIME, "nodiratime"},
                                        {MOUNT_ATTR_IDMAP, "idmap"},
                                        {MOUNT_ATTR_NOSYMFOLLOW, "nosymfollow"}});
        if (rest != "0" || out.empty()) out.push_back(rest);
        return join(out, ",");
    }
    static std::string open_flags(uint64_t f) {
        f &= ~uint64_t{O_CLOEXEC};
        std::vector<std::string> out;
        int acc = static_cast<int>(f & O_ACCMODE);
        if (!(f & O_PATH))
            out.push_back(acc == O_WRONLY ? "wronly" : acc == O_RDWR ? "rdwr" : "rdonly");
        f &= ~uint64_t{O_ACCMODE};
        std::string rest = names_of(f, {{O_PATH, "path"},
                                        {O_DIRECTORY, "directory"},
                                        {O_CREAT, "creat"},
                                        {O_EXCL, "excl"},
                                        {O_NOCTTY, "noctty"},
                                        {O_NOFOLLOW, "nofollow"},
                                        {O_TRUNC, "trunc"}});
        if (rest != "0") out.push_back(rest);
        return join(out, ",");
    }

    int injected_error(const std::string& line) {
        for (auto& [prefix, err] : failures_)
            if (line.rfind(prefix, 0) == 0) return err;
        return 0;
    }
    Status status(const std::string& line) {
        if (int err = injected_error(line)) return error(line, err);
        calls.push_back(line);
        return {};
    }
    Error error(const std::string& line, int err) {
        calls.push_back(line + " -> " + errno_name(err));
        return Error{err, "fake " + line.substr(0, line.find(' ')) + ": " + errno_text(err)};
    }
    Result<unique_fd> record_error(const std::string& line, int err) { return error(line, err); }
    Result<unique_fd> new_fd(const std::string& line, const std::string& path) {
        if (int err = injected_error(line)) return error(line, err);
        int fd = next_fd_++;
        paths_[fd] = path;
        calls.push_back(line + " -> " + std::to_string(fd));
        // The number is fake; the code under test closes it through unique_fd, which
        // is harmless: nothing in the test process has a descriptor this high.
        return unique_fd(fd);
    }

    std::set<std::string> missing_, created_;
    std::map<std::string, mode_t> modes_;
    std::map<int, std::string> paths_;
    std::vector<std::pair<std::string, int>> failures_;
    int next_fd_ = 100;
};

}  // namespace kapsel::testing
