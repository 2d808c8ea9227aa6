// Layer directories as the store keeps them (overlayfs form: a deleted path is a
// 0/0 character device, a replaced directory carries trusted.overlay.opaque), and
// a container's upper directory: walking one in sorted order, and writing what is
// on disk into a tar.
//
// A container's upper directory is written by whatever runs in the container, even
// while kapsel reads it (commit --pause=false, diff): a directory may be swapped for
// a symlink to a host directory between two steps. So everything here goes through
// file descriptors below the tree's own root, never a path, and never follows a
// symlink: a swapped entry is an error ("changed while it was read"), never the host.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <string>
#include <string_view>

#include "image/tar.hpp"
#include "util/fd.hpp"
#include "util/result.hpp"

namespace kapsel::image {

bool is_whiteout(const struct stat& st);

// overlayfs reads its own xattrs on a layer's or an upper dir's files:
// trusted.overlay.redirect sends a directory lookup to another path, metacopy makes a
// file's data come from elsewhere, opaque hides what is below (user.overlay.* is the
// same with the userxattr mount option). In an OCI layer none of them has a meaning
// (deletions are ".wh." entries), so they never go into a layer tar and are dropped
// from one on unpack; every other xattr (security.capability, user.*) is kept.
bool is_overlay_xattr(std::string_view name);

// The xattr that makes a directory opaque in this store's layers and upper dirs:
// trusted.overlay.opaque for root; in a user namespace (a user's store, whose overlays
// are mounted with userxattr, since trusted.* is the host root's alone)
// user.overlay.opaque.
const char* opaque_xattr();

class Tree {
public:
    // The directory at `root` (itself not a symlink).
    static Result<Tree> open(const std::string& root);

    const std::string& path() const { return path_; }

    // Calls fn(relative path, lstat) for everything below the root, a directory
    // before its children, names sorted bytewise, so that the same tree is always
    // walked alike. Directories are entered through their fds (RESOLVE_BENEATH |
    // RESOLVE_NO_SYMLINKS from the parent's fd).
    Status walk(const std::function<Status(const std::string& rel, const struct stat& st)>& fn) const;

    // lstat of `rel` with no symlink in any component (false when there is none).
    bool lstat(const std::string& rel, struct stat& st) const;
    // Whether the directory `rel` is opaque (trusted.overlay.opaque = y).
    bool is_opaque(const std::string& rel) const;

    // Writes the directory, symlink, device, fifo or regular file at `rel` as `e`
    // (content and xattrs read from disk, overlayfs's own xattrs left out), provided
    // it is still the object `st` describes. Sockets are skipped: they do not go into
    // images. An object overlayfs keeps by reference (a redirect or metacopy xattr:
    // its data or children live elsewhere) is an error: written as it is, the layer
    // would silently lose them.
    Status write_entry(TarWriter& tar, const std::string& rel, TarEntry e,
                       const struct stat& st) const;

private:
    Tree(unique_fd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
    Result<unique_fd> open_below(const std::string& rel, uint64_t flags) const;
    Status walk_dir(int dirfd, const std::string& rel,
                    const std::function<Status(const std::string&, const struct stat&)>& fn) const;

    unique_fd fd_;
    std::string path_;
};

// The header for `name` from its stat (mode, owner, mtime; type and size left to
// Tree::write_entry).
TarEntry entry_from_stat(const std::string& name, const struct stat& st);

}  // namespace kapsel::image
