// The process `kapsel exec` runs, decided as data: the container's config
// process, or a process.json, with runc's command-line overrides applied.
// No system access, so the rules are unit-tested without root.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "oci/spec.hpp"
#include "plan/plan.hpp"
#include "util/result.hpp"

namespace kapsel::plan {

struct ExecRequest {
    // --process: the whole process object; `origin` (its path) names it in errors.
    std::optional<oci::Process> process_file;
    std::string origin;
    std::vector<std::string> args;  // COMMAND [ARGS...]; replaces process.args
    std::string cwd;                // --cwd
    std::vector<std::string> env;   // --env NAME=VALUE, replacing NAME
    bool tty = false;               // --tty
    std::optional<uint32_t> uid, gid;
    std::vector<uint32_t> additional_gids;  // appended
    std::string apparmor_profile, selinux_label;
    bool no_new_privileges = false;  // true: set it; false: as the process says
    std::vector<std::string> add_caps;
};

// Without --process the container's config process is the base (its env, cwd,
// user, capabilities, rlimits, no_new_privileges, labels), with the terminal off
// unless --tty. The flags given override either base. A --cap is added to every
// capability set (bounding, effective, permitted, inheritable and ambient, so it
// also survives exec for a non-root user); with no capabilities in the base the
// process keeps all of kapsel's.
Result<Process> exec_process(const std::optional<oci::Process>& config_process,
                             const ExecRequest& r, bool in_user_ns);

}  // namespace kapsel::plan
