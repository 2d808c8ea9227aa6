// The network store's records as JSON: a network in podman's netavark format and a
// container's attachment. Both are read back from disk, where anyone with root may have
// edited them, so reading checks every field and never throws.
#include <cctype>
#include <string>

#include "network/store.hpp"
#include "util/strings.hpp"

namespace kapsel::network {

namespace {

// Bounds on what an attachment may hold: far above what a user asks for, low enough
// that a record stays small.
constexpr size_t kMaxEndpoints = 32;
constexpr size_t kMaxAliases = 64;
constexpr size_t kMaxPorts = 1024;
constexpr size_t kMaxText = 4096;

bool is_hex64(std::string_view s) {
    if (s.size() != 64) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

// A Linux interface name: 1..15 bytes (IFNAMSIZ - 1), and only characters that need no
// quoting anywhere (the kernel allows more, but netavark and ip(8) users would not).
bool valid_interface_name(std::string_view s) {
    if (s.empty() || s.size() > 15 || s == "." || s == "..") return false;
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
            return false;
    return true;
}

// A DNS name other containers may use: what aardvark-dns serves.
bool valid_alias(std::string_view s) {
    if (s.empty() || s.size() > 253) return false;
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
            return false;
    return true;
}

bool valid_mac(std::string_view s) {
    if (s.size() != 17) return false;
    for (size_t i = 0; i < s.size(); ++i) {
        if (i % 3 == 2) {
            if (s[i] != ':') return false;
        } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
            return false;
        }
    }
    return true;
}

Error field_error(const std::string& field, const std::string& what) {
    return make_error("field \"" + field + "\": " + what);
}

// The string member `key`; a missing one is "" unless `required`.
Result<std::string> string_field(const json& j, const std::string& key, bool required,
                                 size_t max = kMaxText) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        if (required) return field_error(key, "missing");
        return std::string();
    }
    if (!it->is_string()) return field_error(key, "expected a string");
    const std::string& s = it->get_ref<const std::string&>();
    if (s.size() > max) return field_error(key, "longer than " + std::to_string(max) + " bytes");
    if (s.find('\0') != std::string::npos || !valid_utf8(s))
        return field_error(key, "not a valid string");
    return s;
}

Result<bool> bool_field(const json& j, const std::string& key, bool fallback) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) return field_error(key, "expected true or false");
    return it->get<bool>();
}

Result<uint64_t> number_field(const json& j, const std::string& key, uint64_t min, uint64_t max) {
    auto it = j.find(key);
    if (it == j.end()) return field_error(key, "missing");
    if (!it->is_number_unsigned()) return field_error(key, "expected a number");
    uint64_t v = it->get<uint64_t>();
    if (v < min || v > max)
        return field_error(key, "must be " + std::to_string(min) + ".." + std::to_string(max));
    return v;
}

// The array member `key` (missing: empty), at most `max` entries.
Result<const json*> array_field(const json& j, const std::string& key, size_t max) {
    static const json empty = json::array();
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return &empty;
    if (!it->is_array()) return field_error(key, "expected an array");
    if (it->size() > max) return field_error(key, "more than " + std::to_string(max) + " entries");
    return &*it;
}

}  // namespace

bool valid_network_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    if (!std::isalnum(static_cast<unsigned char>(name[0]))) return false;
    for (char c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-')
            return false;
    return true;
}

bool valid_container_id(std::string_view id) {
    return is_hex64(id);
}

nlohmann::ordered_json podman_json(const Network& n) {
    nlohmann::ordered_json subnets = nlohmann::ordered_json::array();
    for (auto& s : n.subnets) subnets.push_back({{"subnet", s.subnet}, {"gateway", s.gateway}});
    return {{"name", n.name},
            {"id", n.id},
            {"driver", n.driver},
            {"network_interface", n.interface},
            {"created", n.created},
            {"subnets", subnets},
            {"ipv6_enabled", n.ipv6_enabled},
            {"internal", n.internal},
            {"dns_enabled", n.dns_enabled},
            {"ipam_options", {{"driver", "host-local"}}}};
}

json to_json(const Network& n) {
    return json::parse(podman_json(n).dump());
}

Result<Network> network_from_json(const json& j) {
    if (!j.is_object()) return make_error("expected a JSON object");
    Network n;
    n.name = KAPSEL_TRY(string_field(j, "name", true, 64));
    if (!valid_network_name(n.name))
        return field_error("name", "invalid network name \"" + n.name + "\"");
    n.id = KAPSEL_TRY(string_field(j, "id", true, 64));
    if (!is_hex64(n.id)) return field_error("id", "expected 64 hex characters");
    n.driver = KAPSEL_TRY(string_field(j, "driver", true, 64));
    if (n.driver != "bridge")
        return field_error("driver", "\"" + n.driver + "\" is not supported (only bridge)");
    n.interface = KAPSEL_TRY(string_field(j, "network_interface", true, 64));
    if (!valid_interface_name(n.interface))
        return field_error("network_interface", "invalid interface name \"" + n.interface + "\"");
    n.created = KAPSEL_TRY(string_field(j, "created", false, 64));
    const json* subnets = KAPSEL_TRY(array_field(j, "subnets", 1));
    if (subnets->size() != 1) return field_error("subnets", "expected one IPv4 subnet");
    const json& s = (*subnets)[0];
    if (!s.is_object()) return field_error("subnets", "expected an object");
    Subnet sub;
    sub.subnet = KAPSEL_TRY_CTX(string_field(s, "subnet", true, 64), "subnets");
    sub.gateway = KAPSEL_TRY_CTX(string_field(s, "gateway", true, 64), "subnets");
    auto cidr = parse_cidr(sub.subnet);
    if (!cidr || cidr->prefix > 30)
        return field_error("subnets", "invalid subnet \"" + sub.subnet + "\"");
    auto gw = parse_ipv4(sub.gateway);
    if (!gw || !contains(*cidr, *gw) || *gw == cidr->base ||
        gw->value == (cidr->base.value | (~uint32_t{0} >> cidr->prefix)))
        return field_error("subnets",
                           "gateway \"" + sub.gateway + "\" is not a host of " + sub.subnet);
    n.subnets.push_back(sub);
    n.ipv6_enabled = KAPSEL_TRY(bool_field(j, "ipv6_enabled", false));
    if (n.ipv6_enabled) return field_error("ipv6_enabled", "IPv6 is not supported");
    n.internal = KAPSEL_TRY(bool_field(j, "internal", false));
    n.dns_enabled = KAPSEL_TRY(bool_field(j, "dns_enabled", false));
    if (auto it = j.find("ipam_options"); it != j.end() && !it->is_null()) {
        if (!it->is_object()) return field_error("ipam_options", "expected an object");
        std::string driver = KAPSEL_TRY_CTX(string_field(*it, "driver", false, 64), "ipam_options");
        if (!driver.empty() && driver != "host-local")
            return field_error("ipam_options",
                               "driver \"" + driver + "\" is not supported (only host-local)");
    }
    return n;
}

Result<PortMapping> port_from_json(const json& p) {
    if (!p.is_object()) return field_error("ports", "expected an object");
    PortMapping m;
        m.host_ip = KAPSEL_TRY_CTX(string_field(p, "host_ip", false, 64), "ports");
        if (!m.host_ip.empty() && !parse_ipv4(m.host_ip))
            return field_error("ports", "invalid address \"" + m.host_ip + "\"");
        m.host_port =
            static_cast<uint16_t>(KAPSEL_TRY_CTX(number_field(p, "host_port", 1, 65535), "ports"));
        m.container_port = static_cast<uint16_t>(
            KAPSEL_TRY_CTX(number_field(p, "container_port", 1, 65535), "ports"));
        m.range =
            static_cast<uint16_t>(KAPSEL_TRY_CTX(number_field(p, "range", 1, 65535), "ports"));
        if (uint32_t{m.host_port} + m.range - 1 > 65535 ||
            uint32_t{m.container_port} + m.range - 1 > 65535)
            return field_error("ports", "port range past 65535");
        m.protocol = KAPSEL_TRY_CTX(string_field(p, "protocol", false, 16), "ports");
        if (m.protocol.empty()) m.protocol = "tcp";
        if (m.protocol != "tcp" && m.protocol != "udp")
            return field_error("ports", "protocol \"" + m.protocol + "\" is not tcp or udp");
    return m;
}

json to_json(const PortMapping& p) {
    return json{{"host_ip", p.host_ip},
                {"host_port", p.host_port},
                {"container_port", p.container_port},
                {"range", p.range},
                {"protocol", p.protocol}};
}

json to_json(const Attachment& a) {
    json endpoints = json::array();
    for (auto& e : a.endpoints)
        endpoints.push_back({{"network", e.network},
                             {"ip", e.ip},
                             {"mac", e.mac},
                             {"aliases", e.aliases},
                             {"interface", e.interface}});
    json ports = json::array();
    for (auto& p : a.ports) ports.push_back(to_json(p));
    return json{{"container_id", a.container_id},
                {"container_name", a.container_name},
                {"netns", a.netns},
                {"endpoints", endpoints},
                {"ports", ports},
                {"root", a.root},
                {"reusable", a.reusable},
                {"spare", a.spare},
                {"status", a.status}};
}

Result<Attachment> attachment_from_json(const json& j) {
    if (!j.is_object()) return make_error("expected a JSON object");
    Attachment a;
    a.container_id = KAPSEL_TRY(string_field(j, "container_id", true, 64));
    if (!is_hex64(a.container_id)) return field_error("container_id", "expected 64 hex characters");
    a.container_name = KAPSEL_TRY(string_field(j, "container_name", false, 256));
    a.netns = KAPSEL_TRY(string_field(j, "netns", false));
    if (!a.netns.empty() && a.netns[0] != '/')
        return field_error("netns", "expected an absolute path");
    const json* endpoints = KAPSEL_TRY(array_field(j, "endpoints", kMaxEndpoints));
    for (auto& e : *endpoints) {
        if (!e.is_object()) return field_error("endpoints", "expected an object");
        Endpoint ep;
        ep.network = KAPSEL_TRY_CTX(string_field(e, "network", true, 64), "endpoints");
        if (!valid_network_name(ep.network))
            return field_error("endpoints", "invalid network name \"" + ep.network + "\"");
        ep.ip = KAPSEL_TRY_CTX(string_field(e, "ip", false, 64), "endpoints");
        if (!ep.ip.empty() && !parse_ipv4(ep.ip))
            return field_error("endpoints", "invalid address \"" + ep.ip + "\"");
        ep.mac = KAPSEL_TRY_CTX(string_field(e, "mac", false, 64), "endpoints");
        if (!ep.mac.empty() && !valid_mac(ep.mac))
            return field_error("endpoints", "invalid MAC address \"" + ep.mac + "\"");
        const json* aliases = KAPSEL_TRY_CTX(array_field(e, "aliases", kMaxAliases), "endpoints");
        for (auto& al : *aliases) {
            if (!al.is_string() || !valid_alias(al.get_ref<const std::string&>()))
                return field_error("endpoints", "invalid alias");
            ep.aliases.push_back(al.get<std::string>());
        }
        ep.interface = KAPSEL_TRY_CTX(string_field(e, "interface", false, 64), "endpoints");
        if (ep.interface.empty()) ep.interface = "eth0";
        if (!valid_interface_name(ep.interface))
            return field_error("endpoints", "invalid interface name \"" + ep.interface + "\"");
        a.endpoints.push_back(std::move(ep));
    }
    const json* ports = KAPSEL_TRY(array_field(j, "ports", kMaxPorts));
    for (auto& p : *ports) {
        PortMapping m = KAPSEL_TRY(port_from_json(p));
        a.ports.push_back(std::move(m));
    }
    a.root = KAPSEL_TRY(string_field(j, "root", false));
    if (!a.root.empty() && a.root[0] != '/') return field_error("root", "expected an absolute path");
    for (auto [key, flag] : {std::pair{"reusable", &a.reusable}, std::pair{"spare", &a.spare}}) {
        auto it = j.find(key);
        if (it == j.end()) continue;
        if (!it->is_boolean()) return field_error(key, "expected true or false");
        *flag = it->get<bool>();
    }
    if (auto it = j.find("status"); it != j.end()) {
        if (!it->is_object()) return field_error("status", "expected an object");
        a.status = *it;  // read by parse_setup_output, which trusts no field of it
    }
    return a;
}

}  // namespace kapsel::network
