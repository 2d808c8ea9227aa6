// See netavark.hpp.
#include "network/netavark.hpp"

#include <unistd.h>

#include <cstdlib>

#include "util/fs.hpp"
#include "util/spawn.hpp"
#include "util/strings.hpp"

namespace kapsel::network {
namespace {

// netavark's answers are small (a few hundred bytes a network); anything near this is
// not netavark.
constexpr size_t kMaxOutput = 256 * 1024;

const Network* find(const std::vector<Network>& ns, const std::string& name) {
    for (auto& n : ns)
        if (n.name == name) return &n;
    return nullptr;
}

std::vector<std::string> strings_in(const json& j, const char* key) {
    std::vector<std::string> out;
    auto it = j.find(key);
    if (it == j.end() || !it->is_array()) return out;
    for (auto& v : *it)
        if (v.is_string() && out.size() < 64) out.push_back(v.get<std::string>());
    return out;
}

std::string string_in(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// netavark says what went wrong as {"error": "..."} on stdout (or text on stderr).
std::string why(const Completed& c) {
    try {
        auto j = json::parse(c.out);
        if (j.is_object() && j.contains("error") && j["error"].is_string())
            return j["error"].get<std::string>();
    } catch (const std::exception&) {
    }
    std::string text(trim(c.err.empty() ? c.out : c.err));
    if (text.size() > 400) text = text.substr(0, 400) + "...";
    return text.empty() ? "exit status " + std::to_string(c.status) : text;
}

}  // namespace

Result<json> netavark_options(const Attachment& a, const std::vector<Network>& networks) {
    json nets = json::object(), info = json::object();
    for (auto& e : a.endpoints) {
        const Network* n = find(networks, e.network);
        if (!n) return make_error("network \"" + e.network + "\" is not known");
        json ep = {{"interface_name", e.interface}, {"aliases", e.aliases}};
        if (!e.ip.empty()) ep["static_ips"] = json::array({e.ip});
        if (!e.mac.empty()) ep["static_mac"] = e.mac;
        nets[e.network] = ep;
        info[e.network] = to_json(*n);
        // Every kapsel network is apart from the others (netavark's isolate: its
        // NETAVARK_ISOLATION chains drop traffic from one network's bridge to another's);
        // the way out stays open unless the network is internal.
        info[e.network]["options"]["isolate"] = "true";
    }
    json ports = json::array();
    for (auto& p : a.ports) ports.push_back(to_json(p));
    return json{{"container_id", a.container_id},
                {"container_name", a.container_name},
                {"networks", nets},
                {"network_info", info},
                {"port_mappings", ports}};
}

Result<std::vector<EndpointStatus>> parse_setup_output(std::string_view text) {
    if (text.size() > kMaxOutput) return make_error("netavark's answer is too large");
    json j;
    try {
        j = json::parse(text);
    } catch (const std::exception& e) {
        return make_error(std::string("netavark's answer is not JSON: ") + e.what());
    }
    if (!j.is_object()) return make_error("netavark's answer is not a JSON object");
    std::vector<EndpointStatus> out;
    for (auto& [name, block] : j.items()) {
        if (!block.is_object() || out.size() >= 64) continue;
        auto ifs = block.find("interfaces");
        if (ifs == block.end() || !ifs->is_object()) continue;
        for (auto& [ifname, iface] : ifs->items()) {
            if (!iface.is_object()) continue;
            EndpointStatus s;
            s.network = name;
            s.interface = ifname;
            s.mac = string_in(iface, "mac_address");
            s.dns_servers = strings_in(block, "dns_server_ips");
            s.dns_search = strings_in(block, "dns_search_domains");
            if (auto sn = iface.find("subnets"); sn != iface.end() && sn->is_array())
                for (auto& x : *sn) {
                    if (!x.is_object()) continue;
                    std::string ipnet = string_in(x, "ipnet");
                    if (ipnet.find(':') != std::string::npos) continue;  // IPv6: not made
                    s.address = ipnet;
                    s.gateway = string_in(x, "gateway");
                    break;
                }
            out.push_back(std::move(s));
        }
    }
    return out;
}

namespace detail {

std::string_view aardvark_line_id(std::string_view line, bool first) {
    if (first) return {};
    std::string_view id = line.substr(0, line.find_first_of(" \n"));
    // netavark's container ids are what kapsel gave it: 64 hex digits.
    return valid_container_id(id) ? id : std::string_view();
}

}  // namespace detail

std::vector<std::string> aardvark_record_ids(std::string_view text) {
    std::vector<std::string> out;
    bool first = true;
    while (!text.empty() && out.size() < 4096) {
        size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        std::string_view id = detail::aardvark_line_id(line, first);
        first = false;
        if (!id.empty()) out.emplace_back(id);
    }
    return out;
}

std::string with_aardvark_record_renamed(std::string_view text, const std::string& from, const std::string& to,
                                         const std::vector<std::string>& names) {
    return detail::map_aardvark_lines(text, [&](std::string_view line, std::string_view id) {
        if (id != from) return std::string(line);
        // "ID IPV4S IPV6S NAMES": the addresses stay, the id and the names are the new container's.
        std::vector<std::string> fields = split(std::string(trim(line)), ' ');
        fields.resize(4);
        return to + " " + fields[1] + " " + fields[2] + " " + join(names, ",") + "\n";
    });
}

json setup_output_json(const std::vector<EndpointStatus>& status) {
    json out = json::object();
    for (auto& s : status) {
        json subnets = json::array();
        if (!s.address.empty()) subnets.push_back({{"ipnet", s.address}, {"gateway", s.gateway}});
        out[s.network] = {{"interfaces", {{s.interface, {{"mac_address", s.mac}, {"subnets", subnets}}}}},
                          {"dns_server_ips", s.dns_servers},
                          {"dns_search_domains", s.dns_search}};
    }
    return out;
}

Result<std::string> find_netavark() {
    if (const char* env = std::getenv("KAPSEL_NETAVARK"); env && *env) {
        if (::access(env, X_OK) != 0) return sys_error(std::string("KAPSEL_NETAVARK: run ") + env);
        return std::string(env);
    }
    for (const char* p : {"/usr/lib/podman/netavark", "/usr/libexec/podman/netavark"})
        if (::access(p, X_OK) == 0) return std::string(p);
    return make_error("netavark is not installed (apt install netavark aardvark-dns), which bridge "
                      "networks need; --network none, host or private need none");
}

std::string find_aardvark(const std::string& netavark) {
    if (const char* env = std::getenv("KAPSEL_AARDVARK_DNS"); env && *env) return env;
    std::string beside = fs::dirname(netavark) + "/aardvark-dns";
    return ::access(beside.c_str(), X_OK) == 0 ? beside : std::string();
}

std::vector<std::string> Netavark::argv(const char* verb, const std::string& netns) const {
    std::vector<std::string> a = {program_, "--config", config_};
    if (!aardvark_.empty()) a.insert(a.end(), {"--aardvark-binary", aardvark_});
    a.insert(a.end(), {verb, netns});
    return a;
}

namespace {

// aardvark-dns, which netavark starts, is a daemon that outlives netavark.
Result<Completed> run_unreaped(const std::vector<std::string>& argv, const std::string& input, int lock_fd) {
    return run_program_unreaped(argv, input, kMaxOutput, std::chrono::seconds(60), lock_fd);
}

}  // namespace

Result<std::vector<EndpointStatus>> Netavark::setup(const std::string& netns, const json& options,
                                                    int lock_fd) const {
    KAPSEL_TRY(fs::mkdir_p(config_, 0700));
    Completed c = KAPSEL_TRY(run_unreaped(argv("setup", netns), options.dump(), lock_fd));
    if (!c.exited_ok()) return make_error("netavark setup: " + why(c));
    return parse_setup_output(c.out);
}

Status Netavark::teardown(const std::string& netns, const json& options, int lock_fd) const {
    KAPSEL_TRY(fs::mkdir_p(config_, 0700));
    Completed c = KAPSEL_TRY(run_unreaped(argv("teardown", netns), options.dump(), lock_fd));
    if (!c.exited_ok()) return make_error("netavark teardown: " + why(c));
    return {};
}

}  // namespace kapsel::network
