// Documents kapsel writes: the `spec` template config.json and the `features` JSON.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace kapsel::oci {

// runc's default config.json: sh in a busybox-style rootfs, all namespaces but
// user and network... as runc writes it; `rootless` adds a user namespace mapping
// the caller's ids and drops what an unprivileged user cannot have.
std::string default_spec_json(bool rootless, unsigned uid, unsigned gid);

// runtime-spec features.md: what this kapsel build and host support: the LSMs, the
// capability names kapsel knows (plan's table, given by the caller: oci/ sits below
// plan/), and `annotations` added to its own (what the host offers beyond the spec:
// CRIU).
std::string features_json(bool apparmor, bool selinux, const std::vector<std::string>& capabilities,
                          const std::vector<std::pair<std::string, std::string>>& annotations = {});

}  // namespace kapsel::oci
