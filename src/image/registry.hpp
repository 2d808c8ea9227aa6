// Pulling images from and pushing them to a registry over the OCI distribution API
// (the one Docker Hub, ghcr.io, quay.io and Debian's docker-registry speak). The HTTP
// itself is done by the kapsel-fetch helper (image/http.hpp); the rules of the API
// that need no network are in image/distribution.hpp.
#pragma once

#include <string>

#include "image/import.hpp"
#include "image/store.hpp"

namespace kapsel::image {

struct RegistryOptions {
    // false: accept any certificate, and speak plain HTTP to a registry that has no
    // TLS (as plain HTTP is always tried for a registry on the loopback interface).
    bool tls_verify = true;
    std::string credentials;  // "user:password", sent only when the registry asks
    // A transfer that moves less than kStallSpeed (1 KiB) a second for this many
    // seconds ends (a blob's is resumed, up to its attempts); 0: never.
    int stall_timeout = 30;
};

// REGISTRY/NAME[:TAG|@DIGEST] ("busybox" is docker.io/library/busybox:latest):
// picks linux/<host architecture> from a multi-platform index, downloads the config
// and every layer the store does not have (streamed through the unpacker, resumed
// with a Range request when a connection drops), verifies every digest, and adds
// the image under the reference's name.
Result<ImageRecord> pull_registry(Store& store, const std::string& ref, const RegistryOptions& ro,
                                  const ImportOptions& o);

// Uploads an image of the store (its layer blobs, config and manifest) to
// REGISTRY/NAME[:TAG], skipping blobs the registry already has. Returns the
// manifest's digest.
Result<std::string> push_registry(const Store& store, const std::string& image,
                                  const std::string& dest, const RegistryOptions& ro, bool quiet);

}  // namespace kapsel::image
