// Paths inside a container's rootfs, resolved so they can never leave it: a symlink
// in an image that points at /etc resolves to rootfs/etc, never to the host's /etc
// (openat2 RESOLVE_IN_ROOT; magic links like /proc/self/fd/N are refused).
#pragma once

#include <string>

#include "linux/sys.hpp"

namespace kapsel::linux {

inline constexpr uint64_t kInRoot = 0x10 /*RESOLVE_IN_ROOT*/ | 0x02 /*RESOLVE_NO_MAGICLINKS*/;

// Opens `path` (absolute inside the root) relative to rootfd.
Result<unique_fd> open_in_root(Sys& sys, int rootfd, const std::string& path, uint64_t flags);

// mkdir -p inside the root; returns an O_PATH fd of the directory.
Result<unique_fd> mkdir_in_root(Sys& sys, int rootfd, const std::string& path, mode_t mode = 0755);

// A mount point at `path`: a directory, or an empty file when mounting a file.
// Existing entries are kept. Returns an O_PATH fd of it.
Result<unique_fd> ensure_mountpoint(Sys& sys, int rootfd, const std::string& path, bool directory);

}  // namespace kapsel::linux
