// IPv4 addresses and subnets as numbers: parsing "10.89.0.0/24", containment, overlap, the
// n-th host. Pure functions, used by the network store (IPAM, overlap checks) and by run's
// --ip. Bounded: a text longer than an address is never parsed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kapsel::network {

struct Ipv4 {
    uint32_t value = 0;  // host byte order
    auto operator<=>(const Ipv4&) const = default;
};
struct Cidr {
    Ipv4 base;          // the network address (host bits zero)
    unsigned prefix = 0;  // 0..32
    auto operator<=>(const Cidr&) const = default;
};

// "10.89.0.2"; nullopt for anything else (no leading zeros, no spaces, four parts).
std::optional<Ipv4> parse_ipv4(std::string_view text);
// "10.89.0.0/24"; nullopt when malformed or when host bits are set ("10.89.0.1/24").
std::optional<Cidr> parse_cidr(std::string_view text);
std::string to_string(Ipv4 a);
std::string to_string(const Cidr& c);

bool contains(const Cidr& c, Ipv4 a);
bool overlaps(const Cidr& a, const Cidr& b);
// Addresses a container may get: all but the network and broadcast addresses (a /31
// or /32 has none usable for a bridge).
uint64_t usable_hosts(const Cidr& c);
// The n-th address after the network address (1: the first host, the usual gateway).
std::optional<Ipv4> nth_host(const Cidr& c, uint64_t n);

}  // namespace kapsel::network
