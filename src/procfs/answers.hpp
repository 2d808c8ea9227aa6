// What a container's /proc and /sys files say, decided from its limits: the pure
// half of the container-aware procfs (issue 14). The server that serves these files
// over FUSE (and sysinfo/sched_getaffinity through seccomp user notification) reads
// the host's file and the caller's cgroup, and hands both to these functions; nothing
// here makes a system call, so every rule is unit-tested on its own.
//
// The rules, as LXCFS keeps them where it has them, so that programs that know LXCFS
// read the same:
// - CPUs: a container sees min(its cpuset, ceil(quota / period)) CPUs, the first ones
//   of its cpuset, numbered from 0 (cpuinfo's "processor", stat's "cpuN",
//   /sys/devices/system/cpu/online);
// - memory: MemTotal is the memory limit (the host's when lower or unset), MemFree
//   what the cgroup does not use of it, Cached/MemAvailable count the cgroup's page
//   cache as reclaimable; Shmem and the slab lines are the cgroup's too (procps and
//   busybox `free` subtract Shmem, SReclaimable and Cached from the total: the host's
//   would exceed a small limit); swap is the memsw/swap.max limit less the memory limit;
// - uptime: since the container's init started; idle time scaled to its CPUs.
#pragma once

#include <sys/sysinfo.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kapsel::procfs {

// One container's limits and usage, as its cgroup tells them (v1 or v2).
struct Limits {
    std::optional<uint64_t> memory_limit;  // bytes; none: unlimited
    uint64_t memory_usage = 0;             // bytes charged to the cgroup, page cache included
    uint64_t memory_cache = 0;             // of that, file-backed (reclaimable)
    uint64_t memory_shmem = 0;             // of that, shared memory and tmpfs
    uint64_t slab_reclaimable = 0;         // kernel memory charged to it (v2 only)
    uint64_t slab_unreclaimable = 0;
    std::optional<uint64_t> swap_limit;    // bytes of swap on top of memory; none: unlimited
    uint64_t swap_usage = 0;
    std::vector<unsigned> cpuset;          // the cpuset's CPUs, ascending; empty: all online
    std::optional<double> cpu_quota;       // quota / period, in CPUs; none: unlimited
};

// The CPUs the container sees, by their host numbers: the first of its cpuset (or of
// the host's online CPUs), as many as its quota allows (at least one).
std::vector<unsigned> visible_cpus(const Limits& l, const std::vector<unsigned>& host_online);

// "0-3", "0,2,5-7": the kernel's list format for a number of CPUs numbered from 0.
std::string cpu_list(size_t count);
// Parses the kernel's list format ("0-3,8"); nullopt on anything else.
std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text);

// /proc/meminfo from the host's, with the container's memory and swap.
std::string meminfo(std::string_view host, const Limits& l);
// /proc/cpuinfo from the host's: the blocks of the visible CPUs, renumbered from 0.
std::string cpuinfo(std::string_view host, const std::vector<unsigned>& visible);
// /proc/stat from the host's: the visible CPUs' lines renumbered, the "cpu" total
// their sum; every other line as the host has it.
std::string stat(std::string_view host, const std::vector<unsigned>& visible);
// /proc/uptime: the container's age and its CPUs' share of the host's idle time.
std::string uptime(double container_age_s, double host_idle_s, size_t host_cpus,
                   size_t visible_cpus);
// /proc/swaps: the header only unless the container may swap (then one line).
std::string swaps(const Limits& l);

// What sysinfo(2) tells a process of the container (busybox and glibc `free` and
// `uptime` ask it, not /proc): the host's answer with the container's memory, swap and
// age; the load averages and process count stay the host's. The host's mem_unit is kept.
struct sysinfo sysinfo_for(const struct sysinfo& host, const Limits& l, double container_age_s);

}  // namespace kapsel::procfs
