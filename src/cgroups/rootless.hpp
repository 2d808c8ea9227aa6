// A container made by a user without root: whether it can have a cgroup of its own
// (only in a cgroup v2 subtree delegated to the user), and which of its limits are
// lost when it cannot. Decided from paths and a permission probe, so unit-tested.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "cgroups/layout.hpp"
#include "oci/spec.hpp"

namespace kapsel::cgroups {

struct Delegation {
    bool usable = false;
    std::string why_not;  // "cgroup v1", "... is not writable by uid 1000"
};

// Whether the caller may create the container's cgroup at `dirs` and move its init
// there: pure cgroup v2 only (a v1 or hybrid host's hierarchies belong to root), the
// nearest existing directory of the container's cgroup writable, and the
// cgroup.procs of the common ancestor of the caller's cgroup and the container's
// writable too (the kernel's rule for moving a process, clone3 included).
// `can_write(path)` answers access(path, W_OK).
Delegation delegation(const Layout& layout, const std::vector<std::string>& dirs,
                      const std::function<bool(const std::string&)>& can_write,
                      const std::function<bool(const std::string&)>& exists);

// The limits a config asks for, by their linux.resources names ("memory", "cpu",
// "pids", ...), in the spec's order. Device rules are not limits: in a user
// namespace no device node can be made, and a bound one keeps its host permissions.
std::vector<std::string> requested_limits(const oci::Resources& r);

}  // namespace kapsel::cgroups
