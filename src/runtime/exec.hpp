// `exec`: run a new process in a running container (runc's exec). cli/exec.cpp
// parses the flags into these options; the work is in runtime/exec.cpp and, in
// the new process, linux/tenant.cpp.
#pragma once

#include <string>
#include <vector>

#include "plan/exec.hpp"
#include "runtime/context.hpp"
#include "util/result.hpp"

namespace kapsel::runtime {

struct ExecOptions {
    std::string id;
    std::string process_file;    // --process: an OCI process object (JSON)
    plan::ExecRequest request;   // the command and the flags that override the process
    std::string console_socket;  // receives the pty master when the process has a terminal
    std::string pid_file;
    bool detach = false;
    int preserve_fds = 0;
    bool ignore_paused = false;
    std::vector<std::string> cgroups;  // --cgroup [controller[,controller...]:]path
};

// Attached: waits and returns the process's exit code (128+N if signal N killed
// it). Detached: returns 0 once the process has exec'd.
Result<int> exec(const Globals& g, const ExecOptions& o);

}  // namespace kapsel::runtime
