// /proc/loadavg per container (issue 14): the server counts each container's runnable (R)
// and uninterruptible (D) tasks every 5 s, the kernel's LOAD_FREQ, and keeps the 1, 5
// and 15 minute exponentially decayed averages as the kernel does for the host. A
// container is sampled from the first read of its loadavg until it has not been read
// for 10 minutes or its cgroup is gone; at most kMaxTracked at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "cgroups/layout.hpp"

namespace kapsel::procfs {

constexpr std::chrono::seconds kLoadInterval{5};
constexpr std::chrono::minutes kLoadIdle{10};
constexpr size_t kMaxTracked = 4096;
// A cgroup's tasks counted per sample; a larger one counts as this many.
constexpr size_t kMaxSampledTasks = 65536;

// One sample of a container's tasks.
struct TaskCount {
    size_t running = 0;          // R
    size_t uninterruptible = 0;  // D
    size_t total = 0;
};

// What /proc/loadavg says for a container.
struct Load {
    double one = 0, five = 0, fifteen = 0;
    size_t running = 0, total = 0;
};

// One LOAD_FREQ step of the three averages with `active` (R + D) tasks: the kernel's
// calc_load, a = a * e + active * (1 - e), with e = exp(-5 s / 1, 5, 15 min).
void decay(Load& load, size_t active);
// "0.52 0.30 0.11 1/42 0\n": the last field, the most recently created pid, is 0: the
// host's is a host pid (it would tell the container how busy the host is), and a
// container-local one would take every task's NSpid per sample; nothing reads it to
// size itself.
std::string loadavg_text(const Load& load);

// How the sampler counts a container's tasks; nullopt when its cgroup is gone.
using CountTasks = std::function<std::optional<TaskCount>(const std::string& cgroup)>;
using LoadClock = std::function<std::chrono::steady_clock::time_point()>;

// The tracked containers, by cgroup (a key the CountTasks understands). Thread-safe.
class LoadTable {
  public:
    explicit LoadTable(
        CountTasks count, LoadClock clock = [] { return std::chrono::steady_clock::now(); })
        : count_(std::move(count)), clock_(std::move(clock)) {}

    // The container's load; it is tracked from now on (counted at once the first time).
    // nullopt when its cgroup is gone or kMaxTracked containers are tracked already.
    std::optional<Load> read(const std::string& cgroup);
    // One LOAD_FREQ step for every tracked container; drops the ones not read for
    // kLoadIdle and the ones whose cgroup is gone.
    void sample();
    size_t tracked();

  private:
    struct Entry {
        Load load;
        std::chrono::steady_clock::time_point last_read;
    };
    CountTasks count_;
    LoadClock clock_;
    std::mutex mu_;
    std::map<std::string, Entry> entries_;
};

// Runs LoadTable::sample every kLoadInterval on a thread of its own, from start() until
// it is destroyed. It sleeps without waking while nothing is tracked.
class LoadSampler {
  public:
    explicit LoadSampler(LoadTable& table) : table_(table) {}
    ~LoadSampler();
    // Starts the thread once; later calls do nothing. Also wakes it after a new container
    // is tracked.
    void start();

  private:
    void run(std::stop_token stop);
    LoadTable& table_;
    std::once_flag started_;
    std::mutex mu_;
    std::condition_variable_any wake_;
    std::jthread thread_;
};

// A container's tasks from its cgroup in the hierarchy with cpu (else pids): the
// threads in cgroup.threads (v2) or tasks (v1), each /proc/TID/stat's state. `cgroup`
// is the path relative to that hierarchy's mount point; tasks that vanish meanwhile are
// not counted.
std::optional<TaskCount> count_cgroup_tasks(const cgroups::Layout& layout,
                                            const std::string& cgroup);
// The key of a caller's container for count_cgroup_tasks, from its /proc/PID/cgroup;
// nullopt when it is in no such hierarchy or the path is not acceptable.
std::optional<std::string> load_cgroup_of(const cgroups::Layout& layout,
                                          std::string_view proc_cgroup);

}  // namespace kapsel::procfs
