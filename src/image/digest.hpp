// sha256 digests ("sha256:<hex>"): blobs are verified on write and manifests/configs
// on read.
#pragma once

#include <string>
#include <string_view>

#include "util/result.hpp"
#include "util/sha256.hpp"

namespace kapsel::image {

class Sha256 {
public:
    void update(const void* data, size_t n) { h_.update(data, n); }
    // "sha256:<64 hex>"; the hasher cannot be used after this.
    std::string digest() { return "sha256:" + h_.hex(); }

private:
    kapsel::Sha256 h_;
};

std::string sha256_digest(std::string_view data);
// "sha256:" followed by 64 lower-case hex digits: the only algorithm kapsel stores.
bool valid_digest(std::string_view digest);
// The hex part of a valid digest.
std::string digest_hex(std::string_view digest);

}  // namespace kapsel::image
