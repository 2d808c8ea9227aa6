// The procfs server's tree and the renderer of each file (see files.hpp); the host they
// are made of is in host.cpp.
#include "procfs/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>
#include <vector>

#include "procfs/limits.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::procfs {
namespace {

Result<std::vector<unsigned>> host_online(Host& host) {
    const std::string path = "/sys/devices/system/cpu/online";
    auto list = parse_cpu_list(KAPSEL_TRY(host.read(path)));
    if (!list || list->empty()) return make_error("read " + path + ": not a cpu list");
    return *list;
}

// The CPUs the caller sees, by their host numbers.
Result<std::vector<unsigned>> caller_cpus(Host& host, pid_t caller) {
    Limits l = KAPSEL_TRY(host.limits(caller));
    return visible_cpus(l, KAPSEL_TRY(host_online(host)));
}

Result<std::string> render_meminfo(Host& host, pid_t caller) {
    Limits l = KAPSEL_TRY(host.limits(caller));
    return meminfo(KAPSEL_TRY(host.read("/proc/meminfo")), l);
}

Result<std::string> render_cpuinfo(Host& host, pid_t caller) {
    auto cpus = KAPSEL_TRY(caller_cpus(host, caller));
    return cpuinfo(KAPSEL_TRY(host.read("/proc/cpuinfo")), cpus);
}

Result<std::string> render_stat(Host& host, pid_t caller) {
    auto cpus = KAPSEL_TRY(caller_cpus(host, caller));
    return stat(KAPSEL_TRY(host.read("/proc/stat")), cpus);
}

// The container's age: since its init started (tasks.hpp: container_init).
Result<std::string> render_uptime(Host& host, pid_t caller) {
    double age = KAPSEL_TRY(host.age(caller));
    auto cpus = KAPSEL_TRY(caller_cpus(host, caller));
    auto online = KAPSEL_TRY(host_online(host));
    std::string up = KAPSEL_TRY(host.read("/proc/uptime"));
    auto fields = split(trim(up), ' ');
    auto idle = fields.size() == 2 ? parse_decimal(fields[1]) : std::nullopt;
    if (!idle) return make_error("read /proc/uptime: not two numbers");
    return uptime(age, *idle, online.size(), cpus.size());
}

Result<std::string> render_swaps(Host& host, pid_t caller) {
    return swaps(KAPSEL_TRY(host.limits(caller)));
}

Result<std::string> render_loadavg(Host& host, pid_t caller) {
    return loadavg_text(KAPSEL_TRY(host.load(caller)));
}

// online, possible and present all say the caller's CPUs, numbered from 0: a container
// has no CPUs that are possible or present but not its own (glibc's get_nprocs_conf
// and the JVM read "possible").
Result<std::string> render_cpu_list(Host& host, pid_t caller) {
    return cpu_list(KAPSEL_TRY(caller_cpus(host, caller)).size()) + "\n";
}

Result<std::string> render_diskstats(Host& host, pid_t caller) {
    IoStats io = KAPSEL_TRY(host.io(caller));
    return diskstats(KAPSEL_TRY(host.read("/proc/diskstats")), io);
}

Result<std::string> render_cpu_pressure(Host& host, pid_t caller) {
    return host.pressure(caller, "cpu");
}
Result<std::string> render_memory_pressure(Host& host, pid_t caller) {
    return host.pressure(caller, "memory");
}
Result<std::string> render_io_pressure(Host& host, pid_t caller) {
    return host.pressure(caller, "io");
}

constexpr std::array kTree = {
    Node{kRootIno, kRootIno, "", nullptr},
    Node{2, kRootIno, "meminfo", render_meminfo},
    Node{3, kRootIno, "cpuinfo", render_cpuinfo},
    Node{4, kRootIno, "stat", render_stat},
    Node{5, kRootIno, "uptime", render_uptime},
    Node{6, kRootIno, "swaps", render_swaps},
    Node{7, kRootIno, "loadavg", render_loadavg},
    Node{8, kRootIno, "sys", nullptr},
    Node{9, 8, "devices", nullptr},
    Node{10, 9, "system", nullptr},
    Node{11, 10, "cpu", nullptr},
    Node{12, 11, "online", render_cpu_list},
    Node{13, 11, "possible", render_cpu_list},
    Node{14, 11, "present", render_cpu_list},
    Node{15, kRootIno, "diskstats", render_diskstats},
    // The server shows pressure/ whether or not the host has PSI; whoever bind-mounts
    // these files over a container's /proc does so only where /proc/pressure exists.
    Node{16, kRootIno, "pressure", nullptr},
    Node{17, 16, "cpu", render_cpu_pressure},
    Node{18, 16, "memory", render_memory_pressure},
    Node{19, 16, "io", render_io_pressure},
};

Error no_entry(const std::string& what) {
    return sys_error(what, ENOENT);
}

Entry fixed_entry(const Node& n) {
    return Entry{.ino = n.ino, .kind = n.render ? Kind::file : Kind::directory,
                 .perm = n.render ? 0444u : 0555u};
}

// The caller's CPUs only when the path is below a cpuN: the rest is the same for all.
Result<std::string> host_path_for(Host& host, const std::string& path, pid_t caller) {
    std::vector<unsigned> visible;
    if (cpu_dir_number(path.substr(0, path.find('/'))))
        visible = KAPSEL_TRY(caller_cpus(host, caller));
    auto host_path = host_cpu_path(path, visible);
    if (!host_path) return no_entry("/sys/devices/system/cpu/" + path.substr(0, 200));
    return *host_path;
}

Result<Entry> passthrough_entry(Host& host, const std::string& path, pid_t caller) {
    std::string host_path = KAPSEL_TRY(host_path_for(host, path, caller));
    SysEntry st = KAPSEL_TRY(host.sys_stat(host_path));
    uint64_t ino = KAPSEL_TRY(host.inodes().ino(path));
    // Never writable, whatever the host allows: the tree is read-only.
    return Entry{.ino = ino, .kind = st.kind, .perm = st.perm & 0555u,
                 .per_caller = cpu_dir_number(path.substr(0, path.find('/'))).has_value()};
}

bool valid_name(std::string_view name) {
    return !name.empty() && name.size() <= 255 && name != "." && name != ".." &&
           name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

}  // namespace

Result<Entry> lookup(Host& host, uint64_t parent, std::string_view name, pid_t caller) {
    if (!valid_name(name)) return no_entry(std::string(name.substr(0, 255)));
    if (const Node* dir = find_node(parent)) {
        if (dir->render) return sys_error(std::string(dir->name), ENOTDIR);
        if (const Node* n = find_child(parent, name)) return fixed_entry(*n);
        if (parent != kCpuDirIno) return no_entry(std::string(name));
        return passthrough_entry(host, std::string(name), caller);
    }
    auto dir = host.inodes().path(parent);
    if (!dir) return no_entry("inode " + std::to_string(parent));
    return passthrough_entry(host, *dir + "/" + std::string(name), caller);
}

Result<Entry> entry_of(Host& host, uint64_t ino, pid_t caller) {
    if (const Node* n = find_node(ino)) return fixed_entry(*n);
    auto path = host.inodes().path(ino);
    if (!path) return no_entry("inode " + std::to_string(ino));
    return passthrough_entry(host, *path, caller);
}

Result<std::vector<DirEntry>> list(Host& host, uint64_t dir, pid_t caller) {
    Entry self = KAPSEL_TRY(entry_of(host, dir, caller));
    if (self.kind != Kind::directory) return sys_error("inode " + std::to_string(dir), ENOTDIR);
    std::vector<DirEntry> out;
    if (const Node* n = find_node(dir)) {
        out.push_back({".", self});
        out.push_back({"..", fixed_entry(*find_node(n->parent))});
        for (auto& c : tree())
            if (c.ino != kRootIno && c.parent == dir) out.push_back({std::string(c.name), fixed_entry(c)});
        if (dir != kCpuDirIno) return out;
        // The caller's CPUs as cpu0..cpuK-1, then every other host entry but the host's
        // own cpuN and the lists the fixed nodes answer.
        size_t cpus = KAPSEL_TRY(caller_cpus(host, caller)).size();
        for (size_t i = 0; i < cpus; ++i) {
            std::string name = "cpu" + std::to_string(i);
            uint64_t ino = KAPSEL_TRY(host.inodes().ino(name));
            out.push_back({name, Entry{.ino = ino, .kind = Kind::directory, .perm = 0555,
                                       .per_caller = true}});
        }
        for (auto& e : KAPSEL_TRY(host.sys_list(""))) {
            if (cpu_dir_number(e.name) || find_child(kCpuDirIno, e.name)) continue;
            uint64_t ino = KAPSEL_TRY(host.inodes().ino(e.name));
            out.push_back({e.name, Entry{.ino = ino, .kind = e.kind, .perm = 0444}});
        }
        return out;
    }
    std::string path = *host.inodes().path(dir);
    std::string host_path = KAPSEL_TRY(host_path_for(host, path, caller));
    size_t slash = path.rfind('/');
    uint64_t up = slash == std::string::npos
                      ? kCpuDirIno
                      : KAPSEL_TRY(host.inodes().ino(path.substr(0, slash)));
    out.push_back({".", self});
    out.push_back({"..", Entry{.ino = up, .kind = Kind::directory, .perm = 0555,
                               .per_caller = self.per_caller}});
    for (auto& e : KAPSEL_TRY(host.sys_list(host_path))) {
        uint64_t ino = KAPSEL_TRY(host.inodes().ino(path + "/" + e.name));
        out.push_back({e.name, Entry{.ino = ino, .kind = e.kind, .perm = 0444,
                                     .per_caller = self.per_caller}});
    }
    return out;
}

Result<std::string> read(Host& host, uint64_t file, pid_t caller) {
    if (const Node* n = find_node(file)) {
        if (!n->render) return sys_error(std::string(n->name), EISDIR);
        // A fixed file that cannot be answered (the caller gone, its cgroup unreadable, a
        // host file missing) is an EIO, whatever the errno underneath: never ENOENT for a
        // file that is listed.
        auto text = answer(*n, host, caller);
        if (!text) return make_error(std::move(text).error().message);
        return text;
    }
    auto path = host.inodes().path(file);
    if (!path) return no_entry("inode " + std::to_string(file));
    std::string host_path = KAPSEL_TRY(host_path_for(host, *path, caller));
    SysEntry st = KAPSEL_TRY(host.sys_stat(host_path));
    if (st.kind == Kind::directory) return sys_error(*path, EISDIR);
    if (st.kind == Kind::symlink) return sys_error(*path, ELOOP);
    return host.sys_read(host_path);
}

Result<std::string> readlink(Host& host, uint64_t link, pid_t caller) {
    auto path = host.inodes().path(link);
    if (!path) return sys_error("inode " + std::to_string(link), EINVAL);
    return host.sys_readlink(KAPSEL_TRY(host_path_for(host, *path, caller)));
}

std::span<const Node> tree() {
    return kTree;
}

const Node* find_node(uint64_t ino) {
    for (auto& n : kTree)
        if (n.ino == ino) return &n;
    return nullptr;
}

const Node* find_child(uint64_t parent, std::string_view name) {
    for (auto& n : kTree)
        if (n.ino != kRootIno && n.parent == parent && n.name == name) return &n;
    return nullptr;
}

Result<std::string> answer(const Node& file, Host& host, pid_t caller) {
    if (!file.render) return make_error(std::string(file.name) + " is a directory");
    std::string text = KAPSEL_TRY(file.render(host, caller));
    if (text.size() > kMaxAnswer)
        return make_error(std::string(file.name) + ": the answer is larger than 1 MiB");
    return text;
}

}  // namespace kapsel::procfs
