// SHA-256 through libcrypto's low-level functions (SHA-NI where the CPU has it).
// Not EVP: in OpenSSL 3 the first EVP call loads the provider machinery, which
// costs a `kapsel run` milliseconds and about a megabyte of touched pages; these
// functions are the same code without that.
#pragma once

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <string>
#include <string_view>

namespace kapsel {

class Sha256 {
  public:
    Sha256() { SHA256_Init(&ctx_); }
    void update(const void* data, size_t n) { SHA256_Update(&ctx_, data, n); }
    // 64 lower-case hex digits; the hasher cannot be used after this.
    std::string hex();

  private:
    SHA256_CTX ctx_;
};

std::string sha256_hex(std::string_view data);

}  // namespace kapsel
