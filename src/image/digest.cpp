#include "image/digest.hpp"

namespace kapsel::image {

std::string sha256_digest(std::string_view data) {
    Sha256 h;
    h.update(data.data(), data.size());
    return h.digest();
}

bool valid_digest(std::string_view d) {
    if (d.size() != 71 || d.substr(0, 7) != "sha256:") return false;
    for (char c : d.substr(7))
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

std::string digest_hex(std::string_view d) { return std::string(d.substr(7)); }

}  // namespace kapsel::image
