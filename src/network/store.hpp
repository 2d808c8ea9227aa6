// kapsel's networks and which container holds which address on them: the store under
// <storage-root>/networks. Each network is one file in podman's netavark format
// (NAME.json, as podman keeps /etc/containers/networks/NAME.json), so a user reads it the
// same way, and netavark is handed it unchanged. A container's attachment (its addresses,
// aliases, ports and network namespace) is one file, attachments/<container-id>.json,
// written under the store's lock before the network is set up and removed only after it
// is torn down: the addresses in use are exactly the attachments (the IPAM has no other
// state), so two concurrent runs never get the same address and a crash leaves a record
// that `system prune` can tear down.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "network/subnet.hpp"
#include "util/result.hpp"

namespace kapsel::network {

using json = nlohmann::json;

struct Subnet {
    std::string subnet;   // "10.89.0.0/24"
    std::string gateway;  // "10.89.0.1"
};

// A network as podman's netavark JSON has it (to_json/network_from_json keep every field
// podman writes: name, id, driver, network_interface, created, subnets, ipv6_enabled,
// internal, dns_enabled, ipam_options {"driver": "host-local"}).
struct Network {
    std::string name;
    std::string id;                   // 64 hex characters, random
    std::string driver = "bridge";    // the only driver kapsel makes
    std::string interface;            // the bridge: "kapsel0", "kapsel1", ...
    std::string created;              // RFC 3339
    std::vector<Subnet> subnets;      // one IPv4 subnet
    bool ipv6_enabled = false;
    bool internal = false;            // no route out (netavark: no masquerade, no default route)
    bool dns_enabled = true;          // aardvark-dns answers the containers' names
};
json to_json(const Network& n);
// The same in the order podman writes and prints its fields (network inspect).
nlohmann::ordered_json podman_json(const Network& n);
// A network file's content; errors name the field. Untrusted (a user may edit it): every
// field checked, names and the interface as network_create's rules say.
Result<Network> network_from_json(const json& j);

// The network `run` uses without --network: created on first use.
constexpr const char* kDefaultNetwork = "kapsel";

// [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 64 characters (podman's rule, shorter).
bool valid_network_name(std::string_view name);

struct CreateOptions {
    std::string name;
    std::string subnet;  // "" : the first free /24 of 10.90.0.0/16 .. (see store.cpp)
    std::string gateway; // "" : the subnet's first host
    bool internal = false;
    bool dns = true;
};

// A port published on the host (-p [ip:]host:ctr[/proto]).
struct PortMapping {
    std::string host_ip;      // "" : all addresses
    uint16_t host_port = 0;
    uint16_t container_port = 0;
    uint16_t range = 1;
    std::string protocol = "tcp";  // tcp or udp
};

// One network a container is on.
struct Endpoint {
    std::string network;
    std::string ip;                    // "" in a request: the store picks one
    std::string mac;                   // "" : netavark picks one
    std::vector<std::string> aliases;  // names other containers reach it by (its name first)
    std::string interface = "eth0";
};

struct Attachment {
    std::string container_id;
    std::string container_name;
    std::string netns;  // the bind-mounted network namespace file
    std::vector<Endpoint> endpoints;
    std::vector<PortMapping> ports;
    std::string root;       // the --root of the container's runtime state ("": older records)
    // Its namespace may be kept for another container when it ends: one network, no
    // published port, no fixed address, and no process that could change the namespace
    // (CAP_NET_ADMIN) ever ran in it, nor did another container join it.
    bool reusable = false;
    // Kept: set up by netavark and waiting for the next container (no container now;
    // container_id is the last one's).
    bool spare = false;
    json status = json::object();  // netavark's answer to its setup (to hand out again)
};
json to_json(const Attachment& a);
// One port mapping as the attachment, netavark's options and container.json keep it.
json to_json(const PortMapping& p);
Result<PortMapping> port_from_json(const json& j);
Result<Attachment> attachment_from_json(const json& j);

// A container id as kapsel makes them (64 lower-case hex characters): the only names an
// attachment file may have.
bool valid_container_id(std::string_view id);
// 64 random hex digits (a network's id, a container id of kapsel's own making).
Result<std::string> random_hex64();

// Where the host's other network managers keep what a new kapsel subnet must not overlap
// (read only, junk skipped). Tests point these at their own files.
struct HostNetworkFiles {
    std::string podman_networks = "/etc/containers/networks";  // netavark's NAME.json files
    std::string cni_configs = "/etc/cni/net.d";                // *.conflist
    std::string routes = "/proc/net/route";
};

class NetworkStore {
  public:
    // <storage_root>/networks (made on first use, mode 0700).
    static Result<NetworkStore> open(const std::string& storage_root, HostNetworkFiles host = {});

    Result<Network> create(const CreateOptions& o);
    // The network called `name`; kDefaultNetwork is created when missing.
    Result<Network> get(const std::string& name);
    Result<std::vector<Network>> list();
    // Refused while an attachment uses it ("network NAME is in use by container ID").
    Status remove(const std::string& name);
    // Removes every network no attachment uses, the default one too; their names.
    Result<std::vector<std::string>> prune();

    // Records `wanted` with an address for each endpoint that has none (the lowest free
    // host of the network's subnet, never the gateway), after checking the ones asked for
    // (in the subnet, not the gateway, not in use). Errors name the network and address.
    Result<Attachment> reserve(Attachment wanted);
    // Removes a container's record (nothing if there is none).
    Status release(const std::string& container_id);
    Result<std::vector<Attachment>> attachments();
    Result<std::optional<Attachment>> attachment(const std::string& container_id);
    // Rewrites an existing record (an error if there is none).
    Status update(const Attachment& a);

    // Hands a spare on `wanted`'s one network to container wanted.container_id: its
    // record becomes the container's (name, aliases, root, reusable from `wanted`;
    // namespace, address and status the spare's). nullopt when there is no spare. The
    // spare's own record is marked taken before the container's is written and removed
    // after, so a crash in between never leaves a spare that another container could take.
    struct Claimed {
        std::string spare_id;
        Attachment attachment;
    };
    Result<std::optional<Claimed>> claim_spare(const Attachment& wanted);
    // Makes a reusable container's record a spare if its network has fewer than `limit`;
    // whether it did.
    Result<bool> keep_as_spare(const std::string& container_id, size_t limit);

    // netavark's --config directory (its aardvark-dns state lives there).
    std::string netavark_dir() const { return dir_ + "/netavark"; }
    const std::string& dir() const { return dir_; }

  private:
    NetworkStore(std::string dir, HostNetworkFiles host)
        : dir_(std::move(dir)), host_(std::move(host)) {}
    // create_locked and get_locked (which may create the default network): the caller
    // holds the lock. read_network reads one record (nullopt: there is none) and needs
    // none, since records are replaced atomically.
    Result<Network> create_locked(const CreateOptions& o);
    Result<std::optional<Network>> read_network(const std::string& name);
    Result<Network> get_locked(const std::string& name);
    std::string dir_;
    HostNetworkFiles host_;
};

}  // namespace kapsel::network
