// Running OCI hooks: the state JSON on stdin, the hook's own args and env, an
// optional timeout; a failure names the hook and shows what it printed.
#pragma once

#include <string>
#include <vector>

#include "oci/spec.hpp"
#include "util/result.hpp"

namespace kapsel::linux {

// `cwd`: the hook's working directory ("": the caller's). runc runs prestart and
// createRuntime hooks from the bundle (it has changed into it), createContainer ones
// from the rootfs, the others from wherever its caller was.
Status run_hook(const oci::Hook& hook, const std::string& state_json, const std::string& cwd = "");

// Runs hooks in order, stopping at the first failure (prestart, createRuntime,
// createContainer, startContainer).
Status run_hooks(const std::vector<oci::Hook>& hooks, const std::string& kind,
                 const std::string& state_json, const std::string& cwd = "");

// Runs every hook; failures are logged as warnings (poststart, poststop).
void run_hooks_warn(const std::vector<oci::Hook>& hooks, const std::string& kind,
                    const std::string& state_json);

}  // namespace kapsel::linux
