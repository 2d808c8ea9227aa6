// A user-mode network through pasta (Debian's passt package): a network namespace of the
// container's own whose interface is a tap that pasta, a process outside, turns into
// sockets of the host. No bridge, no veth, no firewall rule, no root needed (what rootless
// containers use, as under podman). Deciding (pasta's command line, pure) is apart from
// doing (running it).
#pragma once

#include <string>
#include <vector>

#include "network/store.hpp"
#include "util/result.hpp"

namespace kapsel::network {

// The address in the container that pasta answers DNS on, forwarding each query to the
// host's first resolver (which may be on the host's loopback, out of the container's reach).
inline constexpr const char* kPastaDns = "169.254.1.1";

// pasta's arguments (without the program) to put the namespace bound at `netns` on the
// host's network: its interface configured, the ports published from the host into it,
// and nothing else forwarded: no port of the host's loopback (-T/-U none) and no host
// address behind the gateway (--no-map-gw) is reachable from the container. pasta writes
// its pid to `pid_file` and quits (within a few seconds) when the namespace's file is
// removed. `as_root`: pasta started by root would drop to nobody before it opens the
// namespace's file, which lies in a directory only root may enter; it stays root (and
// still drops its capabilities and sandboxes itself once it runs).
std::vector<std::string> pasta_args(const std::string& netns, const std::vector<PortMapping>& ports,
                                    const std::string& pid_file, bool as_root);
// Where pasta's pid file for the namespace at `netns` goes.
std::string pasta_pid_file(const std::string& netns);
// Ends the pasta of the namespace at `netns` (if its pid file names a running pasta:
// the very binary, by inode) and removes the pid file.
void stop_pasta(const std::string& netns);

// pasta's port spec of one mapping: "[ADDR/]HOST[-END]:CONTAINER[-END]".
std::string pasta_port_spec(const PortMapping& p);

// /usr/bin/pasta or $KAPSEL_PASTA; an error naming what to install when there is none.
Result<std::string> find_pasta();

// pasta's tap needs /dev/net/tun: an error naming it when this process cannot open it
// (mode 0600 and not root is common).
Status check_tun();

// Runs pasta for `netns`; returns once its interface is configured (pasta then runs on
// in the background).
Status start_pasta(const std::string& program, const std::vector<std::string>& args);

}  // namespace kapsel::network
