// The container's /sys/devices/system/cpu: paths and inode numbers (see sysfs.hpp).
#include "procfs/sysfs.hpp"

#include <cerrno>

#include "util/strings.hpp"

namespace kapsel::procfs {

std::optional<unsigned> cpu_dir_number(std::string_view name) {
    if (name.size() < 4 || name.size() > 8 || name.substr(0, 3) != "cpu") return std::nullopt;
    std::string_view digits = name.substr(3);
    if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
    unsigned n = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + unsigned(c - '0');
    }
    return n;
}

std::optional<std::string> host_cpu_path(std::string_view path,
                                         const std::vector<unsigned>& visible) {
    std::vector<std::string> parts = split(path, '/');
    if (parts.empty()) return std::nullopt;
    for (auto& p : parts)
        if (p.empty() || p == "." || p == "..") return std::nullopt;
    if (auto n = cpu_dir_number(parts[0])) {
        if (*n >= visible.size()) return std::nullopt;
        parts[0] = "cpu" + std::to_string(visible[*n]);
    }
    return join(parts, "/");
}

Result<uint64_t> PassthroughInodes::ino(const std::string& path) {
    std::lock_guard lock(mu_);
    if (auto it = inos_.find(path); it != inos_.end()) return it->second;
    if (paths_.size() >= kMaxEntries)
        return sys_error("a number for /sys/devices/system/cpu/" + path.substr(0, 200), ENOSPC);
    uint64_t ino = kFirst + paths_.size();
    paths_.push_back(path);
    inos_.emplace(path, ino);
    return ino;
}

std::optional<std::string> PassthroughInodes::path(uint64_t ino) {
    std::lock_guard lock(mu_);
    if (ino < kFirst || ino - kFirst >= paths_.size()) return std::nullopt;
    return paths_[ino - kFirst];
}

}  // namespace kapsel::procfs
