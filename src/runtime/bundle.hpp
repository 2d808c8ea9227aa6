// A bundle as create and restore read it: its config.json's text (kept in the state
// directory), the parsed spec, and the plan for the container `id`.
#pragma once

#include <string>

#include "oci/spec.hpp"
#include "plan/plan.hpp"
#include "util/result.hpp"

namespace kapsel::runtime {

struct Bundle {
    std::string dir;  // absolute
    std::string config_text;
    oci::Spec spec;
    plan::Plan plan;
};

// `dir` empty: the current directory. Errors name the config file.
Result<Bundle> load_bundle(const std::string& dir, const std::string& id);

}  // namespace kapsel::runtime
