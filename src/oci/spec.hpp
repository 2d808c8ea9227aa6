// The OCI runtime-spec (1.0 – 1.3) config.json as typed structs, parsed with
// errors that name the exact field ("linux.namespaces[2].type: unknown namespace "foo"").
// Only the Linux platform is represented; other platforms' sections are ignored.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace kapsel::oci {

inline constexpr const char* kSpecVersion = "1.3.0";

struct IdMapping {
    uint32_t container_id = 0;
    uint32_t host_id = 0;
    uint32_t size = 0;
};

struct Mount {
    std::string destination;
    std::string type;
    std::string source;
    std::vector<std::string> options;
    std::vector<IdMapping> uid_mappings;
    std::vector<IdMapping> gid_mappings;
};

struct Hook {
    std::string path;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::optional<int> timeout;
};

struct Hooks {
    std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart,
        poststop;
};

struct Capabilities {
    std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
};

struct Rlimit {
    std::string type;
    uint64_t hard = 0;
    uint64_t soft = 0;
};

struct User {
    uint32_t uid = 0;
    uint32_t gid = 0;
    std::optional<uint32_t> umask;
    std::vector<uint32_t> additional_gids;
};

struct Scheduler {
    std::string policy;
    int32_t nice = 0;
    int32_t priority = 0;
    std::vector<std::string> flags;
    uint64_t runtime = 0, deadline = 0, period = 0;
};

struct IoPriority {
    std::string klass;
    int priority = 0;
};

struct CpuAffinity {
    std::string initial, final;
};

struct Box {
    unsigned height = 0, width = 0;
};

struct Process {
    bool terminal = false;
    std::optional<Box> console_size;
    User user;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string cwd;
    std::optional<Capabilities> capabilities;
    std::vector<Rlimit> rlimits;
    bool no_new_privileges = false;
    std::string apparmor_profile;
    std::optional<int> oom_score_adj;
    std::optional<Scheduler> scheduler;
    std::string selinux_label;
    std::optional<IoPriority> io_priority;
    std::optional<CpuAffinity> exec_cpu_affinity;
};

struct Root {
    std::string path;
    bool readonly = false;
};

struct Namespace {
    std::string type;
    std::string path;
};

struct Device {
    std::string path;
    std::string type;
    int64_t major = 0, minor = 0;
    std::optional<uint32_t> file_mode;
    std::optional<uint32_t> uid, gid;
};

struct DeviceCgroup {
    bool allow = false;
    std::string type;
    std::optional<int64_t> major, minor;
    std::string access;
};

struct Memory {
    std::optional<int64_t> limit, reservation, swap, kernel, kernel_tcp;
    std::optional<uint64_t> swappiness;
    std::optional<bool> disable_oom_killer, use_hierarchy, check_before_update;
};

struct Cpu {
    std::optional<uint64_t> shares;
    std::optional<int64_t> quota;
    std::optional<uint64_t> burst, period;
    std::optional<int64_t> realtime_runtime;
    std::optional<uint64_t> realtime_period;
    std::string cpus, mems;
    std::optional<int64_t> idle;
};

struct BlockIoDevice {
    int64_t major = 0, minor = 0;
    std::optional<uint16_t> weight, leaf_weight;  // weightDevice
    uint64_t rate = 0;                            // throttle devices
};

struct BlockIo {
    std::optional<uint16_t> weight, leaf_weight;
    std::vector<BlockIoDevice> weight_device, throttle_read_bps, throttle_write_bps,
        throttle_read_iops, throttle_write_iops;
};

struct HugepageLimit {
    std::string page_size;
    uint64_t limit = 0;
};

struct InterfacePriority {
    std::string name;
    uint32_t priority = 0;
};

struct Network {
    std::optional<uint32_t> class_id;
    std::vector<InterfacePriority> priorities;
};

struct Rdma {
    std::optional<uint32_t> hca_handles, hca_objects;
};

struct Resources {
    std::vector<DeviceCgroup> devices;
    std::optional<Memory> memory;
    std::optional<Cpu> cpu;
    std::optional<int64_t> pids_limit;
    bool has_pids = false;
    std::optional<BlockIo> block_io;
    std::vector<HugepageLimit> hugepage_limits;
    std::optional<Network> network;
    std::map<std::string, Rdma> rdma;
    std::map<std::string, std::string> unified;
};

struct SeccompArg {
    unsigned index = 0;
    uint64_t value = 0;
    uint64_t value_two = 0;
    std::string op;
};

struct Syscall {
    std::vector<std::string> names;
    std::string action;
    std::optional<unsigned> errno_ret;
    std::vector<SeccompArg> args;
};

struct Seccomp {
    std::string default_action;
    std::optional<unsigned> default_errno_ret;
    std::vector<std::string> architectures;
    std::vector<std::string> flags;
    std::string listener_path;
    std::string listener_metadata;
    std::vector<Syscall> syscalls;
};

struct Personality {
    std::string domain;
    std::vector<std::string> flags;
};

struct TimeOffset {
    int64_t secs = 0;
    uint32_t nanosecs = 0;
};

struct IntelRdt {
    std::string clos_id;
    std::vector<std::string> schemata;
    std::string l3_cache_schema, mem_bw_schema;
    bool enable_monitoring = false;
};

struct MemoryPolicy {
    std::string mode;
    std::string nodes;
    std::vector<std::string> flags;
};

struct Linux {
    std::vector<IdMapping> uid_mappings, gid_mappings;
    std::map<std::string, std::string> sysctl;
    std::optional<Resources> resources;
    std::string cgroups_path;
    std::vector<Namespace> namespaces;
    std::vector<Device> devices;
    std::map<std::string, std::string> net_devices;  // host name -> name in container
    std::optional<Seccomp> seccomp;
    std::string rootfs_propagation;
    std::vector<std::string> masked_paths;
    std::vector<std::string> readonly_paths;
    std::string mount_label;
    std::optional<IntelRdt> intel_rdt;
    std::optional<MemoryPolicy> memory_policy;
    std::optional<Personality> personality;
    std::map<std::string, TimeOffset> time_offsets;
};

struct Spec {
    std::string oci_version;
    std::optional<Process> process;
    Root root;
    bool has_root = false;
    std::string hostname;
    std::string domainname;
    std::vector<Mount> mounts;
    Hooks hooks;
    std::map<std::string, std::string> annotations;
    std::optional<Linux> linux_;  // "linux"
};

// Parses config.json text. `origin` names the file in errors.
Result<Spec> parse_spec(std::string_view json_text, std::string_view origin = "config.json");
Result<Spec> load_spec(const std::string& path);

// Parses one process object (config.json's "process", or an exec process.json).
Result<Process> parse_process(std::string_view json_text, std::string_view origin);
// Parses a resources object (update -r FILE).
Result<Resources> parse_resources(std::string_view json_text, std::string_view origin);

}  // namespace kapsel::oci
