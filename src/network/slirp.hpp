// A user-mode network through slirp4netns (Debian's package), the fallback where pasta is
// missing: like pasta, a process outside the container's own network namespace that
// turns its tap's traffic into the host's sockets. It stays in the foreground, so kapsel
// starts it detached (its parent is init), waits for its ready signal, and publishes
// ports through its API socket.
#pragma once

#include <string>
#include <vector>

#include "network/store.hpp"
#include "util/result.hpp"

namespace kapsel::network {

// The address slirp4netns answers DNS on in the container (forwarding to the host's
// resolver).
inline constexpr const char* kSlirpDns = "10.0.2.3";

// slirp4netns's arguments (without the program): the namespace bound at `netns`
// configured (tap0), no way to the host's loopback, sandboxed, its API socket at
// `api_socket`, readiness written to fd 3.
std::vector<std::string> slirp_args(const std::string& netns, const std::string& api_socket);
// The API request that publishes one host port on a container port.
std::string slirp_hostfwd_request(const std::string& protocol, const std::string& host_ip, uint16_t host_port,
                                  uint16_t container_port);

// /usr/bin/slirp4netns or $KAPSEL_SLIRP4NETNS; an error naming what to install.
Result<std::string> find_slirp4netns();

// Starts slirp4netns for the namespace at `netns` (pid file and API socket beside it),
// waits until the interface is configured, and publishes `ports`. On failure nothing of
// it is left running.
Status start_slirp4netns(const std::string& program, const std::string& netns, const std::vector<PortMapping>& ports);
// Ends the slirp4netns of the namespace at `netns` (if its pid file names one: the very
// binary, by inode) and removes its pid file and socket.
void stop_slirp4netns(const std::string& netns);

}  // namespace kapsel::network
