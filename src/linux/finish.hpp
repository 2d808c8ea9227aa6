// The last steps of a container process before execve, the same for the
// container's init (init.cpp) and for a process that joins a running container
// (tenant.cpp): process attributes, no_new_privs, HOME, the working directory
// check, the program lookup, LSM labels, seccomp, user and capabilities, fds.
#pragma once

#include <string>
#include <vector>

#include "linux/seccomp.hpp"
#include "plan/plan.hpp"
#include "util/result.hpp"

namespace kapsel::linux {

// First thing in a child of kapsel: our own fds (`ours`, updated in place) must
// not sit where the caller's preserved fds go (3 .. base-1), or exec would hand
// them to the container; and nothing else the parent held may reach the
// container at all. Moves ours up, closes everything else from `base` on.
void tidy_fds(int base, std::vector<int*> ours);

// A v1 cgroup `tasks` file the parent opened for us: its path (for errors) and fd.
struct CgroupTasks {
    std::string path;
    int fd = -1;
};

// Moves the calling thread into each of those cgroups by writing "0" (see
// cgroups::Cgroup::tasks_files for why this and not cgroup.procs) and closes the
// fds. The caller must be single-threaded, so the thread is the whole process.
Status join_cgroups(const std::vector<CgroupTasks>& tasks);

// What execve gets. argv and envp point into args and env; they are built
// before the late seccomp filter, which may forbid allocating memory. Movable
// (the vectors' storage moves with them), not copyable.
struct ExecImage {
    std::string program;  // the resolved path
    std::vector<std::string> args, env;
    std::vector<char*> argv, envp;

    ExecImage() = default;
    ExecImage(ExecImage&&) = default;
    ExecImage& operator=(ExecImage&&) = default;
    ExecImage(const ExecImage&) = delete;
    ExecImage& operator=(const ExecImage&) = delete;

    // Returns only on failure, with errno set.
    void exec() const;
};

struct FinishOptions {
    const plan::Plan* plan = nullptr;  // personality, memory policy, the procfs filter
    const plan::Process* process = nullptr;
    const SeccompProgram* seccomp = nullptr;  // null: no filter
    int sync_fd = -1;       // reports the listeners (Msg::seccomp_fd, Msg::procfs_fd) to the parent
    int preserve_fds = 0;   // fds 3 .. 3+n-1 reach the program
    std::vector<int> keep;  // our own fds (above the preserved ones) that stay open until exec
};

// In this order: personality, scheduler, I/O priority, memory policy;
// no_new_privs; HOME from the container's /etc/passwd; the working directory,
// entered with our capabilities (as runc) and checked to be inside the root
// (CVE-2024-21626); the program found in PATH; the AppArmor/SELinux exec label;
// the seccomp filters (kapsel's procfs filter, then the profile's) when
// no_new_privs is off (they need CAP_SYS_ADMIN then);
// stdio owner, groups, user, capabilities; umask; every fd closed but stdio, the
// preserved ones and `keep`; the working directory again, as the user, only if
// entering it with our capabilities was refused. The process must be in the
// container's root.
Result<ExecImage> finish_process(const FinishOptions& o);

// With no_new_privs the filters are loaded as late as possible, so the profile has to
// allow as little of kapsel's own work as possible: call this just before exec
// (after it, only read, write, close and execve). Does nothing without it.
Status load_late_seccomp(const FinishOptions& o);

}  // namespace kapsel::linux
