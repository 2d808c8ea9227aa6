// What the fuzz targets share: the input as text, split into parts, and the checks
// that a Genode node tree holds only what its two syntaxes can carry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "genode/node.hpp"

namespace kapsel::fuzz {

inline std::string text(const uint8_t* data, size_t size) {
    return std::string(reinterpret_cast<const char*>(data), size);
}

// Inputs with several documents separate them with NUL bytes, which no JSON document,
// header or passwd file of interest contains, so seeds stay readable.
inline std::vector<std::string> parts(const uint8_t* data, size_t size, size_t n) {
    std::vector<std::string> out(n);
    std::string_view s(reinterpret_cast<const char*>(data), size);
    for (size_t i = 0; i < n; ++i) {
        size_t z = i + 1 < n ? s.find('\0') : std::string_view::npos;
        out[i] = std::string(s.substr(0, z));
        s = z == std::string_view::npos ? std::string_view() : s.substr(z + 1);
    }
    return out;
}

// An invariant broken: a crash for libFuzzer, with the reason on stderr.
[[noreturn]] inline void broken(const std::string& why) {
    fprintf(stderr, "invariant broken: %s\n", why.c_str());
    abort();
}

// What deploy() promises: every value from the spec that reaches a node is one the
// XML and HID writers can carry unchanged (no injected attribute, node or line).
inline void check_node(const genode::Node& n) {
    if (!genode::attribute_ok(n.type)) broken("node type \"" + n.type + "\"");
    for (auto& [k, v] : n.attrs)
        if (!genode::attribute_ok(k) || !genode::attribute_ok(v))
            broken("attribute " + k + "=\"" + v + "\" of <" + n.type + ">");
    if (n.content && !genode::content_ok(*n.content)) broken("content \"" + *n.content + "\" of <" + n.type + ">");
    for (auto& c : n.children) check_node(c);
}

}  // namespace kapsel::fuzz
