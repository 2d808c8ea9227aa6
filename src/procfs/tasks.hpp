// Which processes make up a caller's container, for the answers that are about the
// container rather than its limits: its age (/proc/uptime, from the container's start)
// and its tasks (/proc/loadavg). The decisions are pure functions over a Processes
// interface, unit-tested with a fake; SystemProcesses reads /proc and the cgroup files.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "cgroups/layout.hpp"

namespace kapsel::procfs {

// The fields of /proc/PID/stat (or /proc/PID/task/TID/stat) that the server uses.
struct TaskStat {
    char state = '?';  // R running, D uninterruptible, S, Z, ...
    pid_t ppid = 0;
    uint64_t start_ticks = 0;  // since boot, in clock ticks
};
// nullopt when the text is not a stat line (the comm field may hold spaces and ')').
std::optional<TaskStat> parse_task_stat(std::string_view text);

// A pid namespace's identity: the device and inode of /proc/PID/ns/pid.
struct NsId {
    uint64_t dev = 0;
    uint64_t ino = 0;
    bool operator==(const NsId&) const = default;
};

// No more PPid steps are taken looking for a namespace's init; no more of a cgroup's
// processes are looked at for its oldest.
constexpr size_t kMaxWalk = 4096;
constexpr size_t kMaxCgroupTasks = 4096;

// What the server can learn about processes; each is nullopt or empty when the process
// is gone.
class Processes {
  public:
    virtual ~Processes() = default;
    virtual std::optional<NsId> pid_ns(pid_t pid) = 0;
    virtual std::optional<TaskStat> stat(pid_t pid) = 0;
    // The processes of `pid`'s cgroup (cgroup.procs), at most kMaxCgroupTasks.
    virtual std::vector<pid_t> cgroup_processes(pid_t pid) = 0;
};

// The process whose start is the caller's container's start:
// - a caller in another pid namespace than the server's: that namespace's init, found by
//   walking PPid up while the parent is in the caller's namespace (at most kMaxWalk);
// - a caller in the server's pid namespace (a container without one, or the host):
//   the oldest process of its cgroup;
// - the caller itself when neither can be told (processes that vanish on the way).
// nullopt when the caller is gone.
std::optional<pid_t> container_init(Processes& procs, pid_t caller, const NsId& server_ns);

// A list file of a cgroup (cgroup.procs, cgroup.threads, tasks) below `dirfd`: its first
// `max` bytes, cut to whole lines when it is longer; nullopt if it cannot be read.
std::optional<std::string> read_list(int dirfd, const std::string& name, size_t max);

// "12\n345\n" (cgroup.procs, cgroup.threads, tasks): at most `max` pids; junk lines skipped.
std::vector<pid_t> parse_pid_list(std::string_view text, size_t max);

// The real processes: /proc, and the cgroup of the hierarchy with cpu, memory or pids
// (the first the host has: the ones whose limits the server shows, so a container's
// cgroup there is its own), read below `layout`'s mount points.
class SystemProcesses : public Processes {
  public:
    explicit SystemProcesses(const cgroups::Layout& layout) : layout_(layout) {}
    std::optional<NsId> pid_ns(pid_t pid) override;
    std::optional<TaskStat> stat(pid_t pid) override;
    std::vector<pid_t> cgroup_processes(pid_t pid) override;

  private:
    const cgroups::Layout& layout_;
};

// The server's own pid namespace; nullopt if /proc/self/ns/pid cannot be read.
std::optional<NsId> own_pid_ns();

}  // namespace kapsel::procfs
