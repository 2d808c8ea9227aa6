// The files the procfs server shows and how each is answered for a caller: the tree
// (inode numbers, names) and one small renderer per file, behind one interface (Host)
// that gives them the host's files and the caller's limits. The FUSE glue
// (procfs/server.cpp, in kapsel-procfs only) maps requests onto this; the unit tests
// drive it with a fake Host.
#pragma once

#include <fcntl.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cgroups/layout.hpp"
#include "procfs/answers.hpp"
#include "procfs/cache.hpp"
#include "procfs/io.hpp"
#include "procfs/loadavg.hpp"
#include "procfs/sysfs.hpp"
#include "procfs/tasks.hpp"
#include "util/fd.hpp"
#include "util/result.hpp"

namespace kapsel::procfs {

enum class Kind { file, directory, symlink };

// An entry of the host's /sys/devices/system/cpu (sysfs.hpp).
struct SysEntry {
    std::string name;
    Kind kind = Kind::file;
    unsigned perm = 0444;  // the host's permission bits
};

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

    // The host's /sys/devices/system/cpu/PATH ("" for the directory itself), never
    // through a symlink: its kind and mode (the name is PATH's last component), its
    // entries, a file's text, a symlink's target. By default there is none (ENOENT).
    virtual Result<SysEntry> sys_stat(const std::string& path);
    virtual Result<std::vector<SysEntry>> sys_list(const std::string& path);
    virtual Result<std::string> sys_read(const std::string& path);
    virtual Result<std::string> sys_readlink(const std::string& path);

    // The passed-through entries' inode numbers, kept as long as the host.
    PassthroughInodes& inodes() { return inodes_; }

  private:
    PassthroughInodes inodes_;
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
          files_(kCacheTtl, 16, clock), starts_(kCacheTtl, kCacheEntries, clock),
          processes_(layout_), own_ns_(own_pid_ns()) {}
    Result<std::string> read(const std::string& path) override;
    Result<Limits> limits(pid_t caller) override;
    Result<double> age(pid_t caller) override;
    // Starts the load sampler's thread on the first call (so a server that nobody asks
    // for loadavg runs none).
    Result<Load> load(pid_t caller) override;
    Result<IoStats> io(pid_t caller) override;
    Result<std::string> pressure(pid_t caller, std::string_view resource) override;
    Result<SysEntry> sys_stat(const std::string& path) override;
    Result<std::vector<SysEntry>> sys_list(const std::string& path) override;
    Result<std::string> sys_read(const std::string& path) override;
    Result<std::string> sys_readlink(const std::string& path) override;

  private:
    Result<std::string> proc_cgroup(pid_t caller);
    cgroups::Layout layout_;
    // Keyed by the caller's /proc/PID/cgroup text, which is read on every request: a
    // process that moves to another cgroup is answered for the new one at once.
    TtlCache<Limits> limits_;
    TtlCache<std::string> files_;
    // A container's start (clock ticks since boot), by pid namespace or cgroup.
    TtlCache<uint64_t> starts_;
    SystemProcesses processes_;
    std::optional<NsId> own_ns_;
    LoadTable loads_{[this](const std::string& cg) { return count_cgroup_tasks(layout_, cg); }};
    LoadSampler sampler_{loads_};  // after loads_: stopped before it goes
    // The host's /sys/devices/system/cpu, opened once; everything passed through is
    // opened beneath it.
    unique_fd sys_cpu_{::open("/sys/devices/system/cpu", O_PATH | O_DIRECTORY | O_CLOEXEC)};
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

// The tree as the FUSE glue serves it: the fixed nodes above and, below
// sys/devices/system/cpu, the passed-through entries of sysfs.hpp. Errors carry the errno
// to reply with (ENOENT, ENOTDIR, EISDIR, EINVAL, ENOSPC; 0: EIO).
struct Entry {
    uint64_t ino = 0;
    Kind kind = Kind::file;
    unsigned perm = 0444;  // never writable
    // The entry's existence and attributes depend on the caller (cpuN and everything
    // below it): the kernel must not keep it for others (entry and attr timeouts 0).
    bool per_caller = false;
};
struct DirEntry {
    std::string name;
    Entry entry;
};
// The ino of sys/devices/system/cpu, below which entries are passed through.
constexpr uint64_t kCpuDirIno = 11;

// `name` in the directory `parent`, for `caller`.
Result<Entry> lookup(Host& host, uint64_t parent, std::string_view name, pid_t caller);
// The entry with this number, for `caller`.
Result<Entry> entry_of(Host& host, uint64_t ino, pid_t caller);
// A directory's entries for `caller`, "." and ".." first.
Result<std::vector<DirEntry>> list(Host& host, uint64_t dir, pid_t caller);
// A file's text for `caller`, at most kMaxAnswer bytes (answer() for the fixed ones).
Result<std::string> read(Host& host, uint64_t file, pid_t caller);
// A symlink's target (passed through as the host has it).
Result<std::string> readlink(Host& host, uint64_t link, pid_t caller);

}  // namespace kapsel::procfs
