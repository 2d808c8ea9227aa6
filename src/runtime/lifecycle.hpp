// The runc-compatible lifecycle operations on one container: create, start,
// kill, delete, and run (all of them in one call). cli/ parses flags into these
// option structs; the work is here.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "oci/state.hpp"
#include "runtime/context.hpp"
#include "util/fd.hpp"
#include "util/result.hpp"

namespace kapsel::runtime {

struct CreateOptions {
    std::string id;
    std::string bundle;  // default: the current directory
    std::string pid_file;
    std::string console_socket;  // path of the caller's socket for the pty master
    int preserve_fds = 0;
    bool no_pivot = false;
    bool no_new_keyring = false;
    // For `run` attached with a terminal: the socket kapsel itself receives the master on.
    int console_fd = -1;
};

struct Created {
    int pid = 0;
    unique_fd pidfd;
};

Result<Created> create(const Globals& g, const CreateOptions& o);
Status start(const Globals& g, const std::string& id);
Status kill(const Globals& g, const std::string& id, int signal, bool all);
Status remove(const Globals& g, const std::string& id, bool force);
Result<oci::State> state(const Globals& g, const std::string& id);
Result<std::vector<oci::State>> list(const Globals& g);

struct RunOptions {
    CreateOptions create;
    bool detach = false;
    bool keep = false;  // keep the stopped container (no delete)
    // Called once the container's program runs (a monitor tells its caller).
    std::function<void()> on_started;
};
// Returns the exit code for kapsel: the container's (128+signal if killed), or 0 when detached.
Result<int> run(const Globals& g, const RunOptions& o);

}  // namespace kapsel::runtime
