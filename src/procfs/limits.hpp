// A container's limits as its cgroup says: the reading half of the container-aware
// procfs (issue 14). From /proc/PID/cgroup to the cgroup's files on this host's layout
// (v1, pure v2, hybrid), to a procfs::Limits that answers.hpp turns into /proc files.
// The text parsers are separate pure functions so that every rule is unit-tested.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cgroups/layout.hpp"
#include "procfs/answers.hpp"
#include "util/fd.hpp"
#include "util/result.hpp"

namespace kapsel::procfs {

// One line of /proc/PID/cgroup: "4:memory:/kapsel/c1" or "0::/kapsel/c1".
struct CgroupLine {
    std::vector<std::string> controllers;  // empty: the cgroup2 hierarchy
    std::string path;
};
// Lines that do not have the three fields are skipped.
std::vector<CgroupLine> parse_proc_cgroup(std::string_view text);

// A cgroup path from /proc/PID/cgroup as a path relative to the hierarchy's mount point
// ("" for the root): absolute, no "." or ".." component, no NUL, at most PATH_MAX.
// Anything else is refused: a process can shape what its cgroup namespace shows.
Result<std::string> relative_cgroup_path(std::string_view path);

// "max", a number, or v1's "no limit" (LONG_MAX rounded down to the page size,
// 9223372036854771712 with 4 KiB pages): a byte limit, nullopt for none. Text that is
// not a number is no limit too: the server answers with the host's figure then.
std::optional<uint64_t> parse_byte_limit(std::string_view text);
// A plain counter (memory.current, usage_in_bytes); nullopt on junk.
std::optional<uint64_t> parse_counter(std::string_view text);
// One "KEY VALUE" line's value of memory.stat ("file", "total_cache"); nullopt if absent.
std::optional<uint64_t> parse_stat_value(std::string_view text, std::string_view key);
// v2 cpu.max, "QUOTA PERIOD" or "max PERIOD": the quota in CPUs, nullopt for none.
std::optional<double> parse_cpu_max(std::string_view text);
// v1 cpu.cfs_quota_us and cpu.cfs_period_us: the quota in CPUs, nullopt for none (-1).
std::optional<double> parse_cfs_quota(std::string_view quota, std::string_view period);

// The limits of the cgroups listed in `proc_cgroup` (a /proc/PID/cgroup's text), read
// below the mount points of `layout`. Limits are the lowest along the path up to the
// hierarchy's root (a parent's limit binds its children); a controller the host does
// not have, or a file a cgroup lacks, is no limit. Every file is opened beneath its
// hierarchy's mount point (openat2 RESOLVE_BENEATH) and read with a size bound.
Result<Limits> limits_in(const cgroups::Layout& layout, std::string_view proc_cgroup);

// The directory (an O_PATH fd) of the cgroup that `proc_cgroup` lists for the hierarchy
// with `controller` (the unified one on pure v2), opened beneath its mount point like
// limits_in's; nullopt when the host has no such hierarchy or the process is in none.
Result<std::optional<unique_fd>> cgroup_dir(const cgroups::Layout& layout,
                                            std::string_view proc_cgroup,
                                            std::string_view controller);

// The limits of the process `pid`'s cgroups on this host.
Result<Limits> limits_of(pid_t pid);

// How long ago the process `pid` started, in seconds (its /proc/PID/stat start time
// against /proc/uptime); an error if it is gone.
Result<double> process_age(pid_t pid);

}  // namespace kapsel::procfs
