// Error construction helpers.
#include "util/result.hpp"

#include <cctype>
#include <cstring>

namespace kapsel {

std::string errno_text(int err) {
    std::string text = strerror(err);
    if (!text.empty())
        text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    return text;
}

Error sys_error(std::string_view op, int err) {
    return Error{err, std::string(op) + ": " + errno_text(err)};
}

Error make_error(std::string message) {
    return Error{0, std::move(message)};
}

}  // namespace kapsel
