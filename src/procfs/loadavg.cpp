// Per-container load averages, sampled by the server (see loadavg.hpp).
#include "procfs/loadavg.hpp"

#include <malloc.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>

#include "procfs/limits.hpp"
#include "procfs/tasks.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kapsel::procfs {
namespace {

const cgroups::Hierarchy* load_hierarchy(const cgroups::Layout& layout) {
    const cgroups::Hierarchy* h = layout.find("cpu");
    return h ? h : layout.find("pids");
}

}  // namespace

void decay(Load& load, size_t active) {
    static const double e1 = std::exp(-5.0 / 60), e5 = std::exp(-5.0 / 300),
                        e15 = std::exp(-5.0 / 900);
    double n = static_cast<double>(active);
    load.one = load.one * e1 + n * (1 - e1);
    load.five = load.five * e5 + n * (1 - e5);
    load.fifteen = load.fifteen * e15 + n * (1 - e15);
}

std::string loadavg_text(const Load& load) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f %zu/%zu 0\n", load.one, load.five, load.fifteen,
                  load.running, load.total);
    return buf;
}

std::optional<Load> LoadTable::read(const std::string& cgroup) {
    auto now = clock_();
    {
        std::lock_guard lock(mu_);
        if (auto it = entries_.find(cgroup); it != entries_.end()) {
            it->second.last_read = now;
            return it->second.load;
        }
        if (entries_.size() >= kMaxTracked) return std::nullopt;
    }
    // Counted outside the lock: a large cgroup takes a while, and other readers wait not.
    auto count = count_(cgroup);
    if (!count) return std::nullopt;
    std::lock_guard lock(mu_);
    if (entries_.size() >= kMaxTracked && !entries_.count(cgroup)) return std::nullopt;
    auto& e = entries_[cgroup];
    e.last_read = now;
    // The averages start at 0, as the kernel's do at boot; the task counts are current.
    e.load.running = count->running;
    e.load.total = count->total;
    return e.load;
}

void LoadTable::sample() {
    std::vector<std::string> keys;
    {
        std::lock_guard lock(mu_);
        auto now = clock_();
        std::erase_if(entries_, [&](auto& e) { return now - e.second.last_read >= kLoadIdle; });
        for (auto& [k, e] : entries_) keys.push_back(k);
    }
    for (auto& k : keys) {
        auto count = count_(k);
        std::lock_guard lock(mu_);
        auto it = entries_.find(k);
        if (it == entries_.end()) continue;
        if (!count) {
            entries_.erase(it);  // the cgroup is gone: so is the container
            continue;
        }
        decay(it->second.load, count->running + count->uninterruptible);
        it->second.load.running = count->running;
        it->second.load.total = count->total;
    }
}

size_t LoadTable::tracked() {
    std::lock_guard lock(mu_);
    return entries_.size();
}

LoadSampler::~LoadSampler() {
    if (thread_.joinable()) {
        thread_.request_stop();
        { std::lock_guard lock(mu_); }
        wake_.notify_all();
        thread_.join();
    }
}

void LoadSampler::start() {
    std::call_once(started_,
                   [&] { thread_ = std::jthread([this](std::stop_token s) { run(s); }); });
    std::lock_guard lock(mu_);
    wake_.notify_all();
}

void LoadSampler::run(std::stop_token stop) {
    std::unique_lock lock(mu_);
    while (!stop.stop_requested()) {
        // Nothing tracked: no wake-ups at all until a container reads its loadavg.
        if (!wake_.wait(lock, stop, [&] { return table_.tracked() > 0; })) break;
        // Steps of kLoadInterval from now on, as the kernel's every LOAD_FREQ.
        if (wake_.wait_for(lock, stop, kLoadInterval, [] { return false; })) break;
        if (stop.stop_requested()) break;
        lock.unlock();
        table_.sample();
        // What the containers that are gone held (their entries here, their answers and
        // cached limits) goes back to the system, not only to malloc: the server's
        // resident size follows the containers it serves, not the most it ever served.
        ::malloc_trim(0);
        lock.lock();
    }
}

std::optional<TaskCount> count_cgroup_tasks(const cgroups::Layout& layout,
                                            const std::string& cgroup) {
    const cgroups::Hierarchy* h = load_hierarchy(layout);
    if (!h) return std::nullopt;
    unique_fd mount(::open(h->mount_point.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!mount) return std::nullopt;
    // The key came from a /proc/PID/cgroup (relative_cgroup_path checked it); it is still
    // resolved beneath the mount point only.
    auto dir = fs::openat2(
        mount.get(), cgroup.empty() ? "." : cgroup, O_PATH | O_DIRECTORY,
        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
    if (!dir) return std::nullopt;
    auto list = read_list(dir->get(), h->v2 ? "cgroup.threads" : "tasks", kMaxSampledTasks * 8);
    if (!list) return std::nullopt;
    TaskCount out;
    SystemProcesses procs(layout);
    for (pid_t tid : parse_pid_list(*list, kMaxSampledTasks)) {
        auto s = procs.stat(tid);
        if (!s) continue;  // exited since the list was read
        ++out.total;
        if (s->state == 'R') ++out.running;
        if (s->state == 'D') ++out.uninterruptible;
    }
    return out;
}

std::optional<std::string> load_cgroup_of(const cgroups::Layout& layout,
                                          std::string_view proc_cgroup) {
    const cgroups::Hierarchy* h = load_hierarchy(layout);
    if (!h) return std::nullopt;
    for (auto& line : parse_proc_cgroup(proc_cgroup)) {
        bool match = h->v2 ? line.controllers.empty()
                           : std::find_first_of(line.controllers.begin(), line.controllers.end(),
                                                h->controllers.begin(),
                                                h->controllers.end()) != line.controllers.end();
        if (!match) continue;
        auto rel = relative_cgroup_path(line.path);
        if (!rel) return std::nullopt;
        return std::move(*rel);
    }
    return std::nullopt;
}

}  // namespace kapsel::procfs
