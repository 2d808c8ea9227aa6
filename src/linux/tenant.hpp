// A process joining a running container (`kapsel exec`): the "tenant builder".
// kapsel clones it into the container's pid namespace and cgroup; it joins the
// init's other namespaces through the init's pidfd, takes the same last steps
// as the init (linux/finish.hpp) and execs. (Creating a container is linux/init.hpp.)
#pragma once

#include <vector>

#include "linux/finish.hpp"
#include "linux/seccomp.hpp"
#include "plan/plan.hpp"

namespace kapsel::linux {

struct TenantArgs {
    const plan::Plan* plan = nullptr;  // the container's: personality, memory policy
    const plan::Process* process = nullptr;
    const SeccompProgram* seccomp = nullptr;  // the container's filter, or null
    int sync_fd = -1;                         // SOCK_SEQPACKET to kapsel
    int init_pidfd = -1;                      // the container's init
    // CLONE_NEW* flags of the init's namespaces that are not ours, to join at once
    // with setns(pidfd) (never the pid namespace: we were cloned into it).
    int join_flags = 0;
    // The init's root (O_PATH), to chroot into when the container has no mount
    // namespace of its own; -1 when joining its mount namespace sets our root.
    int root_fd = -1;
    int console_fd = -1;   // receives the pty master when process.terminal
    int preserve_fds = 0;  // fds 3 .. 3+n-1 reach the program
    // The container's cgroup v1 `tasks` files; we join them first (v2: clone3 did).
    std::vector<CgroupTasks> cgroup_tasks;
};

// The protocol with kapsel on sync_fd: the child joins the container's cgroups,
// then kapsel sends `go` once the child has its rlimits; the child may send `seccomp_fd`
// (answered by `seccomp_done`), then `ready` just before execve. A successful
// execve closes the socket (EOF); a failure is an `error` message, at any point.
// Never returns.
[[noreturn]] void run_tenant(const TenantArgs& args);

}  // namespace kapsel::linux
