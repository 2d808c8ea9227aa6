// An image's layers as one tar: merged as overlayfs shows them (a whiteout deletes
// the path below it, an opaque directory hides the layers below), entries sorted by
// path, with the metadata the layers hold (modes, owners, mtimes) — the same layers
// give the same bytes. For `kapsel genode`, whose root file system is one tar.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "image/tar.hpp"
#include "util/result.hpp"

namespace kapsel::image {

struct FlattenOptions {
    bool whiteouts = true;  // false: plain directory trees (a bundle's rootfs)
    TarFormat format = TarFormat::pax;
    bool skip_special = false;      // leave out device nodes and fifos
    bool short_links_only = false;  // leave out symlinks whose path or target exceeds 99 bytes
};

struct FlattenResult {
    uint64_t entries = 0, files = 0, bytes = 0;  // bytes: regular file content
    uint64_t hardlinks = 0;                      // files written as links to an earlier entry
    std::vector<std::string> skipped_special;    // paths left out by skip_special
    std::vector<std::string> skipped_links;      // paths left out by short_links_only
    std::vector<std::string> shared_dirs;        // directories of mode 1777 (/tmp, /var/tmp)
};

// Writes the merged tree of `dirs` (bottom layer first) to fd. Files that are one
// inode (hard links, or the store's shared copies) are written once and linked.
Result<FlattenResult> write_flat_tar(const std::vector<std::string>& dirs, int fd,
                                     const FlattenOptions& o);

}  // namespace kapsel::image
