// The FUSE half of the procfs server: files.hpp's tree served read-only through
// libfuse3's low-level API. Built into kapsel-procfs only (kapsel is static; Debian's
// libfuse3 is a shared library), so nothing in kapsel_core includes this.
#pragma once

#include <string>

#include "procfs/files.hpp"
#include "util/result.hpp"

namespace kapsel::procfs {

// Mounts the tree at `mountpoint` (allow_other, default_permissions, ro, nosuid, nodev,
// noexec) and answers requests on several threads until SIGTERM, SIGINT or SIGHUP, or
// until the file system is unmounted; then unmounts it. Each file is generated when it
// is opened, for the process that opens it, and read from that copy until it is closed.
Status serve(const std::string& mountpoint, Host& host);

}  // namespace kapsel::procfs
