// In-root path resolution.
#include "linux/path.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <vector>

#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::linux {

static std::string rel(const std::string& path) {
    std::string p = fs::clean("/" + path);
    return p == "/" ? "." : p.substr(1);
}

Result<unique_fd> open_in_root(Sys& sys, int rootfd, const std::string& path, uint64_t flags) {
    return sys.openat2(rootfd, rel(path), flags, 0, kInRoot);
}

static Result<unique_fd> mkdir_in_root_depth(Sys& sys, int rootfd, const std::string& path,
                                             mode_t mode, int depth);

// `prefix` (relative to the root) is a symlink whose target does not exist yet:
// create the target, resolved as the symlink would be inside the root.
static Status create_link_target(Sys& sys, int rootfd, int dirfd, const std::string& name,
                                 const std::string& prefix, mode_t mode, int depth) {
    char buf[4096];
    ssize_t n = ::readlinkat(dirfd, name.c_str(), buf, sizeof buf - 1);
    if (n < 0) return sys_error("readlink " + prefix);
    std::string target(buf, static_cast<size_t>(n));
    std::string resolved =
        target.front() == '/' ? target : fs::dirname("/" + prefix) + "/" + target;
    KAPSEL_TRY(mkdir_in_root_depth(sys, rootfd, resolved, mode, depth + 1));
    return {};
}

static Result<unique_fd> mkdir_in_root_depth(Sys& sys, int rootfd, const std::string& path,
                                             mode_t mode, int depth) {
    // The kernel's own limit on nested symlinks.
    if (depth > 40) return Error{ELOOP, "create " + path + ": too many levels of symbolic links"};
    std::string r = rel(path);
    auto fd = sys.openat2(rootfd, r, O_PATH | O_DIRECTORY, 0, kInRoot);
    if (fd || fd.error().code != ENOENT) return fd;

    std::vector<std::string> parts;
    for (auto& p : split(r, '/'))
        if (!p.empty() && p != ".") parts.push_back(p);
    std::string prefix;
    unique_fd dir = KAPSEL_TRY(sys.openat2(rootfd, ".", O_PATH | O_DIRECTORY, 0, kInRoot));
    for (auto& part : parts) {
        std::string next = prefix.empty() ? part : prefix + "/" + part;
        auto sub = sys.openat2(rootfd, next, O_PATH | O_DIRECTORY, 0, kInRoot);
        if (!sub && sub.error().code == ENOENT) {
            // `dir` was reached through the root-scoped walk, so creating `part`
            // in it cannot land outside the root.
            auto made = sys.mkdirat(dir.get(), part, mode);
            if (!made && made.error().code == EEXIST) {
                // A dangling symlink: its target, within the root, is what to create.
                KAPSEL_TRY_CTX(create_link_target(sys, rootfd, dir.get(), part, next, mode, depth),
                               "create " + path);
            } else if (!made) {
                return std::move(made).error().context("create " + path);
            }
            sub = sys.openat2(rootfd, next, O_PATH | O_DIRECTORY, 0, kInRoot);
        }
        if (!sub) return std::move(sub).error().context("create " + path);
        dir = std::move(*sub);
        prefix = next;
    }
    return dir;
}

Result<unique_fd> mkdir_in_root(Sys& sys, int rootfd, const std::string& path, mode_t mode) {
    return mkdir_in_root_depth(sys, rootfd, path, mode, 0);
}

Result<unique_fd> ensure_mountpoint(Sys& sys, int rootfd, const std::string& path, bool directory) {
    if (directory) return mkdir_in_root(sys, rootfd, path);
    std::string r = rel(path);
    auto fd = sys.openat2(rootfd, r, O_PATH, 0, kInRoot);
    if (fd || fd.error().code != ENOENT) return fd;
    KAPSEL_TRY(mkdir_in_root(sys, rootfd, fs::dirname("/" + r)));
    auto created = sys.openat2(rootfd, r, O_CREAT | O_RDONLY | O_NOCTTY, 0644, kInRoot);
    if (!created && created.error().code != EEXIST)
        return std::move(created).error().context("create " + path);
    return sys.openat2(rootfd, r, O_PATH, 0, kInRoot);
}

}  // namespace kapsel::linux
