#include "util/sha256.hpp"

namespace kapsel {

std::string Sha256::hex() {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256_Final(md, &ctx_);
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(2 * sizeof md);
    for (unsigned char c : md) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::string sha256_hex(std::string_view data) {
    Sha256 h;
    h.update(data.data(), data.size());
    return h.hex();
}

}  // namespace kapsel
