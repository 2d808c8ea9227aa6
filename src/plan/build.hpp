// Config -> Plan: all the checks that need no system access, so that a bad
// config.json fails before anything is created.
#pragma once

#include <string>

#include "oci/spec.hpp"
#include "plan/plan.hpp"
#include "util/result.hpp"

namespace kapsel::plan {

struct BuildOptions {
    std::string id;
    std::string bundle;  // absolute path of the bundle directory
};

Result<Plan> build(const oci::Spec& spec, const BuildOptions& opts);

// Pieces of build() that exec and update reuse.
Result<Process> build_process(const oci::Process& p, bool in_user_ns);
Result<Mount> build_mount(const oci::Mount& m, const std::string& bundle, size_t index);

}  // namespace kapsel::plan
