// Layer directories as the store keeps them (overlayfs form: a deleted path is a
// 0/0 character device, a replaced directory carries trusted.overlay.opaque):
// walking one in sorted order, and writing what is on disk into a tar.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <string>

#include "image/tar.hpp"
#include "util/result.hpp"

namespace kapsel::image {

bool is_whiteout(const struct stat& st);
bool is_opaque(const std::string& dir);

// Calls fn(relative path, lstat) for everything below root, a directory before its
// children, names sorted bytewise, so that the same tree is always walked alike.
Status walk_tree(const std::string& root,
                 const std::function<Status(const std::string& rel, const struct stat& st)>& fn);

// The header for `name` from its stat (mode, owner, mtime; type and size left to
// write_from_disk).
TarEntry entry_from_stat(const std::string& name, const struct stat& st);

// Writes the directory, symlink, device, fifo or regular file at `full` as `e`
// (content read from disk). Sockets are skipped: they do not go into images.
Status write_from_disk(TarWriter& tar, const std::string& full, TarEntry e, const struct stat& st);

}  // namespace kapsel::image
