// The sandbox plan: everything linux/ needs to build a container, decided ahead of
// time as plain data. Built from a config (plan/build.hpp) without touching the
// system, so it is unit-tested without root, and emitted for Genode by genode/.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "oci/spec.hpp"

namespace kapsel::plan {

// The most lower layers overlayfs stacks in one mount (the kernel's OVL_MAX_STACK).
inline constexpr size_t kMaxOverlayLayers = 500;

enum class NsType { user, pid, mount, uts, ipc, net, cgroup, time };
inline constexpr NsType kAllNamespaces[] = {NsType::user,   NsType::pid, NsType::mount,
                                            NsType::uts,    NsType::ipc, NsType::net,
                                            NsType::cgroup, NsType::time};
const char* ns_name(NsType t);       // OCI name: "network" for net
const char* ns_proc_name(NsType t);  // /proc/PID/ns/<name>: "net", "time"
int ns_clone_flag(NsType t);

struct Namespace {
    NsType type;
    std::string path;  // empty: a new namespace; else join the one at path
};

struct IdMap {
    uint32_t inside = 0, outside = 0, count = 0;
};

// Mount attributes as the new mount API names them (MOUNT_ATTR_*).
struct MountAttrs {
    uint64_t set = 0;
    uint64_t clear = 0;
    bool recursive = false;    // from the "r" forms: rro, rnosuid, ...
    uint64_t propagation = 0;  // MS_SHARED, MS_SLAVE, MS_PRIVATE or MS_UNBINDABLE
    bool propagation_recursive = false;
};

enum class MountKind { filesystem, bind, cgroup };

struct Mount {
    MountKind kind = MountKind::filesystem;
    std::string fstype;       // proc, tmpfs, ... (filesystem kind)
    std::string source;       // absolute host path (bind) or the fs source label
    std::string destination;  // absolute, cleaned, inside the rootfs
    bool recursive_bind = false;
    MountAttrs attrs;
    // Filesystem options (fsconfig key[=value]): mode=755, size=64k, newinstance, ...
    std::vector<std::pair<std::string, std::string>> data;
    // Superblock flags the new mount API sets with FSCONFIG_SET_FLAG: sync, dirsync, lazytime...
    std::vector<std::string> sb_flags;
    std::vector<IdMap> uid_map, gid_map;  // idmapped mount (MOUNT_ATTR_IDMAP)
    bool recursive_idmap = false;
    bool tmpcopyup = false;  // copy the rootfs directory's content into a new tmpfs
};

struct DeviceNode {
    std::string path;  // absolute inside the container
    char type = 'c';   // c, b, p
    uint32_t major = 0, minor = 0;
    uint32_t mode = 0666;  // permission bits
    uint32_t uid = 0, gid = 0;
};

struct Capabilities {
    uint64_t bounding = 0, effective = 0, inheritable = 0, permitted = 0, ambient = 0;
};

struct Rlimit {
    int resource = 0;
    uint64_t soft = 0, hard = 0;
    std::string name;
};

enum class SeccompAction { kill_thread, kill_process, trap, errno_ret, trace, allow, log, notify };
enum class SeccompOp { ne, lt, le, eq, ge, gt, masked_eq };

struct SeccompArg {
    unsigned index = 0;
    uint64_t value = 0, value_two = 0;
    SeccompOp op = SeccompOp::eq;
};

struct SeccompRule {
    std::vector<std::string> names;
    SeccompAction action = SeccompAction::allow;
    unsigned errno_ret = 1;  // EPERM unless the config says otherwise
    std::vector<SeccompArg> args;
};

struct Seccomp {
    SeccompAction default_action = SeccompAction::allow;
    unsigned default_errno_ret = 1;
    std::vector<uint32_t> architectures;  // SCMP_ARCH_* tokens
    unsigned flags = 0;                   // SECCOMP_FILTER_FLAG_*
    std::string listener_path;
    std::string listener_metadata;
    std::vector<SeccompRule> rules;
    bool uses_notify() const;
};

struct Scheduler {
    int policy = 0;
    int nice = 0, priority = 0;
    uint64_t flags = 0;
    uint64_t runtime = 0, deadline = 0, period = 0;
};

struct Process {
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string cwd = "/";
    uint32_t uid = 0, gid = 0;
    std::vector<uint32_t> additional_gids;
    std::optional<uint32_t> umask;
    bool terminal = false;
    std::optional<std::pair<unsigned, unsigned>> console_size;  // rows, cols
    bool no_new_privileges = false;
    Capabilities caps;
    bool has_caps = false;
    std::vector<Rlimit> rlimits;
    std::optional<int> oom_score_adj;
    std::optional<Scheduler> scheduler;
    std::optional<int> io_priority;  // ioprio_set value (class << 13 | data)
    std::string apparmor_profile;
    std::string selinux_label;
    std::string cpu_affinity_initial, cpu_affinity_final;
};

// The annotation that turns the container-aware procfs on ("true"; "false" or absent:
// off). podman (--annotation) and containerd users set it; `kapsel run IMAGE` does
// unless --procfs=false.
inline constexpr const char* kProcfsAnnotation = "run.kapsel.procfs";

struct Plan {
    std::string id;
    std::string bundle;  // absolute
    std::string rootfs;  // absolute host path
    bool rootfs_readonly = false;
    // kapsel's image containers: the rootfs is an overlay of image layers and a
    // per-container upper dir, mounted inside the container's own mount namespace
    // (from the "io.kapsel.rootfs.overlay" annotation).
    struct Overlay {
        std::vector<std::string> lowers;  // top first; at most kMaxOverlayLayers
        std::string upper, work;
        // Mounted in a user namespace: overlayfs keeps its xattrs as user.overlay.*
        // (the userxattr option), since trusted.* is the host root's alone.
        bool user_xattr = false;
    };
    std::optional<Overlay> rootfs_overlay;
    uint64_t rootfs_propagation = 0;  // 0: kapsel's default (rslave)
    bool rootfs_propagation_recursive = true;

    std::vector<Namespace> namespaces;
    std::vector<IdMap> uid_map, gid_map;
    std::map<std::string, oci::TimeOffset> time_offsets;  // "monotonic", "boottime"

    std::vector<Mount> mounts;
    std::vector<DeviceNode> devices;  // defaults + linux.devices
    std::vector<std::string> masked_paths, readonly_paths;
    std::string hostname, domainname;
    bool set_hostname = false, set_domainname = false;
    std::vector<std::pair<std::string, std::string>>
        sysctl;  // key as a /proc/sys path: net/ipv4/ip_forward
    std::optional<int> personality;

    std::optional<Process> process;  // absent: `start` errors, as the spec asks
    std::optional<Seccomp> seccomp;
    // The container-aware /proc and /sys (issue 14; the "run.kapsel.procfs" annotation):
    // the service's files bound over the container's, and sysinfo/sched_getaffinity
    // answered through a seccomp listener handed to it. The plan says only that it is
    // on; the runtime fills in the paths of its state root's service.
    struct Procfs {
        std::string mount;    // the service's FUSE mount on the host
        std::string control;  // its control socket, where the listener goes
        bool notify = true;   // install the sysinfo/sched_getaffinity filter
    };
    std::optional<Procfs> procfs;
    std::optional<oci::MemoryPolicy> memory_policy;
    std::string cgroups_path;

    bool has(NsType t) const;      // new or joined
    bool creates(NsType t) const;  // a new one
    const Namespace* find(NsType t) const;
    // A config mount binds a directory (the host's /dev, say) at /dev. Then, as with
    // runc, no device node, /dev link or /dev/ptmx is made there: they would land in
    // the bound directory itself, the host's own /dev (or fail on a read-only bind).
    bool binds_dev() const;
};

}  // namespace kapsel::plan
