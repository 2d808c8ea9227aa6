// The runtime's use of the container-aware procfs (issue 14; procfs/client.hpp): a
// container whose plan has it on gets its state root's service (started on demand), the
// service's files bound over its /proc and /sys files, and its seccomp listener handed
// over; the delete of the last such container lets the service end.
#pragma once

#include <optional>
#include <string>

#include "plan/plan.hpp"
#include "procfs/client.hpp"
#include "runtime/context.hpp"
#include "util/result.hpp"

namespace kapsel::runtime {

// For a plan with procfs on: the service of g.root, leased until the container's record
// is written, with the plan's procfs paths filled in and its bind mounts appended.
// Nothing for a plan without it.
Result<std::optional<procfs::Lease>> lease_procfs(const Globals& g, plan::Plan& plan);

// Appends the bind mounts of `service`'s files over the plan's /proc and /sys files (a
// checkpoint names them to CRIU as the container's external mounts).
void add_procfs_binds(plan::Plan& plan, const procfs::Service& service);

// Whether a container's config (its annotations) turned the procfs on.
bool uses_procfs(const std::map<std::string, std::string>& annotations);

// After a delete: lets the service of g.root end if no container of it uses it.
void release_procfs(const Globals& g);

}  // namespace kapsel::runtime
