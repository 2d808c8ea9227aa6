// See ports.hpp.
#include "network/ports.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>

#include "network/subnet.hpp"
#include "util/fd.hpp"
#include "util/strings.hpp"

namespace kapsel::network {
namespace {

struct Range {
    unsigned first = 0, count = 1;
};

// "80" or "8000-8009"; 0 only where `zero_ok` (a host port left to kapsel).
std::optional<Range> parse_range(std::string_view s, bool zero_ok) {
    auto num = [](std::string_view t) -> std::optional<unsigned> {
        if (t.empty() || t.size() > 5) return std::nullopt;
        unsigned v = 0;
        for (char c : t) {
            if (c < '0' || c > '9') return std::nullopt;
            v = v * 10 + unsigned(c - '0');
        }
        return v <= 65535 ? std::optional<unsigned>(v) : std::nullopt;
    };
    size_t dash = s.find('-');
    auto a = num(s.substr(0, dash));
    if (!a || (*a == 0 && !zero_ok)) return std::nullopt;
    if (dash == std::string_view::npos) return Range{*a, 1};
    auto b = num(s.substr(dash + 1));
    if (!b || *b < *a || *a == 0) return std::nullopt;
    return Range{*a, *b - *a + 1};
}

}  // namespace

Result<PortMapping> parse_publish(std::string_view text) {
    auto bad = [&](const std::string& why) {
        return make_error("-p \"" + std::string(text) + "\": " + why);
    };
    if (text.empty() || text.size() > 128) return bad("expected [[IP:][HOST]:]CONTAINER[/tcp|udp]");
    PortMapping p;
    std::string_view rest = text;
    if (size_t slash = rest.rfind('/'); slash != std::string_view::npos) {
        std::string proto(rest.substr(slash + 1));
        if (proto != "tcp" && proto != "udp") return bad("protocol \"" + proto + "\" is not tcp or udp");
        p.protocol = proto;
        rest = rest.substr(0, slash);
    }
    std::vector<std::string> parts = split(rest, ':');
    if (parts.empty() || parts.size() > 3) return bad("expected [[IP:][HOST]:]CONTAINER[/tcp|udp]");
    std::string ctr = parts.back(), host = parts.size() >= 2 ? parts[parts.size() - 2] : "";
    if (parts.size() == 3) {
        p.host_ip = parts[0];
        if (!parse_ipv4(p.host_ip)) return bad("\"" + p.host_ip + "\" is not an IPv4 address");
    }
    auto c = parse_range(ctr, false);
    if (!c) return bad("container port \"" + ctr + "\" is not a port (1-65535) or a range");
    Range h{0, c->count};
    if (!host.empty()) {
        auto hr = parse_range(host, false);
        if (!hr) return bad("host port \"" + host + "\" is not a port (1-65535) or a range");
        if (hr->count != c->count) return bad("the host and container ranges differ in length");
        h = *hr;
    }
    if (c->first + c->count - 1 > 65535 || h.first + h.count - 1 > 65535) return bad("range past 65535");
    p.container_port = uint16_t(c->first);
    p.host_port = uint16_t(h.first);
    p.range = uint16_t(c->count);
    return p;
}

Result<std::vector<PortMapping>> publish_exposed(const std::vector<std::string>& exposed) {
    std::vector<PortMapping> out;
    for (auto& e : exposed) {
        // EXPOSE comes from the image: its text is checked like -p's.
        auto p = parse_publish(e);
        if (!p) return make_error("the image's EXPOSE \"" + e + "\": " + p.error().message);
        p->host_port = 0;
        out.push_back(*p);
    }
    return out;
}

std::vector<std::string> port_lines(const std::vector<PortMapping>& ports) {
    std::vector<std::string> out;
    for (auto& p : ports)
        for (unsigned i = 0; i < p.range; ++i)
            out.push_back(std::to_string(p.container_port + i) + "/" + p.protocol + " -> " +
                          (p.host_ip.empty() ? "0.0.0.0" : p.host_ip) + ":" +
                          std::to_string(p.host_port + i));
    return out;
}

namespace {

// Binds ip:port (0: any free one); the port bound, or the errno.
Result<uint16_t> try_bind(const std::string& ip, uint16_t port, const std::string& proto) {
    unique_fd s(::socket(AF_INET, (proto == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0));
    if (!s) return sys_error("socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = ip.empty() ? htonl(INADDR_ANY) : htonl(parse_ipv4(ip)->value);
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) return sys_error("bind");
    socklen_t len = sizeof a;
    if (::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) < 0) return sys_error("getsockname");
    return ntohs(a.sin_port);
}

}  // namespace

Status claim_host_ports(std::vector<PortMapping>& ports) {
    for (auto& p : ports) {
        if (p.host_port == 0) {
            // A range left to kapsel: the first free port whose followers are free too.
            for (int attempt = 0; attempt < 64 && p.host_port == 0; ++attempt) {
                auto first = try_bind(p.host_ip, 0, p.protocol);
                if (!first) return make_error("find a free host port for " + std::to_string(p.container_port) + "/" + p.protocol + ": " + first.error().message);
                if (*first + p.range - 1 > 65535) continue;
                bool free = true;
                for (unsigned i = 1; i < p.range && free; ++i) free = try_bind(p.host_ip, uint16_t(*first + i), p.protocol).ok();
                if (free) p.host_port = *first;
            }
            if (p.host_port == 0)
                return make_error("no free range of " + std::to_string(p.range) + " host ports for " + std::to_string(p.container_port) + "/" + p.protocol);
            continue;
        }
        for (unsigned i = 0; i < p.range; ++i) {
            uint16_t port = uint16_t(p.host_port + i);
            auto bound = try_bind(p.host_ip, port, p.protocol);
            if (!bound) {
                if (bound.error().code == EADDRINUSE)
                    return make_error("port " + std::to_string(port) + "/" + p.protocol + " is in use on the host" +
                                      (p.host_ip.empty() ? "" : " (" + p.host_ip + ")"));
                if (bound.error().code == EADDRNOTAVAIL)
                    return make_error("-p: " + p.host_ip + " is not an address of this host");
                return make_error("check host port " + std::to_string(port) + "/" + p.protocol + ": " + bound.error().message);
            }
        }
    }
    return {};
}

}  // namespace kapsel::network
