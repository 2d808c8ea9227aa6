// A network namespace of its own for a container, kept as a file (as `ip netns add` does):
// a new namespace bind-mounted on DIR/NAME, so that it exists before the container's init
// (netavark sets it up first) and after it (netavark tears it down from the same path).
#pragma once

#include <string>

#include "util/result.hpp"

namespace kapsel::network {

// Makes DIR (0700) if missing and a new network namespace at DIR/NAME, with its loopback
// up; the path. An existing DIR/NAME is an error (a container id is used once).
Result<std::string> create_netns(const std::string& dir, const std::string& name);
// Unmounts and removes it; a path that is gone or not mounted is not an error.
Status remove_netns(const std::string& path);
// Whether `path` is a network namespace mount (what `system check` looks for).
bool is_netns(const std::string& path);

}  // namespace kapsel::network
