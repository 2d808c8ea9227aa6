// Getting images into the store: archives (docker save output, oci-archive),
// OCI image layout directories, and a plain rootfs tar. Each reads its input
// once, unpacking layers as they stream by.
#pragma once

#include <string>
#include <vector>

#include "image/manifest.hpp"
#include "image/store.hpp"

namespace kapsel::image {

struct ImportOptions {
    bool quiet = false;              // no progress display (also when stdout or stderr is not a terminal)
    std::vector<std::string> names;  // extra names for the imported image(s)
};

// docker-archive or oci-archive (or a docker archive with an OCI layout inside).
Result<std::vector<ImageRecord>> load_archive(Store& store, const std::string& path, const ImportOptions& o);

// An OCI image layout directory; `tag` picks a manifest by its ref.name annotation
// (empty: the only one).
Result<ImageRecord> pull_layout(Store& store, const std::string& dir, const std::string& tag, const ImportOptions& o);

// A root file system tar (any compression) as a one-layer image called `name`.
Result<ImageRecord> import_rootfs(Store& store, const std::string& path, const std::string& name, const ImportOptions& o);

// Registers an image whose layers are already in the store: stores the config
// and manifest blobs, checks the config's diff ids against the layers, syncs the
// store and marks the layers complete, and adds the image to the index under
// `names`. The caller holds the shared store lock from before it imported the
// layers (so that rmi and prune cannot take them) until this returns.
Result<ImageRecord> register_image(Store& store, const std::string& config_text, const Manifest& manifest,
                                   const std::vector<std::string>& diff_ids, const std::vector<std::string>& names,
                                   uint64_t size);

}  // namespace kapsel::image
