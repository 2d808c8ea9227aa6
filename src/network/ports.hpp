// Published ports: run's -p and -P as data (pure), and whether a host port is free.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "network/store.hpp"
#include "util/result.hpp"

namespace kapsel::network {

// -p [[IP:][HOST]:]CONTAINER[/tcp|udp], each port a number or a range "8000-8009" (the
// host's range as long as the container's). HOST left out ("80", "127.0.0.1::80"): 0,
// a free port chosen when the container starts. Errors name the flag's text and the part.
Result<PortMapping> parse_publish(std::string_view text);
// -P: each of the image's EXPOSE entries ("80/tcp", "53/udp", "8080") on a free host port.
Result<std::vector<PortMapping>> publish_exposed(const std::vector<std::string>& exposed);
// "80/tcp -> 127.0.0.1:8080" lines for `kapsel port` (one per port of a range).
std::vector<std::string> port_lines(const std::vector<PortMapping>& ports);

// Gives each mapping with host port 0 a free one, and checks that the others are free
// on the host (bound by no program: netavark's forwarding would hide it, or it would
// hide the container). The error names the port: "port 8080/tcp is in use on the host".
Status claim_host_ports(std::vector<PortMapping>& ports);

}  // namespace kapsel::network
