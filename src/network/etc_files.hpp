// The container's /etc/hosts, /etc/resolv.conf and /etc/hostname, made per container from
// its names, addresses and DNS settings (pure; run writes them into the container's
// directory and binds them over the image's, never into its layers).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.hpp"

namespace kapsel::network {

struct EtcInput {
    std::string hostname;                    // --hostname, else the short id
    std::string name;                        // the container's name
    std::vector<std::string> addresses;      // its IPv4 addresses on its networks
    std::vector<std::pair<std::string, std::string>> extra_hosts;  // --add-host NAME:IP
    std::vector<std::string> dns;            // --dns
    std::vector<std::string> dns_search;     // --dns-search
    std::vector<std::string> network_dns;    // aardvark-dns's addresses on its networks
    std::vector<std::string> network_search; // their search domains ("dns.podman")
    std::string host_resolv_conf;            // the host's /etc/resolv.conf
    bool host_network = false;               // --network host: the host's resolvers as they are
    std::string host_hosts;                  // the host's /etc/hosts: --network host's starts with it
};

struct EtcFiles {
    std::string hosts, resolv_conf, hostname;
};

EtcFiles etc_files(const EtcInput& in);

// "NAME:IP" (--add-host); the IP may be IPv6 ("h:fd00::1": the name ends at the first ':').
Result<std::pair<std::string, std::string>> parse_add_host(std::string_view text);
// A DNS server address (--dns): an IPv4 or IPv6 address.
bool valid_ip(std::string_view text);
// A unicast MAC address as six hex pairs with ':' (--mac-address).
bool valid_mac(std::string_view text);

}  // namespace kapsel::network
