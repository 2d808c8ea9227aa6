// The files the procfs server shows and how each is answered for a caller: the tree
// (inode numbers, names) and one small renderer per file, behind one interface (Host)
// that gives them the host's files and the caller's limits. The FUSE glue
// (procfs/server.cpp, in kapsel-procfs only) maps requests onto this; the unit tests
// drive it with a fake Host.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "cgroups/layout.hpp"
#include "procfs/answers.hpp"
#include "procfs/cache.hpp"
#include "procfs/io.hpp"
#include "procfs/loadavg.hpp"
#include "procfs/tasks.hpp"
#include "util/result.hpp"

namespace kapsel::procfs {

// What a file's answer is made of. The server's is SystemHost; a test's gives fixed
// answers.
class Host {
  public:
    virtual ~Host() = default;
    // A host file's text: /proc/meminfo, /sys/devices/system/cpu/online, ...
    virtual Result<std::string> read(const std::string& path) = 0;
    // The limits of the caller's cgroups; an error if the process is gone.
    virtual Result<Limits> limits(pid_t caller) = 0;
    // How long ago the caller's container started, in seconds (tasks.hpp says which
    // process's start that is).
    virtual Result<double> age(pid_t caller) = 0;
    // The load of the caller's container (loadavg.hpp). By default the host's, from its
    // /proc/loadavg: what a host without a sampler (a test's) says.
    virtual Result<Load> load(pid_t caller);
    // The I/O counters of the caller's cgroup (io.hpp). By default none: every device
    // reads zeros.
    virtual Result<IoStats> io(pid_t caller);
    // The caller's cgroup's pressure file for "cpu", "memory" or "io". By default the
    // host's /proc/pressure/RESOURCE.
    virtual Result<std::string> pressure(pid_t caller, std::string_view resource);
};

// How long SystemHost keeps a cgroup's limits and the host's nearly static files
// (cpuinfo, the online CPU list): a container sees a changed limit (kapsel update) or a
// CPU brought online at most this late. The fresh counters (meminfo, stat, uptime) are
// read on every request.
constexpr std::chrono::milliseconds kCacheTtl{100};
// Distinct cgroups (and host files) kept at once; more within kCacheTtl empty the cache.
constexpr size_t kCacheEntries = 4096;

// The real host: files read from / with a bound, limits read below the cgroup layout
// detected once when the server starts (not per read). Thread-safe: the server's threads
// share one.
class SystemHost : public Host {
  public:
    explicit SystemHost(cgroups::Layout layout, SteadyClock clock = [] {
        return std::chrono::steady_clock::now();
    })
        : layout_(std::move(layout)), limits_(kCacheTtl, kCacheEntries, clock),
          files_(kCacheTtl, 16, clock), processes_(layout_), own_ns_(own_pid_ns()) {}
    Result<std::string> read(const std::string& path) override;
    Result<Limits> limits(pid_t caller) override;
    Result<double> age(pid_t caller) override;
    // Starts the load sampler's thread on the first call (so a server that nobody asks
    // for loadavg runs none).
    Result<Load> load(pid_t caller) override;
    Result<IoStats> io(pid_t caller) override;
    Result<std::string> pressure(pid_t caller, std::string_view resource) override;

  private:
    Result<std::string> proc_cgroup(pid_t caller);
    cgroups::Layout layout_;
    // Keyed by the caller's /proc/PID/cgroup text, which is read on every request: a
    // process that moves to another cgroup is answered for the new one at once.
    TtlCache<Limits> limits_;
    TtlCache<std::string> files_;
    SystemProcesses processes_;
    std::optional<NsId> own_ns_;
    LoadTable loads_{[this](const std::string& cg) { return count_cgroup_tasks(layout_, cg); }};
    LoadSampler sampler_{loads_};  // after loads_: stopped before it goes
};

// A file's answer for `caller`; nullptr for a directory.
using Render = Result<std::string> (*)(Host& host, pid_t caller);

// One entry of the tree. Inode numbers are fixed (the tree never changes); 1 is the root.
struct Node {
    uint64_t ino;
    uint64_t parent;
    std::string_view name;
    Render render;
};

constexpr uint64_t kRootIno = 1;
// No answer is larger: a caller cannot make the server hold more per open file.
constexpr size_t kMaxAnswer = 1 << 20;

// Every node, the root first.
std::span<const Node> tree();
// The node with this inode number, or nullptr.
const Node* find_node(uint64_t ino);
// The entry `name` of the directory `parent`, or nullptr.
const Node* find_child(uint64_t parent, std::string_view name);

// The file's text for `caller`, at most kMaxAnswer bytes; an error if the caller is gone,
// a host file cannot be read, or the answer would be larger.
Result<std::string> answer(const Node& file, Host& host, pid_t caller);

}  // namespace kapsel::procfs
