// The IPv4 subnets the host already uses outside kapsel: podman's netavark networks, CNI
// network configs and the routing table. A new kapsel network must not overlap any of
// them. All read only and tolerant: what does not parse is skipped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "network/store.hpp"
#include "network/subnet.hpp"

namespace kapsel::network {

struct ForeignSubnet {
    Cidr cidr;
    std::string owner;  // "podman network NAME", "CNI network NAME", "the host's route on eth0"
};

std::vector<ForeignSubnet> host_subnets(const HostNetworkFiles& files);

// The routes of /proc/net/route's text (destination and mask in the kernel's byte order),
// without the default route.
std::vector<ForeignSubnet> routes_from_text(std::string_view text);

}  // namespace kapsel::network
