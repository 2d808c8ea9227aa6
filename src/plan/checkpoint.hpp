// Checkpoint and restore as data: the CRIU command lines for a container, decided
// from its plan and the user's options. runtime/checkpoint.cpp runs them.
//
// What kapsel tells CRIU, and why:
// - bind mounts from the host are "external" (key = their destination): CRIU cannot
//   dump a host directory, and on restore the key is mapped to the bind's source
//   again, so a restored container sees the same host paths;
// - cgroups are kapsel's: restore runs CRIU inside the container's new cgroup and
//   tells it to leave cgroups alone, so the restored processes are where kapsel's
//   record says, on this host or another, under any id;
// - stdio that is a pipe or socket of the caller (podman's conmon, containerd's shim)
//   is recorded at checkpoint and replaced at restore by the new caller's stdio;
// - so is stdio that is a file of the host (a log the caller redirected to): CRIU
//   cannot reach it from the container's mounts, so it is an external file (key
//   "file[MNT_ID:INODE]", in hex, as CRIU names it) at dump, inherited at restore.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "plan/plan.hpp"
#include "util/result.hpp"

namespace kapsel::plan {

struct CheckpointOptions {
    std::string image_dir;   // CRIU's images
    std::string work_dir;    // logs and CRIU's scratch files; default: image_dir
    std::string parent_dir;  // a pre-dump to build on (--parent-path)
    bool leave_running = false, tcp_established = false, ext_unix_sk = false, shell_job = false,
         file_locks = false, pre_dump = false, tcp_skip_in_flight = false, link_remap = false,
         auto_dedup = false;
    std::string manage_cgroups_mode;    // soft (default), full, strict or ignore
    std::vector<std::string> empty_ns;  // namespaces whose content is not dumped (e.g. network)
    int timeout_s = -1;                 // --criu-timeout; -1: not given
    // The network namespace the container joined by path (a bridge network's, made by
    // kapsel run; one given in the config): not the container's to dump. Its inode
    // (0: none); it becomes "--external net[INODE]:extRootNetNS", as runc names it.
    uint64_t joined_netns_inode = 0;
};

struct RestoreOptions {
    std::string image_dir, work_dir;
    bool tcp_established = false, ext_unix_sk = false, shell_job = false, file_locks = false,
         auto_dedup = false;
    std::vector<std::string> empty_ns;
    int timeout_s = -1;
    // An fd of the network namespace to restore into (-1: none), inherited by CRIU for
    // the checkpoint's extRootNetNS.
    int joined_netns_fd = -1;
};

// One fd of the container's init at checkpoint (descriptors.json, as runc names it).
struct StdioRecord {
    int fd = 0;
    std::string target;  // readlink of /proc/PID/fd/N: "pipe:[123]", "/dev/null", ...
    // For a file of the host: CRIU's key for it, "file[MNT_ID:INODE]"; for the
    // container's terminal "tty[RDEV:DEV]"; else empty.
    std::string external;
};

// CRIU's key for an external file: the mount id (from /proc/PID/fdinfo/N) and the
// inode number, both in hex.
std::string external_file_key(uint64_t mnt_id, uint64_t inode);

// CRIU's key for an external terminal: the pty slave's device number and that of its
// devpts, in hex. A container's terminal is a pty whose master the caller holds, so
// CRIU cannot dump it; the slave is named external at dump and a new pty's slave is
// inherited in its place at restore (runc asks CRIU for the same through its RPC's
// orphan-pts-master; the command line has --external and --inherit-fd for it).
std::string external_tty_key(uint64_t rdev, uint64_t dev);
bool is_tty_key(const std::string& key);

// One hierarchy of the container's cgroup as a "cgroup" mount shows it: the
// directory name under the mount point ("cpu", "" for v2) and the host directory.
struct CgroupBind {
    std::string name, host_path;
};

// The mounts CRIU must treat as external, by destination, with their host source:
// the bind mounts, and without a cgroup namespace of its own the cgroup mount's
// hierarchies (binds of the container's cgroup directories, as runc tells CRIU).
std::vector<std::pair<std::string, std::string>> external_mounts(
    const Plan& plan, const std::vector<CgroupBind>& cgroups);

// `criu dump` (or `pre-dump`) of the process tree of `pid`.
Result<std::vector<std::string>> criu_dump_args(const Plan& plan, int pid,
                                                const CheckpointOptions& o,
                                                const std::string& freezer_dir,
                                                const std::vector<CgroupBind>& cgroups,
                                                const std::vector<StdioRecord>& stdio = {});

// `criu restore` of the images into `rootfs`; the restored init's pid goes to pid_file.
// Stdio the checkpoint recorded as pipes, sockets or external files is inherited
// from CRIU's own fd of the same number; a terminal from CRIU's fd `tty_fd` (a new
// pty's slave, bound at /dev/console from `tty_path`; an error when the checkpoint
// has a terminal and there is none).
// `cgroups` are the new container's.
Result<std::vector<std::string>> criu_restore_args(const Plan& plan, const RestoreOptions& o,
                                                   const std::vector<StdioRecord>& stdio,
                                                   const std::string& pid_file,
                                                   const std::vector<CgroupBind>& cgroups,
                                                   int tty_fd = -1,
                                                   const std::string& tty_path = "");

// Why CRIU failed, from its log, for a one-line message: the first error it logged
// that it does not survive. It logs some errors and carries on (its own RLIMIT_NOFILE
// without CAP_SYS_RESOURCE, a tun device it may not create, `ip` finding an address
// already there), and ends with a generic "Restoring FAILED"; neither says why.
std::string criu_failure_reason(const std::string& log_text);

// How long one CRIU run (dump, pre-dump, restore) may take before kapsel stops it
// and puts the container back as it was: `option` (--criu-timeout; -1 when not
// given), else $KAPSEL_CRIU_TIMEOUT (`env`, may be null), else kDefaultCriuTimeout.
// A bad value is an error naming where it came from.
constexpr int kDefaultCriuTimeout = 300;
Result<int> criu_timeout(int option, const char* env);

// CRIU's fault-injection code FI_NO_BREAKPOINTS: CRIU then follows a process out
// of its parasite code by stepping its system calls (PTRACE_SYSCALL) instead of
// setting a hardware breakpoint on the exit.
constexpr const char* kCriuNoBreakpoints = "CRIU_FAULT=130";
// The environment CRIU runs with: the caller's `env`, plus kCriuNoBreakpoints
// where hardware breakpoints do not fire on this machine (linux::
// hardware_breakpoints_fire): there CRIU's dump and restore would wait forever for
// a trap that never comes. A CRIU_FAULT the caller set is left as it is.
std::vector<std::string> criu_environment(const std::vector<std::string>& env,
                                          bool breakpoints_fire);

// runc's descriptors.json: the targets of fd 0, 1 and 2.
std::string stdio_json(const std::vector<StdioRecord>& stdio);
Result<std::vector<StdioRecord>> parse_stdio_json(const std::string& text);
// kapsel's addition beside it (external-stdio.json): {"1": "file[...]"} for the fds
// that were files of the host.
std::string external_stdio_json(const std::vector<StdioRecord>& stdio);
Status parse_external_stdio_json(const std::string& text, std::vector<StdioRecord>& stdio);

}  // namespace kapsel::plan
