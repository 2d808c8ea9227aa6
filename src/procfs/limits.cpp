// Reading a container's limits from its cgroup files (v1, v2, hybrid).
#include "procfs/limits.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>

#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/proc.hpp"
#include "util/strings.hpp"

namespace kapsel::procfs {

namespace {

// The largest cgroup file read here is memory.stat (about 2 KiB); anything much larger is
// not a cgroup file and is not read into memory.
constexpr size_t kMaxFile = 64 * 1024;

// v1 reports "no limit" as PAGE_COUNTER_MAX pages in bytes: LONG_MAX rounded down to the
// page size (9223372036854771712 with 4 KiB pages, less with larger pages). Everything
// within 2 MiB of LONG_MAX is that value, whatever the page size.
constexpr uint64_t kV1NoLimit = uint64_t(INT64_MAX) - (uint64_t(1) << 21);

std::optional<std::string> read_bounded(int fd) {
    auto text = fs::read_fd(fd, "cgroup file", kMaxFile);
    if (!text) return std::nullopt;
    return std::move(*text);
}

// A cgroup file's text; nullopt when the cgroup lacks it (a controller not enabled there),
// it cannot be read, or it is larger than any cgroup file: all of which mean "no limit".
// O_NOFOLLOW: cgroup file systems have no symlinks, so one here is not the kernel's file.
std::optional<std::string> read_cgroup_file(int dirfd, const char* name) {
    unique_fd fd(::openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd) return std::nullopt;
    return read_bounded(fd.get());
}

template <class T>
std::optional<T> lowest(std::optional<T> a, std::optional<T> b) {
    if (!a) return b;
    if (!b) return a;
    return std::min(*a, *b);
}

// The directories of one hierarchy from a process's cgroup up to the hierarchy's root,
// each an O_PATH fd opened beneath the mount point: leaf first.
struct Chain {
    bool v2 = false;
    std::vector<unique_fd> dirs;
};

// The path is the process's to shape (its cgroup namespace, its cgroup's name), so it is
// resolved beneath the mount point only, without symlinks or other mounts.
Result<unique_fd> open_beneath(int mount, const std::string& dir) {
    auto fd = fs::openat2(mount, dir, O_PATH | O_DIRECTORY,
                          RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
                              RESOLVE_NO_XDEV);
    if (!fd) return std::move(fd).error();
    return std::move(fd).take();
}

// nullopt: the host has no hierarchy with `controller`, or the process is in none.
// `leaf_only`: the process's own cgroup alone, without its parents.
Result<std::optional<Chain>> chain_for(const cgroups::Layout& layout,
                                       const std::vector<CgroupLine>& lines,
                                       std::string_view controller, bool leaf_only = false) {
    const cgroups::Hierarchy* h = layout.find(controller);
    if (!h) return std::optional<Chain>();
    const CgroupLine* line = nullptr;
    for (auto& l : lines) {
        bool match = h->v2 ? l.controllers.empty()
                           : std::find(l.controllers.begin(), l.controllers.end(), controller) !=
                                 l.controllers.end();
        if (match) line = &l;
    }
    if (!line) return std::optional<Chain>();
    std::string rel = KAPSEL_TRY(relative_cgroup_path(line->path));

    unique_fd mount(::open(h->mount_point.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!mount) return sys_error("open " + h->mount_point);
    Chain chain{.v2 = h->v2};
    std::vector<std::string> parts = rel.empty() ? std::vector<std::string>{} : split(rel, '/');
    for (size_t n = parts.size() + 1; n-- > 0;) {
        std::string dir =
            n == 0 ? "." : join(std::vector<std::string>(parts.begin(), parts.begin() + n), "/");
        chain.dirs.push_back(KAPSEL_TRY_CTX(open_beneath(mount.get(), dir),
                                            "cgroup of " + std::string(controller)));
        if (leaf_only) break;
    }
    return std::optional<Chain>(std::move(chain));
}

std::optional<uint64_t> lowest_limit(const Chain& c, const char* file) {
    std::optional<uint64_t> out;
    for (auto& d : c.dirs)
        if (auto t = read_cgroup_file(d.get(), file)) out = lowest(out, parse_byte_limit(*t));
    return out;
}

std::optional<uint64_t> counter(const Chain& c, const char* file) {
    auto t = read_cgroup_file(c.dirs.front().get(), file);
    return t ? parse_counter(*t) : std::nullopt;
}

void read_memory(const Chain& c, Limits& l) {
    int leaf = c.dirs.front().get();
    auto stat = read_cgroup_file(leaf, "memory.stat").value_or("");
    if (c.v2) {
        l.memory_limit = lowest_limit(c, "memory.max");
        l.memory_usage = counter(c, "memory.current").value_or(0);
        l.memory_cache = parse_stat_value(stat, "file").value_or(0);
        l.memory_shmem = parse_stat_value(stat, "shmem").value_or(0);
        l.slab_reclaimable = parse_stat_value(stat, "slab_reclaimable").value_or(0);
        l.slab_unreclaimable = parse_stat_value(stat, "slab_unreclaimable").value_or(0);
        l.swap_limit = lowest_limit(c, "memory.swap.max");
        l.swap_usage = counter(c, "memory.swap.current").value_or(0);
        return;
    }
    l.memory_limit = lowest_limit(c, "memory.limit_in_bytes");
    l.memory_usage = counter(c, "memory.usage_in_bytes").value_or(0);
    // total_cache counts the cgroup's descendants too; "cache" alone is the older kernels'.
    auto cache = parse_stat_value(stat, "total_cache");
    l.memory_cache = (cache ? cache : parse_stat_value(stat, "cache")).value_or(0);
    auto shmem = parse_stat_value(stat, "total_shmem");
    l.memory_shmem = (shmem ? shmem : parse_stat_value(stat, "shmem")).value_or(0);
    // v1's memory.stat has no slab figures: none are shown (0), not the host's.
    // v1 limits memory and swap together (memsw); the swap is what memsw allows on top.
    if (auto memsw = lowest_limit(c, "memory.memsw.limit_in_bytes")) {
        uint64_t mem = l.memory_limit.value_or(0);
        l.swap_limit = *memsw > mem ? *memsw - mem : 0;
    }
    if (auto both = counter(c, "memory.memsw.usage_in_bytes"))
        l.swap_usage = *both > l.memory_usage ? *both - l.memory_usage : 0;
}

void read_cpu(const Chain& c, Limits& l) {
    for (auto& d : c.dirs) {
        std::optional<double> q;
        if (c.v2) {
            if (auto t = read_cgroup_file(d.get(), "cpu.max")) q = parse_cpu_max(*t);
        } else {
            auto quota = read_cgroup_file(d.get(), "cpu.cfs_quota_us");
            auto period = read_cgroup_file(d.get(), "cpu.cfs_period_us");
            if (quota && period) q = parse_cfs_quota(*quota, *period);
        }
        l.cpu_quota = lowest(l.cpu_quota, q);
    }
}

// The nearest cgroup that has a cpuset says it: its effective CPUs already lie within
// its parents'.
void read_cpuset(const Chain& c, Limits& l) {
    const char* files[] = {"cpuset.effective_cpus", "cpuset.cpus"};
    for (auto& d : c.dirs) {
        std::optional<std::string> t;
        if (c.v2)
            t = read_cgroup_file(d.get(), "cpuset.cpus.effective");
        else
            for (auto* f : files)
                if (!t || trim(*t).empty()) t = read_cgroup_file(d.get(), f);
        if (!t || trim(*t).empty()) continue;
        // A list that does not parse leaves the host's CPUs.
        l.cpuset = parse_cpu_list(*t).value_or(std::vector<unsigned>{});
        return;
    }
}

}  // namespace

std::vector<CgroupLine> parse_proc_cgroup(std::string_view text) {
    std::vector<CgroupLine> out;
    for (auto& line : split(text, '\n')) {
        size_t first = line.find(':');
        if (first == std::string::npos) continue;
        size_t second = line.find(':', first + 1);
        if (second == std::string::npos) continue;
        CgroupLine l;
        std::string ctrls = line.substr(first + 1, second - first - 1);
        if (!ctrls.empty()) l.controllers = split(ctrls, ',');
        l.path = line.substr(second + 1);
        out.push_back(std::move(l));
    }
    return out;
}

Result<std::string> relative_cgroup_path(std::string_view path) {
    auto refuse = [&](std::string_view why) {
        return make_error("cgroup path \"" + std::string(path.substr(0, 200)) + "\" " +
                          std::string(why));
    };
    if (path.size() > PATH_MAX) return refuse("is too long");
    if (path.find('\0') != std::string_view::npos) return refuse("holds a nul byte");
    if (path.empty() || path.front() != '/') return refuse("is not absolute");
    std::vector<std::string> parts;
    for (auto& p : split(path.substr(1), '/')) {
        // ".." leaves the cgroup (and a cgroup namespace shows an outside cgroup so).
        if (p == "." || p == "..") return refuse("leaves its hierarchy");
        if (!p.empty()) parts.push_back(p);
    }
    return join(parts, "/");
}

std::optional<uint64_t> parse_byte_limit(std::string_view text) {
    text = trim(text);
    if (text == "max") return std::nullopt;
    auto v = parse_uint(text);
    if (!v || *v >= kV1NoLimit) return std::nullopt;
    return v;
}

std::optional<uint64_t> parse_counter(std::string_view text) {
    return parse_uint(trim(text));
}

std::optional<uint64_t> parse_stat_value(std::string_view text, std::string_view key) {
    for (auto& line : split(text, '\n')) {
        size_t space = line.find(' ');
        if (space == std::string::npos || std::string_view(line).substr(0, space) != key) continue;
        return parse_uint(trim(std::string_view(line).substr(space + 1)));
    }
    return std::nullopt;
}

std::optional<double> parse_cpu_max(std::string_view text) {
    auto fields = split(trim(text), ' ');
    if (fields.size() != 2) return std::nullopt;
    auto quota = parse_uint(fields[0]);  // "max" does not parse: no limit
    auto period = parse_uint(fields[1]);
    if (!quota || !period || *period == 0) return std::nullopt;
    return double(*quota) / double(*period);
}

std::optional<double> parse_cfs_quota(std::string_view quota, std::string_view period) {
    auto q = parse_int(trim(quota));
    auto p = parse_uint(trim(period));
    if (!q || *q <= 0 || !p || *p == 0) return std::nullopt;  // -1: no limit
    return double(*q) / double(*p);
}

Result<Limits> limits_in(const cgroups::Layout& layout, std::string_view proc_cgroup) {
    auto lines = parse_proc_cgroup(proc_cgroup);
    Limits l;
    if (auto c = KAPSEL_TRY(chain_for(layout, lines, "memory"))) read_memory(*c, l);
    if (auto c = KAPSEL_TRY(chain_for(layout, lines, "cpu"))) read_cpu(*c, l);
    if (auto c = KAPSEL_TRY(chain_for(layout, lines, "cpuset"))) read_cpuset(*c, l);
    return l;
}

Result<std::optional<unique_fd>> cgroup_dir(const cgroups::Layout& layout,
                                            std::string_view proc_cgroup,
                                            std::string_view controller) {
    auto chain = KAPSEL_TRY(chain_for(layout, parse_proc_cgroup(proc_cgroup), controller, true));
    if (!chain) return std::optional<unique_fd>();
    return std::optional<unique_fd>(std::move(chain->dirs.front()));
}

Result<Limits> limits_of(pid_t pid) {
    std::string file = "/proc/" + std::to_string(pid) + "/cgroup";
    unique_fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return sys_error("open " + file);
    auto text = read_bounded(fd.get());
    if (!text) return make_error("read " + file + ": unreadable or larger than 64 KiB");
    cgroups::Layout layout = KAPSEL_TRY(cgroups::detect());
    return KAPSEL_TRY_CTX(limits_in(layout, *text), "limits of pid " + std::to_string(pid));
}

Result<double> process_age(pid_t pid) {
    uint64_t start = process_start_time(pid);
    if (start == 0) return make_error("process " + std::to_string(pid) + " is gone");
    std::string up = KAPSEL_TRY(fs::read_file("/proc/uptime"));
    auto uptime = parse_decimal(split(trim(up), ' ')[0]);
    long ticks = ::sysconf(_SC_CLK_TCK);
    if (!uptime || ticks <= 0) return make_error("read /proc/uptime: not a number");
    return std::max(0.0, *uptime - double(start) / double(ticks));
}

}  // namespace kapsel::procfs
