// The default seccomp profile for containers made from images (as podman and
// docker have one): every syscall is allowed except those that reach the host's
// kernel state (modules, mounts, namespaces, clocks, keyrings, tracing, ...),
// unless a capability that legitimately needs them is granted. Syscalls newer
// than the profile fail with ENOSYS, so programs fall back to older ones.
#pragma once

#include <string>
#include <vector>

namespace kapsel::plan {

// From all syscall names known for the architecture, those the default profile
// allows for a container holding `caps` (names like "CAP_SYS_ADMIN").
std::vector<std::string> default_seccomp_allow(const std::vector<std::string>& known_syscalls,
                                               const std::vector<std::string>& caps);

}  // namespace kapsel::plan
