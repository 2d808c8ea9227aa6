// See etc_files.hpp.
#include "network/etc_files.hpp"

#include <arpa/inet.h>

#include <algorithm>

#include "util/strings.hpp"

namespace kapsel::network {
namespace {

bool valid_host_name(std::string_view n) {
    if (n.empty() || n.size() > 253) return false;
    return std::all_of(n.begin(), n.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == '_';
    });
}

void add_unique(std::vector<std::string>& v, const std::string& s) {
    if (!s.empty() && std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

// A resolver on the host's loopback (systemd-resolved's 127.0.0.53, dnsmasq) is not the
// container's loopback: it cannot be asked from another network namespace.
bool loopback(const std::string& addr) {
    return addr.rfind("127.", 0) == 0 || addr == "::1";
}

}  // namespace

bool valid_ip(std::string_view text) {
    if (text.empty() || text.size() > 45) return false;
    std::string s(text);
    unsigned char buf[16];
    return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool valid_mac(std::string_view t) {
    if (t.size() != 17) return false;
    for (size_t i = 0; i < t.size(); ++i) {
        char c = t[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (i % 3 == 2 ? c != ':' : !hex) return false;
    }
    // The first octet's low bit marks a multicast address, which no interface may have.
    auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
    return (nibble(t[1]) & 1) == 0;
}

Result<std::pair<std::string, std::string>> parse_add_host(std::string_view text) {
    size_t colon = text.find(':');
    if (colon == std::string_view::npos)
        return make_error("--add-host \"" + std::string(text) + "\": expected NAME:IP");
    std::string name(text.substr(0, colon)), ip(text.substr(colon + 1));
    if (!valid_host_name(name))
        return make_error("--add-host \"" + std::string(text) + "\": \"" + name + "\" is not a host name");
    if (!valid_ip(ip))
        return make_error("--add-host \"" + std::string(text) + "\": \"" + ip + "\" is not an IP address");
    return std::pair{name, ip};
}

EtcFiles etc_files(const EtcInput& in) {
    EtcFiles f;
    f.hostname = in.hostname + "\n";

    // On the host's network the host's names are the container's too (as under podman).
    if (in.host_network && !in.host_hosts.empty()) {
        f.hosts = in.host_hosts;
        if (f.hosts.back() != '\n') f.hosts += '\n';
    } else {
        f.hosts = "127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n"
                  "::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n";
    }
    std::string names = in.hostname;
    if (!in.name.empty() && in.name != in.hostname) names += " " + in.name;
    if (in.addresses.empty())
        f.hosts += "127.0.1.1\t" + names + "\n";
    else
        for (auto& a : in.addresses) f.hosts += a + "\t" + names + "\n";
    for (auto& [name, ip] : in.extra_hosts) f.hosts += ip + "\t" + name + "\n";

    // The host's file: its search domains and options, and its servers when the
    // container gets no others.
    std::vector<std::string> host_servers, host_search, options;
    for (auto& raw : split(in.host_resolv_conf, '\n')) {
        std::string line(trim(raw));
        std::replace(line.begin(), line.end(), '\t', ' ');
        if (line.empty() || line[0] == '#' || line[0] == ';') continue;
        auto words = split(line, ' ');
        std::erase_if(words, [](const std::string& w) { return w.empty(); });
        if (words.size() < 2) continue;
        if (words[0] == "nameserver") add_unique(host_servers, words[1]);
        else if (words[0] == "search" || words[0] == "domain")
            for (size_t i = 1; i < words.size(); ++i) add_unique(host_search, words[i]);
        else if (words[0] == "options")
            for (size_t i = 1; i < words.size(); ++i) add_unique(options, words[i]);
    }
    std::vector<std::string> servers, search;
    if (!in.dns.empty()) {
        for (auto& s : in.dns) add_unique(servers, s);
    } else if (!in.network_dns.empty()) {
        // aardvark-dns answers the containers' names and forwards the rest to the host's
        // resolvers itself.
        for (auto& s : in.network_dns) add_unique(servers, s);
    } else {
        for (auto& s : host_servers)
            if (in.host_network || !loopback(s)) add_unique(servers, s);
    }
    if (!in.dns_search.empty()) {
        for (auto& s : in.dns_search) add_unique(search, s);
    } else {
        for (auto& s : in.network_search) add_unique(search, s);
        for (auto& s : host_search) add_unique(search, s);
    }
    if (!search.empty()) f.resolv_conf += "search " + join(search, " ") + "\n";
    for (auto& s : servers) f.resolv_conf += "nameserver " + s + "\n";
    if (!options.empty()) f.resolv_conf += "options " + join(options, " ") + "\n";
    return f;
}

}  // namespace kapsel::network
