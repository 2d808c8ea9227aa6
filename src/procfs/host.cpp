// The host a procfs answer is made of: Host's defaults (what a test's fake host does not
// override) and SystemHost, the real one (the kernel's files, the caller's cgroups, the
// host's /sys/devices/system/cpu), with its caches and load sampler. See files.hpp.
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <utility>
#include <vector>

#include "procfs/files.hpp"
#include "procfs/limits.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::procfs {
namespace {

// The host's files are the kernel's, but /proc/cpuinfo grows with the CPUs (about
// 1.5 KiB each): 8 MiB holds the largest machine and still bounds what one read costs.
constexpr size_t kMaxHostFile = 8 << 20;
// /proc/PID/cgroup: one line per hierarchy, paths the process may have chosen.
constexpr size_t kMaxProcCgroup = 64 * 1024;

// A file the kernel generates (proc, sysfs, cgroupfs: all seq_file) fills a read as far as
// its text goes, so a read shorter than asked is its end: one read instead of the two that
// find an end elsewhere. Every open of a container's file costs two of these, each system
// call a few microseconds on a virtual machine.
Result<std::string> read_bounded(const std::string& path, size_t max) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return sys_error("open " + path);
    std::string out(std::min<size_t>(max, 16384), '\0');
    ssize_t n;
    while ((n = ::read(fd.get(), out.data(), out.size())) < 0 && errno == EINTR) {
    }
    if (n < 0) return sys_error("read " + path);
    if (static_cast<size_t>(n) < out.size()) {
        out.resize(static_cast<size_t>(n));
        return out;
    }
    // Longer (cpuinfo, stat on a large machine): the rest as any file's.
    std::string rest = KAPSEL_TRY(fs::read_fd(fd.get(), path, max - out.size()));
    return out + rest;
}

// A sysfs file is a page at most; some binary ones (none below cpu/) are larger.
constexpr size_t kMaxSysFile = 64 * 1024;
// A directory of the host's cpu/ has a few dozen entries, cpu/ itself one per CPU.
constexpr size_t kMaxSysEntries = 16384;

// The passed-through path's resolution: strictly beneath the host's cpu/ directory, no
// symlink followed (the kernel resolves the container's symlinks itself, through the
// container's view), no other mount.
constexpr uint64_t kBeneath =
    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

// "a/b/c" -> {"a/b", "c"}; "c" -> {".", "c"}.
std::pair<std::string, std::string> parent_and_name(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return {".", path};
    return {path.substr(0, slash), path.substr(slash + 1)};
}

Kind kind_of(mode_t mode) {
    return S_ISDIR(mode) ? Kind::directory : S_ISLNK(mode) ? Kind::symlink : Kind::file;
}

Error no_entry(const std::string& what) {
    return sys_error(what, ENOENT);
}

}  // namespace

Result<Load> Host::load(pid_t) {
    const std::string path = "/proc/loadavg";
    std::string text = KAPSEL_TRY(read(path));
    auto f = split(trim(text), ' ');
    size_t slash = f.size() == 5 ? f[3].find('/') : std::string::npos;
    auto one = f.size() == 5 ? parse_decimal(f[0]) : std::nullopt;
    auto five = f.size() == 5 ? parse_decimal(f[1]) : std::nullopt;
    auto fifteen = f.size() == 5 ? parse_decimal(f[2]) : std::nullopt;
    auto running = slash != std::string::npos ? parse_uint(f[3].substr(0, slash)) : std::nullopt;
    auto total = slash != std::string::npos ? parse_uint(f[3].substr(slash + 1)) : std::nullopt;
    if (!one || !five || !fifteen || !running || !total)
        return make_error("read " + path + ": not five fields");
    return Load{
        .one = *one, .five = *five, .fifteen = *fifteen, .running = *running, .total = *total};
}

Result<SysEntry> Host::sys_stat(const std::string& path) {
    return no_entry("/sys/devices/system/cpu/" + path);
}
Result<std::vector<SysEntry>> Host::sys_list(const std::string& path) {
    return no_entry("/sys/devices/system/cpu/" + path);
}
Result<std::string> Host::sys_read(const std::string& path) {
    return no_entry("/sys/devices/system/cpu/" + path);
}
Result<std::string> Host::sys_readlink(const std::string& path) {
    return no_entry("/sys/devices/system/cpu/" + path);
}

Result<SysEntry> SystemHost::sys_stat(const std::string& path) {
    if (!sys_cpu_) return no_entry("/sys/devices/system/cpu");
    auto [dir, name] = parent_and_name(path.empty() ? "." : path);
    unique_fd parent = KAPSEL_TRY(fs::openat2(sys_cpu_.get(), dir, O_PATH | O_DIRECTORY, kBeneath));
    struct stat st {};
    // AT_SYMLINK_NOFOLLOW: a symlink is reported as one, never as what it points to.
    if (::fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return sys_error("stat /sys/devices/system/cpu/" + path);
    return SysEntry{.name = name, .kind = kind_of(st.st_mode), .perm = st.st_mode & 0777u};
}

Result<std::vector<SysEntry>> SystemHost::sys_list(const std::string& path) {
    if (!sys_cpu_) return no_entry("/sys/devices/system/cpu");
    unique_fd fd = KAPSEL_TRY(
        fs::openat2(sys_cpu_.get(), path.empty() ? "." : path, O_RDONLY | O_DIRECTORY, kBeneath));
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(fd.get()), ::closedir);
    if (!dir) return sys_error("list /sys/devices/system/cpu/" + path);
    (void)fd.release();  // the DIR owns it now
    std::vector<SysEntry> out;
    errno = 0;
    while (dirent* d = ::readdir(dir.get())) {
        std::string name = d->d_name;
        if (name == "." || name == "..") continue;
        if (out.size() >= kMaxSysEntries)
            return sys_error("list /sys/devices/system/cpu/" + path, E2BIG);
        Kind kind = d->d_type == DT_DIR   ? Kind::directory
                    : d->d_type == DT_LNK ? Kind::symlink
                                          : Kind::file;
        out.push_back(SysEntry{.name = std::move(name), .kind = kind, .perm = 0});
    }
    if (errno != 0) return sys_error("list /sys/devices/system/cpu/" + path);
    return out;
}

Result<std::string> SystemHost::sys_read(const std::string& path) {
    if (!sys_cpu_) return no_entry("/sys/devices/system/cpu");
    // O_NOFOLLOW with RESOLVE_NO_SYMLINKS: the last component is not followed either.
    unique_fd fd =
        KAPSEL_TRY(fs::openat2(sys_cpu_.get(), path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, kBeneath));
    return fs::read_fd(fd.get(), "/sys/devices/system/cpu/" + path, kMaxSysFile);
}

Result<std::string> SystemHost::sys_readlink(const std::string& path) {
    if (!sys_cpu_) return no_entry("/sys/devices/system/cpu");
    auto [dir, name] = parent_and_name(path);
    unique_fd parent = KAPSEL_TRY(fs::openat2(sys_cpu_.get(), dir, O_PATH | O_DIRECTORY, kBeneath));
    char buf[4096];
    ssize_t n = ::readlinkat(parent.get(), name.c_str(), buf, sizeof buf);
    if (n < 0) return sys_error("readlink /sys/devices/system/cpu/" + path);
    if (static_cast<size_t>(n) >= sizeof buf)
        return sys_error("readlink /sys/devices/system/cpu/" + path, ENAMETOOLONG);
    return std::string(buf, static_cast<size_t>(n));
}

Result<IoStats> Host::io(pid_t) {
    return IoStats{};
}

Result<std::string> Host::pressure(pid_t, std::string_view resource) {
    return read("/proc/pressure/" + std::string(resource));
}

Result<std::string> SystemHost::proc_cgroup(pid_t caller) {
    if (caller <= 0) return make_error("the caller's pid is not visible to the server");
    return read_bounded("/proc/" + std::to_string(caller) + "/cgroup", kMaxProcCgroup);
}

Result<IoStats> SystemHost::io(pid_t caller) {
    return KAPSEL_TRY_CTX(io_in(layout_, KAPSEL_TRY(proc_cgroup(caller))),
                          "i/o of pid " + std::to_string(caller));
}

Result<std::string> SystemHost::pressure(pid_t caller, std::string_view resource) {
    auto text = KAPSEL_TRY_CTX(pressure_in(layout_, KAPSEL_TRY(proc_cgroup(caller)), resource),
                               "pressure of pid " + std::to_string(caller));
    // No cgroup2 hierarchy (a pure v1 host): the host's, the only pressure there is.
    if (!text) return read("/proc/pressure/" + std::string(resource));
    return std::move(*text);
}

Result<Load> SystemHost::load(pid_t caller) {
    auto cgroup = load_cgroup_of(layout_, KAPSEL_TRY(proc_cgroup(caller)));
    if (!cgroup) return make_error("load of pid " + std::to_string(caller) + ": no cpu cgroup");
    auto load = loads_.read(*cgroup);
    // Gone, or more containers than the sampler tracks: an error (EIO), not the host's
    // numbers.
    if (!load) return make_error("load of pid " + std::to_string(caller) + ": not tracked");
    sampler_.start();
    return *load;
}

Result<std::string> SystemHost::read(const std::string& path) {
    // cpuinfo (large on a large machine, and as costly to generate) and the CPU list
    // change only with CPU hotplug or frequency; the counters are never cached.
    bool nearly_static = path == "/proc/cpuinfo" || path == "/sys/devices/system/cpu/online";
    if (!nearly_static) return read_bounded(path, kMaxHostFile);
    if (auto hit = files_.get(path)) return std::move(*hit);
    std::string text = KAPSEL_TRY(read_bounded(path, kMaxHostFile));
    files_.put(path, text);
    return text;
}

Result<Limits> SystemHost::limits(pid_t caller) {
    if (caller <= 0) return make_error("the caller's pid is not visible to the server");
    std::string file = "/proc/" + std::to_string(caller) + "/cgroup";
    std::string text = KAPSEL_TRY(read_bounded(file, kMaxProcCgroup));
    // Reading the limits costs a dozen opens and reads of cgroup files per request; the
    // cgroup's answer is kept for kCacheTtl instead (see files.hpp for what that bounds).
    if (auto hit = limits_.get(text)) return std::move(*hit);
    Limits l = KAPSEL_TRY_CTX(limits_in(layout_, text), "limits of pid " + std::to_string(caller));
    limits_.put(text, l);
    return l;
}

Result<double> SystemHost::age(pid_t caller) {
    if (caller <= 0) return make_error("the caller's pid is not visible to the server");
    if (!own_ns_) return make_error("read /proc/self/ns/pid: the server's pid namespace");
    auto ns = processes_.pid_ns(caller);
    if (!ns) return make_error("process " + std::to_string(caller) + " is gone");
    // Finding the start is a walk up the parents or a look at every process of a cgroup;
    // its answer is the same for every process of the pid namespace (or, without one, of
    // the cgroup), so it is kept kCacheTtl per namespace or cgroup.
    std::string key = *ns == *own_ns_
                          ? "cgroup " + KAPSEL_TRY(proc_cgroup(caller))
                          : "pidns " + std::to_string(ns->dev) + ":" + std::to_string(ns->ino);
    auto start = starts_.get(key);
    if (!start) {
        auto init = container_init(processes_, caller, *own_ns_);
        auto st = init ? processes_.stat(*init) : std::nullopt;
        if (!st) return make_error("process " + std::to_string(caller) + " is gone");
        start = st->start_ticks;
        starts_.put(key, *start);
    }
    std::string up = KAPSEL_TRY(read_bounded("/proc/uptime", 4096));
    auto uptime = parse_decimal(split(trim(up), ' ')[0]);
    long ticks = ::sysconf(_SC_CLK_TCK);
    if (!uptime || ticks <= 0) return make_error("read /proc/uptime: not a number");
    return std::max(0.0, *uptime - double(*start) / double(ticks));
}

}  // namespace kapsel::procfs
