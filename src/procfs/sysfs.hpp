// /sys/devices/system/cpu as a container sees it (issue 14): cpu0..cpuK-1 for its K
// visible CPUs, each the host's directory of the CPU it stands for, and every other
// entry of the host's directory as it is (cpufreq, vulnerabilities, kernel_max, smt, ...).
// The entries below it are passed through read-only: files read with a bound,
// directories listed, symlinks returned as symlinks; nothing is resolved outside the
// host's /sys/devices/system/cpu. Paths here are relative to that directory.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/result.hpp"

namespace kapsel::procfs {

// The path of the host's entry that the container's `path` stands for ("cpu1/topology"
// -> "cpu5/topology" when the container's CPU 1 is the host's 5); nullopt when `path`
// names a CPU the container does not have, or holds ".", ".." or an empty component.
std::optional<std::string> host_cpu_path(std::string_view path,
                                         const std::vector<unsigned>& visible);
// "cpu12" -> 12; nullopt for "cpufreq", "cpu", "cpu01".
std::optional<unsigned> cpu_dir_number(std::string_view name);

// Inode numbers of passed-through entries, by their path as the container sees it: the
// same path has the same number for the server's life (the kernel keeps them in its
// dentries), at most kMaxEntries paths. Thread-safe.
class PassthroughInodes {
  public:
    static constexpr uint64_t kFirst = uint64_t(1) << 32;  // above the fixed tree's
    static constexpr size_t kMaxEntries = 65536;
    // The path's number, made on first use; an error when the table is full.
    Result<uint64_t> ino(const std::string& path);
    // The path of a number handed out, or nullopt.
    std::optional<std::string> path(uint64_t ino);

  private:
    std::mutex mu_;
    std::vector<std::string> paths_;
    std::unordered_map<std::string, uint64_t> inos_;
};

}  // namespace kapsel::procfs
