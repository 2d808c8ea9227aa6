// The restore side of issue 14's procfs filter: before CRIU restores a checkpoint,
// kapsel's procfs filter in its seccomp.img is made to allow everything (see
// plan/criu_seccomp.hpp for why a restored filter cannot keep its listener).
#pragma once

#include <string>

#include "util/result.hpp"

namespace kapsel::runtime {

// Rewrites image_dir/seccomp.img when it holds kapsel's procfs filter: the new file is
// written beside it and renamed over it, so a failure leaves the checkpoint as it was.
// A checkpoint without seccomp filters, or without kapsel's, is not touched.
Status neutralise_procfs_filter(const std::string& image_dir);

}  // namespace kapsel::runtime
