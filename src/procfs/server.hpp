// The FUSE half of the procfs server: files.hpp's tree served read-only through
// libfuse3's low-level API. Built into kapsel-procfs only (kapsel is static; Debian's
// libfuse3 is a shared library), so nothing in kapsel_core includes this.
#pragma once


#include "procfs/files.hpp"
#include "util/result.hpp"

namespace kapsel::procfs {

// Serves the tree on the FUSE connection `fuse_fd` (mounted by the keeper, keeper.hpp) on
// several threads until SIGTERM, SIGINT or SIGHUP, or until the file system is
// unmounted. `attach`: an earlier server initialised the connection. Each file is
// generated when it is opened, for the process that opens it, and read from that copy
// until it is closed.
Status serve(int fuse_fd, bool attach, Host& host);

}  // namespace kapsel::procfs
