// Helpers shared by the unit tests: a small valid config to start from, patched
// per test with a JSON merge patch, and the error text of a Result.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "oci/spec.hpp"
#include "plan/build.hpp"
#include "util/result.hpp"

namespace kapsel::testing {

using json = nlohmann::json;

inline const char* kBundle = "/bundles/c1";

// The smallest config that builds: a shell in bundle/rootfs with pid and mount namespaces.
inline json base_config() {
    return json::parse(R"({
        "ociVersion": "1.2.0",
        "root": {"path": "rootfs"},
        "process": {"args": ["/bin/sh"], "cwd": "/"},
        "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
    })");
}

// base_config() with `patch` merged in (RFC 7386: objects merge, arrays and
// scalars replace, a null member removes). An empty patch ({}) changes nothing.
inline json config_with(const json& patch) {
    json j = base_config();
    if (!patch.is_null()) j.merge_patch(patch);
    return j;
}

inline oci::Spec spec_of(const json& config) {
    auto spec = oci::parse_spec(config.dump());
    if (!spec) ADD_FAILURE() << "config does not parse: " << spec.error().message;
    return spec ? *spec : oci::Spec{};
}

inline Result<plan::Plan> build_config(const json& config) {
    auto spec = oci::parse_spec(config.dump());
    if (!spec) return std::move(spec).error();
    return plan::build(*spec, {.id = "c1", .bundle = kBundle});
}

// Builds base_config() patched with `patch`.
inline Result<plan::Plan> build_with(const json& patch) {
    return build_config(config_with(patch));
}

// The error message, or "<no error>" so a wrong success shows up in the assertion.
template <class T>
std::string error_of(const Result<T>& r) {
    return r ? std::string("<no error>") : r.error().message;
}

}  // namespace kapsel::testing
