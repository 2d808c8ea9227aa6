// IPv4 addresses and CIDR subnets: strict parsing (the text comes from users and from
// files on disk) and the arithmetic the IPAM needs.
#include "network/subnet.hpp"

namespace kapsel::network {

namespace {

// "255.255.255.255/32" is the longest text either parser accepts; anything longer is
// refused before it is looked at.
constexpr size_t kMaxCidrText = 18;

uint32_t mask_of(unsigned prefix) {
    return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
}

// One decimal part 0..255: 1-3 digits, no sign, no leading zero (inet_aton would read
// "010" as octal, so a "01" is ambiguous and refused, as podman and Go's net do).
std::optional<unsigned> parse_octet(std::string_view s) {
    if (s.empty() || s.size() > 3) return std::nullopt;
    if (s.size() > 1 && s[0] == '0') return std::nullopt;
    unsigned v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v > 255) return std::nullopt;
    return v;
}

}  // namespace

std::optional<Ipv4> parse_ipv4(std::string_view text) {
    if (text.size() > 15) return std::nullopt;
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
        size_t dot = text.find('.');
        if (i < 3 && dot == std::string_view::npos) return std::nullopt;
        if (i == 3 && dot != std::string_view::npos) return std::nullopt;
        auto part = parse_octet(text.substr(0, dot));
        if (!part) return std::nullopt;
        value = value << 8 | *part;
        text = i < 3 ? text.substr(dot + 1) : std::string_view{};
    }
    return Ipv4{value};
}

std::optional<Cidr> parse_cidr(std::string_view text) {
    if (text.size() > kMaxCidrText) return std::nullopt;
    size_t slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto addr = parse_ipv4(text.substr(0, slash));
    if (!addr) return std::nullopt;
    std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 2 || (p.size() > 1 && p[0] == '0')) return std::nullopt;
    unsigned prefix = 0;
    for (char c : p) {
        if (c < '0' || c > '9') return std::nullopt;
        prefix = prefix * 10 + static_cast<unsigned>(c - '0');
    }
    if (prefix > 32) return std::nullopt;
    // Host bits set ("10.0.0.1/24") mean the writer meant something else than the
    // network: refuse instead of guessing.
    if ((addr->value & ~mask_of(prefix)) != 0) return std::nullopt;
    return Cidr{*addr, prefix};
}

std::string to_string(Ipv4 a) {
    return std::to_string(a.value >> 24) + "." + std::to_string(a.value >> 16 & 0xff) + "." +
           std::to_string(a.value >> 8 & 0xff) + "." + std::to_string(a.value & 0xff);
}

std::string to_string(const Cidr& c) {
    return to_string(c.base) + "/" + std::to_string(c.prefix);
}

bool contains(const Cidr& c, Ipv4 a) {
    return (a.value & mask_of(c.prefix)) == (c.base.value & mask_of(c.prefix));
}

bool overlaps(const Cidr& a, const Cidr& b) {
    // Two prefixes overlap exactly when the shorter one contains the other's base.
    unsigned p = a.prefix < b.prefix ? a.prefix : b.prefix;
    return (a.base.value & mask_of(p)) == (b.base.value & mask_of(p));
}

uint64_t usable_hosts(const Cidr& c) {
    if (c.prefix >= 31) return 0;
    return (uint64_t{1} << (32 - c.prefix)) - 2;
}

std::optional<Ipv4> nth_host(const Cidr& c, uint64_t n) {
    if (n == 0 || n > usable_hosts(c)) return std::nullopt;
    return Ipv4{static_cast<uint32_t>(c.base.value + n)};
}

}  // namespace kapsel::network
