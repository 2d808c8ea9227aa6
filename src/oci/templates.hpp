// Documents kapsel writes: the `spec` template config.json and the `features` JSON.
#pragma once

#include <string>

namespace kapsel::oci {

// runc's default config.json: sh in a busybox-style rootfs, all namespaces but
// user and network... as runc writes it; `rootless` adds a user namespace mapping
// the caller's ids and drops what an unprivileged user cannot have.
std::string default_spec_json(bool rootless, unsigned uid, unsigned gid);

// runtime-spec features.md: what this kapsel build and host support.
std::string features_json(bool apparmor, bool selinux);

}  // namespace kapsel::oci
