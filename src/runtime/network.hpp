// A container's network, for run IMAGE: before its init exists, a network namespace of its
// own is put on its networks by netavark (addresses from the network store, ports
// published, names given to aardvark-dns) and its /etc/hosts, resolv.conf and hostname
// are written beside it; when it ends, all of that is taken down again. The record of what
// was set up (network/store.hpp's attachment) is written before anything is made and
// removed after everything is gone, so a crash at any point leaves a record that
// detach_network (rm, system prune) finishes from.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "image/store.hpp"
#include "network/store.hpp"
#include "runtime/context.hpp"
#include "util/result.hpp"

namespace kapsel::runtime {

struct NetworkRequest {
    // bridge (the default network), a network's name, none, host, private (a namespace of
    // its own with only loopback), container:NAME (another container's), ns:PATH.
    std::string mode = "bridge";
    std::vector<network::PortMapping> ports;  // -p
    bool publish_all = false;                 // -P
    std::string ip, mac;                      // --ip, --mac-address
    std::vector<std::string> aliases;         // --network-alias
    std::vector<std::string> dns, dns_search; // --dns, --dns-search
    std::vector<std::pair<std::string, std::string>> extra_hosts;  // --add-host
    // No process of the container may change its network namespace (no CAP_NET_ADMIN):
    // the namespace may be kept set up for another container when this one ends.
    bool reusable = true;
};

// Where the networks live: one place for the host, whatever --storage-root a container's
// store has, as podman keeps /etc/containers/networks for all its stores: bridge names
// and subnets must not be handed out twice on one host. $KAPSEL_NETWORK_ROOT, else
// /var/lib/kapsel (its networks/ directory); for a user without root its own store's
// default place (the user's networks are pasta's attachments, no one else's).
std::string network_root();

// Whether `mode` needs netavark (bridge or a network's name).
bool is_bridge_mode(const std::string& mode);

struct NetworkSetup {
    std::string spec_network;  // plan::RunRequest::network: "ns:PATH", "private", "none", "host"
    bool own_namespace = false;  // a namespace made for this container (bridge, private, none)
    // Files to bind over the container's /etc (path in the container dir -> in the
    // container); none when the image's stay (none, host, private).
    std::vector<std::pair<std::string, std::string>> etc_binds;
    nlohmann::json summary;  // for the container's record: networks, addresses, ports
};

// Sets up the network of container `id` (named `name`, host name `hostname`, EXPOSE
// `exposed`) whose directory is `dir`. Bridge modes: the attachment is recorded first,
// so detach_network undoes a half-made one.
Result<NetworkSetup> attach_network(const Globals& g, const image::Store& store, const std::string& id,
                                    const std::string& name, const std::string& hostname,
                                    const std::string& dir, const std::vector<std::string>& exposed,
                                    const NetworkRequest& req);
// podman's NetworkSettings for inspect, from the record's summary (container.json's
// "network"): Networks (IPAddress, IPPrefixLen, Gateway, MacAddress, Aliases), Ports.
nlohmann::json network_settings(const nlohmann::json& summary);
// The ports a container publishes, from the same summary.
std::vector<network::PortMapping> published_ports(const nlohmann::json& summary);
// The published ports of a container of run IMAGE by name or id (kapsel port).
Result<std::vector<network::PortMapping>> container_ports(const Globals& g, const std::string& name);

// Takes down what attach_network made for `id`, if anything (netavark teardown, the
// namespace, the addresses). Idempotent. A reusable namespace is kept set up instead, as
// a spare for the next container on its network, while the network has fewer than
// $KAPSEL_NETWORK_SPARES (default 2): its name leaves aardvark-dns, the address stays.
Status detach_network(const std::string& id);
// Takes down the spares of `network` ("": of every network); their ids.
Result<std::vector<std::string>> take_down_spares(const std::string& network);
// Container `id`'s namespace may have been changed (a process with CAP_NET_ADMIN ran in
// it, another container joined it): never kept as a spare.
void network_changed(const std::string& id);

// aardvark-dns's names (host-wide) for containers that have no network attachment: left
// by a netavark that ended its setup after the container's teardown, or by a kapsel
// older than the netavark lock. They would answer for a container that is gone, and a
// new one given the same address would carry the old name. The containers' ids;
// `forget` takes them out of aardvark-dns's records (and tells it).
Result<std::vector<std::string>> orphaned_dns_records(bool forget);

}  // namespace kapsel::runtime
