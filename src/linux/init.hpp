// The container's init process, from clone3() to execve(): the "init builder".
// It runs in the new namespaces, builds the rootfs, reports each step to the
// parent over the sync socket, waits for `start` on the exec fifo, and execs.
// (Joining a running container is a different builder: linux/tenant.hpp.)
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "linux/finish.hpp"
#include "linux/rootfs.hpp"
#include "linux/seccomp.hpp"
#include "oci/spec.hpp"
#include "plan/plan.hpp"

namespace kapsel::linux {

struct InitArgs {
    const plan::Plan* plan = nullptr;
    const oci::Hooks* hooks = nullptr;
    int sync_fd = -1;      // SOCK_SEQPACKET to the parent
    int fifo_fd = -1;      // the exec fifo, held open for reading until `start` writes to it
    int console_fd = -1;   // connected console socket when process.terminal
    int preserve_fds = 0;  // fds 3 .. 3+n-1 are handed to the process
    bool no_pivot = false;
    bool no_new_keyring = false;
    // A user without root writes the init's id maps (itself, or through newuidmap),
    // which /proc allows only while the init is dumpable: until `go`.
    bool dumpable_until_go = false;
    // Namespaces joined by path inside the child (the general path); opened by the parent.
    std::vector<std::pair<plan::NsType, int>> join;
    // Namespaces the child still has to create itself (the general path), as clone flags.
    int unshare_flags = 0;
    // The container's cgroup v1 `tasks` files (path for errors, fd): the init writes
    // "0" to each before anything else, so everything it does is charged there.
    std::vector<CgroupTasks> cgroup_tasks;
    RootfsOptions rootfs;
    std::optional<SeccompProgram> seccomp;
};

// Never returns: execs the container process or exits non-zero after sending the error.
[[noreturn]] void run_init(const InitArgs& args);

}  // namespace kapsel::linux
