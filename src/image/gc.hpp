// Keeping the image store sound: what references what (images -> manifest, config
// and layer blobs -> layers -> files; containers -> layers), a check that verifies
// every digest and reference, and the removal of what nothing references (rmi's
// clean-up, prune). Everything here expects the caller to hold the exclusive store
// lock: with no import running, anything unreferenced or half-made is garbage.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "image/store.hpp"

namespace kapsel::image {

// What a container made from an image holds on to (containers/<id>/container.json).
struct ContainerRef {
    std::string id, name, image_id;
    std::vector<std::string> layers;
    bool valid = true;  // false: its container.json is missing or unreadable
};

// One problem `check` found: `object` is what it is about ("blob sha256:...",
// "tmp/layer.x1Y2z3"), `problem` what is wrong with it. A prunable one is
// garbage that `prune` removes (leftovers, unreferenced content); the others are
// damage.
struct Finding {
    std::string object, problem;
    bool prunable = false;
    std::string line() const;
};

struct CheckResult {
    std::vector<Finding> findings;
    std::vector<std::string> repaired;  // what --repair did, one line each
};

// Verifies the whole store: every blob's and every stored file's content against
// its digest, every image's manifest, config, layer blobs and layers, every layer's
// marker, every container's image and layers; lists leftovers and unreferenced
// content. With `repair`: removes corrupt blobs and files, unpacks damaged or
// missing layers again from their blobs, and drops images that cannot be mended
// from the index.
Result<CheckResult> check_store(Store& store, const std::vector<ContainerRef>& containers,
                                bool repair);

struct Freed {
    std::vector<std::string> removed;  // one line per object
    uint64_t bytes = 0;                // disk space given back
};

// Removes everything nothing references: tmp/ (what killed imports left), blobs
// and layers no image or container uses, incomplete layers, files no layer uses.
// Images themselves are kept (rmi removes those).
Result<Freed> prune_store(Store& store, const std::vector<ContainerRef>& containers);

// After `removed` left the index: removes their blobs and layers that no remaining
// image and no container uses, and then the stored files no layer uses any more.
Result<Freed> remove_unused(Store& store, const std::vector<ContainerRef>& containers,
                            const std::vector<ImageRecord>& removed);

// "12.3 MB"
std::string human_bytes(uint64_t bytes);

}  // namespace kapsel::image
