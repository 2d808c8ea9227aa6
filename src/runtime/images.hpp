// The image store as the high-level commands see it: rmi (images and, with
// --force, the containers using them), system check and system prune (the
// store's content together with the containers made from it). Each takes the
// store lock exclusively for its whole run.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "image/gc.hpp"
#include "runtime/context.hpp"
#include "util/result.hpp"

namespace kapsel::runtime {

struct RmiOutcome {
    std::string ref;
    std::vector<std::string> lines;  // "Untagged: NAME", "Deleted: ID"
    std::optional<Error> error;      // code ENOENT: no such image; EBUSY: in use or several names
};

struct RmiResult {
    std::vector<RmiOutcome> images;
    image::Freed freed;  // blobs, layers and files no remaining image or container uses
};

// Removes images by name (only that name while the image has others), id or
// manifest digest (or a prefix). An image a container uses, or an id naming an
// image with several names, is refused unless `force`, which first removes those
// containers, running or not (as podman does). `all`: every image.
Result<RmiResult> remove_images(const Globals& g, const std::vector<std::string>& refs, bool force,
                                bool all);

Result<image::CheckResult> system_check(const Globals& g, bool repair);

// Removes abandoned containers (runtime::abandoned_containers), then what nothing
// references (image::prune_store).
Result<image::Freed> system_prune(const Globals& g);

}  // namespace kapsel::runtime
