// Driving netavark, podman's network stack (bridge, veth, addresses, port forwarding,
// firewall rules, aardvark-dns for names), as podman drives it: the container's networks
// and ports as JSON on stdin, the network namespace's path as argument. kapsel writes no
// firewall rule itself. Deciding (the JSON in, the status out: pure) is apart from doing
// (running the program).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "network/store.hpp"
#include "util/result.hpp"

namespace kapsel::network {

// netavark's "network options": the container, its endpoints (static_ips, aliases,
// interface_name, static_mac), the networks' definitions and the port mappings.
// `networks` must hold each endpoint's network.
Result<json> netavark_options(const Attachment& a, const std::vector<Network>& networks);

// What setup reports for one network: the container's interface there.
struct EndpointStatus {
    std::string network;
    std::string interface;
    std::string mac;
    std::string address;  // "10.90.0.2/24"
    std::string gateway;
    std::vector<std::string> dns_servers;  // aardvark-dns's address on that network
    std::vector<std::string> dns_search;
};
// netavark's answer to setup (a JSON object: network name -> status block); bounded and
// checked, never trusted to have any field.
Result<std::vector<EndpointStatus>> parse_setup_output(std::string_view text);
// The same statuses in netavark's shape again (parse_setup_output reads it back): what an
// attachment keeps to hand its namespace to another container.
json setup_output_json(const std::vector<EndpointStatus>& status);

// aardvark-dns's record of one network (a file netavark writes under its config dir,
// named for the network): a first line with the network's DNS addresses, then one line
// per container, "ID IPV4S IPV6S NAMES". The container ids it holds (at most 4096, in
// file order; malformed lines are no container's).
std::vector<std::string> aardvark_record_ids(std::string_view text);
// The same text with the line of container `from` given to container `to`, named
// `names` (its addresses kept); unchanged when there is no such line.
std::string with_aardvark_record_renamed(std::string_view text, const std::string& from, const std::string& to,
                                         const std::vector<std::string>& names);
// The same text without the lines of containers for which `gone` says true.
template <typename Gone>
std::string without_aardvark_records(std::string_view text, Gone gone);

// The netavark program: $KAPSEL_NETAVARK, or podman's (/usr/lib/podman/netavark,
// /usr/libexec/podman/netavark); an error naming what to install when none is there.
Result<std::string> find_netavark();
// aardvark-dns beside it, or $KAPSEL_AARDVARK_DNS; "" when there is none (names then
// do not resolve; addresses still work).
std::string find_aardvark(const std::string& netavark);

class Netavark {
  public:
    Netavark(std::string program, std::string aardvark, std::string config_dir)
        : program_(std::move(program)), aardvark_(std::move(aardvark)), config_(std::move(config_dir)) {}
    // Puts the namespace at `netns` on the options' networks. `lock_fd` (a lock kapsel
    // holds on it) stays held until netavark has ended, even if kapsel dies first.
    Result<std::vector<EndpointStatus>> setup(const std::string& netns, const json& options,
                                              int lock_fd = -1) const;
    // Takes it off them again: interfaces, addresses, forwarded ports, firewall rules,
    // the DNS entries (the bridge and aardvark-dns go with the network's last container).
    Status teardown(const std::string& netns, const json& options, int lock_fd = -1) const;

    // The aardvark-dns it starts ("" when there is none).
    const std::string& aardvark() const { return aardvark_; }

  private:
    std::vector<std::string> argv(const char* verb, const std::string& netns) const;
    std::string program_, aardvark_, config_;
};

namespace detail {
// The container id a record line names ("" for the first line and for malformed lines).
std::string_view aardvark_line_id(std::string_view line, bool first);

// Each line of an aardvark-dns record (with its newline) and the container it names ("" for
// none), replaced by what `f` returns for it.
template <typename F>
std::string map_aardvark_lines(std::string_view text, F f) {
    std::string out;
    bool first = true;
    while (!text.empty()) {
        size_t end = text.find('\n');
        std::string_view line = text.substr(0, end == std::string_view::npos ? text.size() : end + 1);
        text.remove_prefix(line.size());
        out += f(line, aardvark_line_id(line, first));
        first = false;
    }
    return out;
}
}  // namespace detail

template <typename Gone>
std::string without_aardvark_records(std::string_view text, Gone gone) {
    return detail::map_aardvark_lines(text, [&](std::string_view line, std::string_view id) {
        return !id.empty() && gone(std::string(id)) ? std::string() : std::string(line);
    });
}

}  // namespace kapsel::network
