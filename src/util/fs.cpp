// Host-side file helpers.
#include "util/fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <vector>

#include "util/strings.hpp"

namespace kapsel::fs {

Result<std::string> read_fd(int fd, const std::string& what, size_t max) {
    std::string out;
    char buf[8192];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("read " + what);
        }
        if (n == 0) break;
        if (static_cast<size_t>(n) > max - out.size())
            return make_error("read " + what + ": larger than " + std::to_string(max) + " bytes");
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

Result<std::string> read_file(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return sys_error("open " + path);
    return read_fd(fd.get(), path);
}

Result<std::string> read_file_at(int dirfd, const std::string& name) {
    unique_fd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return sys_error("open " + name);
    return read_fd(fd.get(), name);
}

Result<unique_fd> openat2(int dirfd, const std::string& path, uint64_t flags, uint64_t resolve) {
    open_how how{};
    how.flags = flags | O_CLOEXEC;
    how.resolve = resolve;
    int fd = static_cast<int>(::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how));
    if (fd < 0) return sys_error("open " + path);
    return unique_fd(fd);
}

Status write_all(int fd, std::string_view data, const std::string& what) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("write " + what);
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

Status write_file(const std::string& path, std::string_view data, int flags) {
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | flags, 0644));
    if (!fd) return sys_error("open " + path);
    return write_all(fd.get(), data, path);
}

Status write_file_atomic(const std::string& path, std::string_view data, int mode) {
    std::string tmp = path + ".tmp" + std::to_string(::getpid());
    unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd) return sys_error("create " + tmp);
    if (auto st = write_all(fd.get(), data, tmp); !st) {
        ::unlink(tmp.c_str());
        return st;
    }
    if (::rename(tmp.c_str(), path.c_str()) < 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        return sys_error("rename " + tmp + " to " + path, e);
    }
    return {};
}

Status mkdir_p(const std::string& path, int mode) {
    if (path.empty()) return {};
    std::string cur;
    for (auto& part : split(path, '/')) {
        if (part.empty()) {
            if (cur.empty()) cur = "/";
            continue;
        }
        if (!cur.empty() && cur.back() != '/') cur += '/';
        cur += part;
        if (::mkdir(cur.c_str(), static_cast<mode_t>(mode)) < 0 && errno != EEXIST)
            return sys_error("mkdir " + cur);
    }
    return {};
}

static Status remove_at(int dirfd, const std::string& name, const std::string& shown) {
    if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return {};
    if (errno != EISDIR) return sys_error("remove " + shown);
    unique_fd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) return sys_error("open " + shown);
    DIR* d = ::fdopendir(::dup(sub.get()));
    if (!d) return sys_error("opendir " + shown);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
    for (auto& n : names) {
        auto st = remove_at(sub.get(), n, shown + "/" + n);
        if (!st) return st;
    }
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) < 0 && errno != ENOENT)
        return sys_error("remove " + shown);
    return {};
}

Status remove_tree(const std::string& path) {
    return remove_at(AT_FDCWD, path, path);
}

bool exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

std::string join(std::string_view a, std::string_view b) {
    if (a.empty()) return std::string(b);
    if (b.empty()) return std::string(a);
    std::string out(a);
    if (out.back() != '/') out += '/';
    while (!b.empty() && b.front() == '/') b.remove_prefix(1);
    out += b;
    return out;
}

std::string clean(std::string_view path) {
    bool abs = !path.empty() && path.front() == '/';
    std::vector<std::string> parts;
    for (auto& p : split(path, '/')) {
        if (p.empty() || p == ".") continue;
        if (p == "..") {
            if (!parts.empty() && parts.back() != "..")
                parts.pop_back();
            else if (!abs)
                parts.push_back("..");
            continue;
        }
        parts.push_back(p);
    }
    std::string out = (abs ? "/" : "") + kapsel::join(parts, "/");
    return out.empty() ? "." : out;
}

std::string absolute(std::string_view path) {
    if (!path.empty() && path.front() == '/') return clean(path);
    char cwd[PATH_MAX];
    if (!::getcwd(cwd, sizeof cwd)) return clean(path);
    return clean(join(cwd, path));
}

std::string dirname(std::string_view path) {
    auto pos = path.rfind('/');
    if (pos == std::string_view::npos) return ".";
    if (pos == 0) return "/";
    return std::string(path.substr(0, pos));
}

std::string basename(std::string_view path) {
    auto pos = path.rfind('/');
    return std::string(pos == std::string_view::npos ? path : path.substr(pos + 1));
}

void close_all_except(std::vector<int> keep) {
    std::sort(keep.begin(), keep.end());
    unsigned from = 3;
    for (int fd : keep) {
        if (fd < static_cast<int>(from)) continue;
        if (static_cast<unsigned>(fd) > from)
            ::syscall(SYS_close_range, from, static_cast<unsigned>(fd) - 1, 0);
        from = static_cast<unsigned>(fd) + 1;
    }
    ::syscall(SYS_close_range, from, ~0u, 0);
}

}  // namespace kapsel::fs
