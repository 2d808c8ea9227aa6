// A caller's container: its init and its processes (see tasks.hpp).
#include "procfs/tasks.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "procfs/limits.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::procfs {
namespace {

// A stat line is under 1 KiB; /proc/PID/cgroup one line per hierarchy.
constexpr size_t kMaxStat = 4096;
constexpr size_t kMaxProcCgroup = 64 * 1024;
// cgroup.procs with kMaxCgroupTasks pids of up to 7 digits and a newline each, and some
// room: what is beyond is not read.
constexpr size_t kMaxPidList = kMaxCgroupTasks * 8;

std::optional<std::string> read_small(int dirfd, const std::string& path, size_t max) {
    unique_fd fd(::openat(dirfd, path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd) return std::nullopt;
    auto text = fs::read_fd(fd.get(), path, max);
    if (!text) return std::nullopt;
    return std::move(*text);
}


}  // namespace

std::optional<TaskStat> parse_task_stat(std::string_view text) {
    // pid (comm) state ppid ...: the comm may contain anything but is at most 16 bytes
    // and ends at the last ')'.
    size_t close = text.rfind(')');
    if (close == std::string_view::npos || close + 2 >= text.size()) return std::nullopt;
    auto fields = split(text.substr(close + 2), ' ');
    // fields[0] is field 3 (state), fields[1] ppid, fields[19] starttime (field 22).
    if (fields.size() < 20 || fields[0].size() != 1) return std::nullopt;
    auto ppid = parse_int(fields[1]);
    auto start = parse_uint(fields[19]);
    if (!ppid || *ppid < 0 || !start) return std::nullopt;
    return TaskStat{
        .state = fields[0][0], .ppid = static_cast<pid_t>(*ppid), .start_ticks = *start};
}

std::optional<pid_t> container_init(Processes& procs, pid_t caller, const NsId& server_ns) {
    auto ns = procs.pid_ns(caller);
    if (!ns) return std::nullopt;
    if (*ns == server_ns) {
        // No pid namespace of its own: the container is its cgroup; its first process
        // is the oldest still there (the init, unless it has exited).
        pid_t oldest = caller;
        auto mine = procs.stat(caller);
        if (!mine) return std::nullopt;
        uint64_t start = mine->start_ticks;
        auto members = procs.cgroup_processes(caller);
        for (size_t i = 0; i < members.size() && i < kMaxCgroupTasks; ++i) {
            auto s = procs.stat(members[i]);
            if (s && s->start_ticks < start) {
                start = s->start_ticks;
                oldest = members[i];
            }
        }
        return oldest;
    }
    // The parent chain inside the namespace ends at its init, whose parent is outside
    // (or 0). The namespace is compared by its inode, which a process cannot fake the
    // way it can rename itself; the walk is bounded so a racing tree cannot hold it.
    pid_t at = caller;
    for (size_t step = 0; step < kMaxWalk; ++step) {
        auto s = procs.stat(at);
        if (!s || s->ppid <= 0) break;
        auto parent_ns = procs.pid_ns(s->ppid);
        if (!parent_ns || !(*parent_ns == *ns)) break;
        at = s->ppid;
    }
    return at;
}

std::vector<pid_t> parse_pid_list(std::string_view text, size_t max) {
    std::vector<pid_t> out;
    while (!text.empty() && out.size() < max) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        auto v = parse_int(line);
        if (v && *v > 0 && *v <= INT32_MAX) out.push_back(static_cast<pid_t>(*v));
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
    return out;
}

std::optional<NsId> SystemProcesses::pid_ns(pid_t pid) {
    if (pid <= 0) return std::nullopt;
    struct stat st {};
    // stat follows the magic link to the namespace's nsfs inode: its identity, not the
    // "pid:[N]" text a readlink would give.
    std::string path = "/proc/" + std::to_string(pid) + "/ns/pid";
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return NsId{.dev = st.st_dev, .ino = st.st_ino};
}

std::optional<TaskStat> SystemProcesses::stat(pid_t pid) {
    if (pid <= 0) return std::nullopt;
    auto text = read_small(AT_FDCWD, "/proc/" + std::to_string(pid) + "/stat", kMaxStat);
    return text ? parse_task_stat(*text) : std::nullopt;
}

std::vector<pid_t> SystemProcesses::cgroup_processes(pid_t pid) {
    if (pid <= 0) return {};
    auto text = read_small(AT_FDCWD, "/proc/" + std::to_string(pid) + "/cgroup", kMaxProcCgroup);
    if (!text) return {};
    for (auto* controller : {"cpu", "memory", "pids"}) {
        auto dir = cgroup_dir(layout_, *text, controller);
        if (!dir || !*dir) continue;
        auto list = read_list((*dir)->get(), "cgroup.procs", kMaxPidList);
        if (!list) return {};
        return parse_pid_list(*list, kMaxCgroupTasks);
    }
    return {};
}

std::optional<NsId> own_pid_ns() {
    struct stat st {};
    if (::stat("/proc/self/ns/pid", &st) != 0) return std::nullopt;
    return NsId{.dev = st.st_dev, .ino = st.st_ino};
}

std::optional<std::string> read_list(int dirfd, const std::string& path, size_t max) {
    unique_fd fd(::openat(dirfd, path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd) return std::nullopt;
    std::string out(max, '\0');
    size_t used = 0;
    while (used < max) {
        ssize_t n = ::read(fd.get(), out.data() + used, max - used);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return std::nullopt;
        if (n == 0) break;
        used += static_cast<size_t>(n);
    }
    out.resize(used);
    // A list cut at the bound may end in part of a number: only whole lines count.
    if (used == max) out.resize(out.rfind('\n') + 1);
    return out;
}

}  // namespace kapsel::procfs
