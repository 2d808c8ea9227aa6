// A size limit for a container's writable layer (`run --storage-opt size=`), with the
// project quotas of the store's file system (ext4 mounted with prjquota, xfs with
// pquota): the upper and work directories get a project id of their own, inherited by
// everything made below them (overlayfs copies up in work and renames into upper, so
// both need the same project), and the project a block limit. The kernel then fails a
// write past the limit with EDQUOT inside the container; nothing outside it is slowed.
// Where the file system enforces no project quota, asking for a limit is an error: a
// limit that is silently not kept would be worse than none.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace kapsel::image {

// Gives the empty, new `dirs` (all on the file system of `where`, which errors name) a
// project nobody else uses, with PROJINHERIT, limited to `bytes` (rounded up to KiB);
// returns the project id.
Result<uint32_t> limit_directories(const std::string& where, const std::vector<std::string>& dirs,
                                   uint64_t bytes);

// Lifts the limit of project `id` on the file system of `dir` (its container is gone).
Status release_project(const std::string& dir, uint32_t id);

}  // namespace kapsel::image
