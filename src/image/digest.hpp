// sha256 digests ("sha256:<hex>") with OpenSSL's libcrypto (SHA-NI where the CPU
// has it): blobs are verified on write and manifests/configs on read.
#pragma once

#include <openssl/evp.h>

#include <string>
#include <string_view>

#include "util/result.hpp"

namespace kapsel::image {

class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(const void* data, size_t n);
    // "sha256:<64 hex>"; the hasher cannot be used after this.
    std::string digest();

private:
    EVP_MD_CTX* ctx_;
};

std::string sha256_digest(std::string_view data);
// "sha256:" followed by 64 lower-case hex digits: the only algorithm kapsel stores.
bool valid_digest(std::string_view digest);
// The hex part of a valid digest.
std::string digest_hex(std::string_view digest);

}  // namespace kapsel::image
