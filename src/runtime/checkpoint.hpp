// `checkpoint` and `restore` with CRIU, as runc's: a running container is dumped to
// an image directory (and, unless --leave-running, stopped and deleted); `restore`
// makes a container of the same config from those images, on this host or another.
#pragma once

#include <functional>
#include <string>

#include "plan/checkpoint.hpp"
#include "runtime/context.hpp"
#include "util/result.hpp"

namespace kapsel::runtime {

struct CheckpointRequest {
    std::string id;
    plan::CheckpointOptions criu;
};
Status checkpoint(const Globals& g, const CheckpointRequest& r);

struct RestoreRequest {
    std::string id;
    std::string bundle;  // default: the current directory
    std::string pid_file;
    std::string console_socket;  // where a new terminal's master goes (detached)
    bool detach = false;
    plan::RestoreOptions criu;
    // Called once the processes run again (before an attached restore waits).
    std::function<void()> on_started;
};
// Attached: the restored container's exit code (it is deleted afterwards, as with
// `run`). Detached: 0 once it runs.
Result<int> restore(const Globals& g, const RestoreRequest& r);

// The CRIU binary: --criu, else $KAPSEL_CRIU, else the private build that
// scripts/install-criu makes (/opt/kapsel-criu/bin/criu), else `criu` from PATH.
std::string criu_binary(const Globals& g);

}  // namespace kapsel::runtime
