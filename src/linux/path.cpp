// In-root path resolution.
#include "linux/path.hpp"

#include <fcntl.h>

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

Result<unique_fd> mkdir_in_root(Sys& sys, int rootfd, const std::string& path, mode_t mode) {
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
            if (!made && made.error().code != EEXIST) return std::move(made).error().context("create " + path);
            sub = sys.openat2(rootfd, next, O_PATH | O_DIRECTORY, 0, kInRoot);
        }
        if (!sub) return std::move(sub).error().context("create " + path);
        dir = std::move(*sub);
        prefix = next;
    }
    return dir;
}

Result<unique_fd> ensure_mountpoint(Sys& sys, int rootfd, const std::string& path, bool directory) {
    if (directory) return mkdir_in_root(sys, rootfd, path);
    std::string r = rel(path);
    auto fd = sys.openat2(rootfd, r, O_PATH, 0, kInRoot);
    if (fd || fd.error().code != ENOENT) return fd;
    KAPSEL_TRY(mkdir_in_root(sys, rootfd, fs::dirname("/" + r)));
    auto created = sys.openat2(rootfd, r, O_CREAT | O_RDONLY | O_NOCTTY, 0644, kInRoot);
    if (!created && created.error().code != EEXIST) return std::move(created).error().context("create " + path);
    return sys.openat2(rootfd, r, O_PATH, 0, kInRoot);
}

}  // namespace kapsel::linux
