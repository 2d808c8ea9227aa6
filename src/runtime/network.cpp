// See network.hpp.
#include "runtime/network.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <set>

#include "network/etc_files.hpp"
#include "network/netavark.hpp"
#include "network/netns.hpp"
#include "network/pasta.hpp"
#include "network/slirp.hpp"
#include "network/ports.hpp"
#include "runtime/container_meta.hpp"
#include "runtime/containers.hpp"
#include "runtime/store.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/proc.hpp"
#include "util/strings.hpp"

namespace kapsel::runtime {

using nlohmann::json;

std::string network_root() {
    if (const char* e = ::getenv("KAPSEL_NETWORK_ROOT"); e && *e) return e;
    // A user's networks (pasta's attachments) are the user's, beside its store.
    if (rootless()) return image::Store::default_root();
    return "/var/lib/kapsel";
}

bool is_bridge_mode(const std::string& mode) {
    return mode != "none" && mode != "host" && mode != "private" && mode != "pasta" && mode != "slirp4netns" &&
           mode.rfind("container:", 0) != 0 && mode.rfind("ns:", 0) != 0;
}

namespace {


// netavark changes host-wide state (the bridge, the firewall chains shared by a network's
// containers, aardvark-dns's files) without a lock of its own: two at once leave rules
// twice or take away a network's rules while another container still needs them. podman
// runs it under its network lock; kapsel under this one, for setup and teardown alike.
Result<unique_fd> netavark_lock(const network::NetworkStore& ns) {
    std::string path = ns.dir() + "/netavark.lock";
    unique_fd lock(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!lock) return sys_error("open " + path);
    while (::flock(lock.get(), LOCK_EX) < 0)
        if (errno != EINTR) return sys_error("lock " + path);
    return lock;
}

// Whether `pid` runs the aardvark-dns binary `bin` (same inode: a container's process
// could call itself anything) with `config` as its --config.
bool is_aardvark_of(pid_t pid, const struct stat& bin, const std::string& config) {
    if (!process_runs(pid, bin)) return false;
    auto cmdline = fs::read_file("/proc/" + std::to_string(pid) + "/cmdline");
    if (!cmdline) return false;
    std::vector<std::string> argv = split(*cmdline, '\0');
    for (size_t i = 0; i + 1 < argv.size(); ++i)
        if (argv[i] == "--config" && argv[i + 1] == config) return true;
    return false;
}

// The aardvark-dns netavark knows of (its pid file), 0 when there is none.
pid_t known_aardvark(const std::string& config) {
    auto text = fs::read_file(config + "/aardvark.pid");
    return text ? static_cast<pid_t>(std::atoi(text->c_str())) : 0;
}

// aardvark-dns instances of this network root that netavark does not know of (it knows
// only the one in its pid file): one left by a crash, or by runs before the netavark lock,
// keeps port 53 on the gateways and answers with stale names. Ended before a setup. A
// process counts only if it runs the very aardvark-dns binary with this root's --config.
void end_stray_aardvarks(const network::NetworkStore& ns, const std::string& aardvark) {
    struct stat bin {};
    if (aardvark.empty() || ::stat(aardvark.c_str(), &bin) != 0) return;
    std::string config = ns.netavark_dir() + "/aardvark-dns";
    pid_t known = known_aardvark(config);
    DIR* proc = ::opendir("/proc");
    if (!proc) return;
    while (dirent* d = ::readdir(proc)) {
        pid_t pid = static_cast<pid_t>(std::atoi(d->d_name));
        if (pid <= 0 || pid == known || !is_aardvark_of(pid, bin, config)) continue;
        log::warn("ending a stray aardvark-dns (pid " + std::to_string(pid) + ") of " + config);
        ::kill(pid, SIGTERM);
    }
    ::closedir(proc);
}

// aardvark-dns reads its records again on SIGHUP (the one netavark started, if it runs).
void hup_aardvark(const network::NetworkStore& ns) {
    std::string config = ns.netavark_dir() + "/aardvark-dns";
    struct stat bin {};
    std::string aardvark;
    if (auto program = network::find_netavark()) aardvark = network::find_aardvark(*program);
    pid_t known = known_aardvark(config);
    if (known > 0 && !aardvark.empty() && ::stat(aardvark.c_str(), &bin) == 0 && is_aardvark_of(known, bin, config))
        ::kill(known, SIGHUP);
}

// Gives aardvark-dns's record of container `from` on `network` to container `to` with
// `names` (no names: `from`'s line goes). The caller holds the netavark lock.
Status rename_dns_record(const network::NetworkStore& ns, const std::string& network, const std::string& from,
                         const std::string& to, const std::vector<std::string>& names) {
    std::string path = ns.netavark_dir() + "/aardvark-dns/" + network;
    unique_fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!f) return errno == ENOENT ? Status() : sys_error("open " + path);
    std::string text = KAPSEL_TRY(fs::read_fd(f.get(), path, 16 << 20));
    std::string changed = to.empty() ? network::without_aardvark_records(text, [&](const std::string& id) { return id == from; })
                                     : network::with_aardvark_record_renamed(text, from, to, names);
    if (changed == text) return {};
    KAPSEL_TRY(fs::write_file_atomic(path, changed, 0644));
    hup_aardvark(ns);
    return {};
}

// How many set-up namespaces each network keeps for the next containers:
// $KAPSEL_NETWORK_SPARES (0 to 16), else 2.
size_t spare_limit() {
    const char* env = std::getenv("KAPSEL_NETWORK_SPARES");
    if (!env || !*env) return 2;
    char* end = nullptr;
    unsigned long n = std::strtoul(env, &end, 10);
    return *end ? 2 : std::min<unsigned long>(n, 16);
}

// Where bridge containers' namespaces are bound: host-wide, beside the attachments, since
// one may serve a container of another --root after its first container has ended.
std::string bridge_netns_dir(const network::NetworkStore& ns) {
    return ns.dir() + "/netns";
}

// netavark teardown of what `a` set up, then its namespace and its record. The caller
// holds the netavark lock. netavark's teardown reports what was already gone (an
// interface, aardvark's files) as errors too: a warning, and the rest goes on; a
// namespace that cannot be unmounted keeps the record, for rm or system prune.
Status take_down_locked(network::NetworkStore& ns, const network::Attachment& a, int lock_fd);

Result<network::Netavark> netavark_of(const network::NetworkStore& ns) {
    std::string program = KAPSEL_TRY(network::find_netavark());
    return network::Netavark(program, network::find_aardvark(program), ns.netavark_dir());
}

// The networks an attachment's endpoints are on, as the store has them.
Result<std::vector<network::Network>> networks_of(network::NetworkStore& ns, const network::Attachment& a) {
    std::vector<network::Network> out;
    for (auto& e : a.endpoints) out.push_back(KAPSEL_TRY(ns.get(e.network)));
    return out;
}

// One of the host's /etc files, "" when it is missing or implausibly large.
std::string host_etc(const char* path) {
    unique_fd f(::open(path, O_RDONLY | O_CLOEXEC));
    if (!f) return {};
    auto text = fs::read_fd(f.get(), path, 1 << 20);
    return text ? *text : std::string();
}

// What every container's /etc files are made from: its names, what the user asked for
// and the host's resolvers.
network::EtcInput etc_input(const std::string& hostname, const std::string& name, const NetworkRequest& req) {
    network::EtcInput in;
    in.hostname = hostname;
    in.name = name;
    in.extra_hosts = req.extra_hosts;
    in.dns = req.dns;
    in.dns_search = req.dns_search;
    in.host_resolv_conf = host_etc("/etc/resolv.conf");
    return in;
}

// The /etc files a container on a network gets: the file in its directory, the one it is
// bound over, and its text.
struct EtcFile {
    const char* file;
    const char* target;
    std::string network::EtcFiles::*text;
};
constexpr EtcFile kEtcFiles[] = {{"hosts", "/etc/hosts", &network::EtcFiles::hosts},
                                 {"resolv.conf", "/etc/resolv.conf", &network::EtcFiles::resolv_conf},
                                 {"hostname", "/etc/hostname", &network::EtcFiles::hostname}};

// Writes the container's /etc files into its directory; the binds. `resolv` false: no
// resolv.conf (a container without a way out keeps the image's).
Result<std::vector<std::pair<std::string, std::string>>> write_etc(const std::string& dir,
                                                                   const network::EtcFiles& f,
                                                                   bool resolv = true) {
    std::vector<std::pair<std::string, std::string>> binds;
    for (auto& e : kEtcFiles) {
        if (!resolv && e.text == &network::EtcFiles::resolv_conf) continue;
        std::string path = dir + "/" + e.file;
        KAPSEL_TRY(fs::write_file_atomic(path, f.*e.text, 0644));
        binds.emplace_back(path, e.target);
    }
    return binds;
}

// container:NAME: the namespace of another running container of this store, and its
// /etc files.
Result<NetworkSetup> join_container(const Globals& g, const image::Store& store, const std::string& other_id) {
    json meta = KAPSEL_TRY(read_meta(store, other_id));
    std::string other_dir = image::container_dirs(store, other_id).dir;
    // Its init, as the runtime's record has it (and still that process: not a reused pid).
    auto rec = Store(g.root).load(other_id);
    int pid = rec ? rec->pid : 0;
    if (pid <= 0 || process_start_time(pid) != rec->pid_start)
        return make_error("--network container:" + meta.value("name", other_id) + ": that container is not running");
    // Another container in its namespace: it is never handed on after it ends.
    network_changed(other_id);
    NetworkSetup s;
    s.spec_network = "ns:/proc/" + std::to_string(pid) + "/ns/net";
    for (auto& e : kEtcFiles)
        if (fs::exists(other_dir + "/" + e.file)) s.etc_binds.emplace_back(other_dir + "/" + e.file, e.target);
    s.summary = {{"mode", "container:" + other_id}};
    return s;
}

// --network pasta (slirp4netns where pasta is missing) or slirp4netns: a namespace of the
// container's own, bound beside the bridges' and recorded as an attachment without
// endpoints (its published ports are checked against every other container's), put on
// the host's network by pasta or slirp4netns, which detach_network ends.
Result<NetworkSetup> attach_user_mode(const Globals& g, const std::string& id, const std::string& name,
                                      const std::string& hostname, const std::string& dir,
                                      const std::vector<std::string>& exposed, const NetworkRequest& req) {
    bool slirp = req.mode == "slirp4netns";
    std::string program;
    if (!slirp) {
        if (auto pasta = network::find_pasta()) {
            program = *pasta;
        } else {
            auto fallback = network::find_slirp4netns();
            if (!fallback) return pasta.error();
            program = *fallback;
            slirp = true;
        }
    } else {
        program = KAPSEL_TRY(network::find_slirp4netns());
    }
    KAPSEL_TRY(network::check_tun());
    network::NetworkStore ns = KAPSEL_TRY(network::NetworkStore::open(network_root()));
    network::Attachment want;
    want.container_id = id;
    want.container_name = name;
    want.root = g.root;
    want.netns = bridge_netns_dir(ns) + "/" + id;
    want.ports = req.ports;
    if (req.publish_all) {
        auto all = KAPSEL_TRY(network::publish_exposed(exposed));
        want.ports.insert(want.ports.end(), all.begin(), all.end());
    }
    KAPSEL_TRY(network::claim_host_ports(want.ports));
    network::Attachment a = KAPSEL_TRY(ns.reserve(want));
    auto undo = [&](Error e) -> Error {
        (void)detach_network(id);
        return e;
    };
    auto path = network::create_netns(bridge_netns_dir(ns), id);
    if (!path) return undo(path.error());
    auto started = slirp ? network::start_slirp4netns(program, *path, a.ports)
                         : network::start_pasta(program, network::pasta_args(*path, a.ports, network::pasta_pid_file(*path),
                                                                             ::geteuid() == 0));
    if (!started) return undo(started.error());
    network::EtcInput in = etc_input(hostname, name, req);
    in.network_dns = {slirp ? network::kSlirpDns : network::kPastaDns};
    auto binds = write_etc(dir, network::etc_files(in));
    if (!binds) return undo(binds.error());
    json ports = json::array();
    for (auto& p : a.ports) ports.push_back(network::to_json(p));
    NetworkSetup s;
    s.spec_network = "ns:" + *path;
    s.own_namespace = true;
    s.etc_binds = *binds;
    s.summary = {{"mode", slirp ? "slirp4netns" : "pasta"}, {"netns", *path}, {"networks", json::object()},
                 {"ports", ports}};
    return s;
}

}  // namespace

Result<NetworkSetup> attach_network(const Globals& g, const image::Store& store, const std::string& id,
                                    const std::string& name, const std::string& hostname,
                                    const std::string& dir, const std::vector<std::string>& exposed,
                                    const NetworkRequest& req) {
    const std::string& mode = req.mode;
    bool bridge = is_bridge_mode(mode);
    bool user_mode = mode == "pasta" || mode == "slirp4netns";
    if (user_mode && (!req.ip.empty() || !req.mac.empty() || !req.aliases.empty()))
        return make_error("--ip, --mac-address and --network-alias need a bridge network, not --network " + mode);
    if (!bridge && !user_mode &&
        (!req.ports.empty() || req.publish_all || !req.ip.empty() || !req.mac.empty() || !req.aliases.empty()))
        return make_error("-p, -P, --ip, --mac-address and --network-alias need a bridge network, not --network " + mode);
    // Without a bridge the container still gets its own /etc/hosts (localhost, its host
    // name, --add-host; on the host's network the host's names first) and /etc/hostname;
    // /etc/resolv.conf where it has a way out (the host's resolvers), or when --dns or
    // --dns-search asked for one.
    auto etc_only = [&](NetworkSetup s, bool way_out) -> Result<NetworkSetup> {
        network::EtcInput in = etc_input(hostname, name, req);
        in.host_network = mode == "host";
        if (in.host_network) in.host_hosts = host_etc("/etc/hosts");
        bool resolv = way_out || !req.dns.empty() || !req.dns_search.empty();
        s.etc_binds = KAPSEL_TRY(write_etc(dir, network::etc_files(in), resolv));
        return s;
    };
    if (mode == "none" || mode == "host" || mode == "private")
        return etc_only({.spec_network = mode, .own_namespace = mode != "host", .summary = {{"mode", mode}}},
                        mode == "host");
    if (mode.rfind("ns:", 0) == 0) {
        std::string path = mode.substr(3);
        if (path.empty() || path[0] != '/') return make_error("--network ns:PATH: \"" + path + "\" is not an absolute path");
        if (!network::is_netns(path)) return make_error("--network ns:" + path + ": not a network namespace");
        return etc_only({.spec_network = mode, .summary = {{"mode", mode}}}, true);
    }
    if (mode.rfind("container:", 0) == 0) {
        if (!req.extra_hosts.empty() || !req.dns.empty() || !req.dns_search.empty())
            return make_error("--add-host, --dns and --dns-search cannot be used with --network " + mode +
                              ": its /etc/hosts and /etc/resolv.conf are that container's");
        auto other = resolve_container(g, mode.substr(10));
        if (!other) return make_error("--network " + mode + ": " + other.error().message);
        return join_container(g, store, *other);
    }

    if (user_mode) return attach_user_mode(g, id, name, hostname, dir, exposed, req);

    // A bridge network.
    network::NetworkStore ns = KAPSEL_TRY(network::NetworkStore::open(network_root()));
    network::Netavark netavark = KAPSEL_TRY(netavark_of(ns));
    std::string net_name = mode == "bridge" ? network::kDefaultNetwork : mode;
    network::Attachment want;
    want.container_id = id;
    want.container_name = name;
    want.root = g.root;
    want.netns = bridge_netns_dir(ns) + "/" + id;
    network::Endpoint ep;
    ep.network = net_name;
    ep.ip = req.ip;
    ep.mac = req.mac;
    ep.aliases = {name};
    for (auto& a : req.aliases) ep.aliases.push_back(a);
    want.endpoints.push_back(ep);
    want.ports = req.ports;
    if (req.publish_all) {
        auto all = KAPSEL_TRY(network::publish_exposed(exposed));
        want.ports.insert(want.ports.end(), all.begin(), all.end());
    }
    want.reusable = req.reusable && want.ports.empty() && req.ip.empty() && req.mac.empty();
    KAPSEL_TRY(network::claim_host_ports(want.ports));
    auto undo = [&](Error e) -> Error {
        (void)detach_network(id);
        return e;
    };
    std::optional<network::Attachment> got;
    std::vector<network::EndpointStatus> status;
    // A namespace a container before this one left set up (a spare) serves at once:
    // netavark's setup (and the teardown it saves) is what a run on a bridge costs.
    if (want.reusable && spare_limit() > 0) {
        auto claimed = KAPSEL_TRY(ns.claim_spare(want));
        if (claimed) {
            const network::Attachment& a = claimed->attachment;
            auto ready = [&]() -> Result<std::vector<network::EndpointStatus>> {
                unique_fd lock = KAPSEL_TRY(netavark_lock(ns));
                // Taken down meanwhile (network rm or prune tear spares down): set up anew.
                if (!network::is_netns(a.netns)) {
                    (void)rename_dns_record(ns, net_name, claimed->spare_id, "", {});
                    return make_error("its namespace is gone");
                }
                network::Network net = KAPSEL_TRY(ns.get(net_name));
                if (net.dns_enabled)
                    KAPSEL_TRY(rename_dns_record(ns, net_name, claimed->spare_id, id, a.endpoints[0].aliases));
                return network::parse_setup_output(a.status.dump());
            }();
            if (ready) {
                got = a;
                status = std::move(*ready);
            } else {
                log::debug("a spare namespace of network " + net_name + ": " + ready.error().message);
                KAPSEL_TRY(detach_network(id));
            }
        }
    }
    if (!got) {
        // Recorded before anything is made: from here on detach_network undoes what exists.
        network::Attachment a = KAPSEL_TRY(ns.reserve(want));
        auto path = network::create_netns(bridge_netns_dir(ns), id);
        if (!path) return undo(path.error());
        auto networks = networks_of(ns, a);
        if (!networks) return undo(networks.error());
        auto options = network::netavark_options(a, *networks);
        if (!options) return undo(options.error());
        auto done = [&]() -> Result<std::vector<network::EndpointStatus>> {
            unique_fd lock = KAPSEL_TRY(netavark_lock(ns));
            end_stray_aardvarks(ns, netavark.aardvark());
            // The lock lives as long as netavark: a run killed meanwhile must not let a
            // prune or the next run's netavark in beside this one still at work.
            return netavark.setup(*path, *options, lock.get());
        }();
        if (!done) return undo(done.error());
        status = std::move(*done);
        a.status = network::setup_output_json(status);
        if (auto st = ns.update(a); !st) return undo(st.error());
        got = a;
    }
    const network::Attachment& a = *got;

    network::EtcInput in = etc_input(hostname, name, req);
    json nets = json::object();
    for (auto& st : status) {
        std::string ip = st.address.substr(0, st.address.find('/'));
        if (!ip.empty()) in.addresses.push_back(ip);
        for (auto& d : st.dns_servers) in.network_dns.push_back(d);
        for (auto& d : st.dns_search) in.network_search.push_back(d);
        json aliases = json::array();
        for (auto& e : a.endpoints)
            if (e.network == st.network) aliases = e.aliases;
        nets[st.network] = {{"interface", st.interface}, {"address", st.address}, {"ip", ip},
                            {"gateway", st.gateway}, {"mac", st.mac}, {"aliases", aliases}};
    }
    auto binds = write_etc(dir, network::etc_files(in));
    if (!binds) return undo(binds.error());
    json ports = json::array();
    for (auto& p : a.ports) ports.push_back(network::to_json(p));
    NetworkSetup s;
    s.spec_network = "ns:" + a.netns;
    s.own_namespace = true;
    s.etc_binds = *binds;
    s.summary = {{"mode", "bridge"}, {"netns", a.netns}, {"networks", nets}, {"ports", ports}};
    return s;
}

std::vector<network::PortMapping> published_ports(const json& summary) {
    std::vector<network::PortMapping> out;
    if (!summary.is_object() || !summary.contains("ports") || !summary["ports"].is_array()) return out;
    for (auto& p : summary["ports"])
        if (auto m = network::port_from_json(p)) out.push_back(*m);
    return out;
}

json network_settings(const json& summary) {
    json nets = json::object(), ports = json::object();
    json first = json::object();
    if (summary.is_object() && summary.contains("networks") && summary["networks"].is_object())
        for (auto& [name, n] : summary["networks"].items()) {
            if (!n.is_object()) continue;
            std::string address = n.value("address", "");
            size_t slash = address.find('/');
            int prefix = slash == std::string::npos ? 0 : std::atoi(address.c_str() + slash + 1);
            json e = {{"IPAddress", n.value("ip", "")}, {"IPPrefixLen", prefix},
                      {"Gateway", n.value("gateway", "")}, {"MacAddress", n.value("mac", "")},
                      {"Aliases", n.value("aliases", json::array())}};
            if (first.empty()) first = e;
            nets[name] = e;
        }
    for (auto& p : published_ports(summary))
        for (unsigned i = 0; i < p.range; ++i)
            ports[std::to_string(p.container_port + i) + "/" + p.protocol].push_back(
                {{"HostIp", p.host_ip}, {"HostPort", std::to_string(p.host_port + i)}});
    return {{"Networks", nets},
            {"Ports", ports},
            {"IPAddress", first.value("IPAddress", "")},
            {"Gateway", first.value("Gateway", "")},
            {"MacAddress", first.value("MacAddress", "")},
            {"Mode", summary.is_object() ? summary.value("mode", "") : ""}};
}

Result<std::vector<network::PortMapping>> container_ports(const Globals& g, const std::string& name) {
    std::string id = KAPSEL_TRY(resolve_container(g, name));
    image::Store store = KAPSEL_TRY(open_store(g));
    json meta = KAPSEL_TRY(read_meta(store, id));
    return published_ports(meta.value("network", json::object()));
}

namespace {

// netavark 1.4 takes the FORWARD rule that jumps to its isolation chains away with the
// last container of any network, though other networks still have containers: they can
// then reach each other until netavark's next setup puts the rule back (seen: a container
// on one network fetched a page from one on another after a third network went). So when
// `gone` has no container left and another network has, kapsel has netavark set up (and
// take down again) a namespace of its own on that network, which puts the rule back:
// netavark's rules, by netavark. The caller holds the netavark lock.
void restore_isolation(network::NetworkStore& ns, const std::string& gone, int lock_fd) {
    auto all = ns.attachments();
    if (!all) return;
    std::string other;
    for (auto& a : *all) {
        if (a.endpoints.empty()) continue;
        if (a.endpoints[0].network == gone) return;  // not its last container: nothing was taken
        if (other.empty()) other = a.endpoints[0].network;
    }
    if (other.empty()) return;  // no network with containers: nothing to keep apart
    auto netavark = netavark_of(ns);
    auto id = network::random_hex64();
    if (!netavark || !id) return;
    network::Attachment probe;
    probe.container_id = *id;
    probe.container_name = "kapsel-isolation";
    probe.netns = bridge_netns_dir(ns) + "/" + *id;
    probe.endpoints.push_back(network::Endpoint{.network = other});
    auto reserved = ns.reserve(probe);
    if (!reserved) return;
    auto done = [&]() -> Status {
        std::string path = KAPSEL_TRY(network::create_netns(bridge_netns_dir(ns), *id));
        auto networks = KAPSEL_TRY(networks_of(ns, *reserved));
        json options = KAPSEL_TRY(network::netavark_options(*reserved, networks));
        auto set = netavark->setup(path, options, lock_fd);
        auto down = netavark->teardown(path, options, lock_fd);
        KAPSEL_TRY(network::remove_netns(path));
        if (!set) return set.error();
        return down;
    }();
    if (!done) log::warn("putting netavark's isolation of networks back: " + done.error().message);
    (void)ns.release(*id);
}

Status take_down_locked(network::NetworkStore& ns, const network::Attachment& a, int lock_fd) {
    // netavark first (it needs the namespace's path to find the interfaces), then the
    // namespace, then the record.
    // (No endpoints: pasta's, which quits when the namespace's file goes.)
    if (!a.endpoints.empty() && !a.netns.empty() && network::is_netns(a.netns)) {
        auto netavark = netavark_of(ns);
        auto networks = networks_of(ns, a);
        if (netavark && networks) {
            auto options = network::netavark_options(a, *networks);
            if (options) {
                auto st = netavark->teardown(a.netns, *options, lock_fd);
                if (!st) log::warn("container " + a.container_id.substr(0, 12) + ": " + st.error().message);
            }
        }
    }
    if (a.endpoints.empty() && !a.netns.empty()) {
        network::stop_pasta(a.netns);
        network::stop_slirp4netns(a.netns);
    }
    if (!a.netns.empty()) KAPSEL_TRY(network::remove_netns(a.netns));
    KAPSEL_TRY(ns.release(a.container_id));
    if (!a.endpoints.empty()) restore_isolation(ns, a.endpoints[0].network, lock_fd);
    return {};
}

}  // namespace

Status detach_network(const std::string& id) {
    if (!fs::exists(network_root() + "/networks")) return {};
    network::NetworkStore ns = KAPSEL_TRY(network::NetworkStore::open(network_root()));
    // One at a time (netavark_lock); and a container's monitor (at its exit) and `rm -f`
    // (which killed it) may both get here: the second finds no record.
    unique_fd lock = KAPSEL_TRY(netavark_lock(ns));
    auto record = ns.attachment(id);
    if (!record) return record.error();
    if (!*record) return {};
    const network::Attachment& a = **record;
    // A spare is no container's: only take_down_spares ends it.
    if (a.spare) return {};
    // Kept for the next container: its name leaves aardvark-dns, the rest stays as set up.
    if (a.reusable && spare_limit() > 0 && network::is_netns(a.netns)) {
        auto kept = ns.keep_as_spare(id, spare_limit());
        if (kept && *kept) {
            auto st = rename_dns_record(ns, a.endpoints.at(0).network, id, id, {});
            if (st) return {};
            log::warn("container " + id.substr(0, 12) + ": " + st.error().message);
            auto spare = ns.attachment(id);
            if (spare && *spare) return take_down_locked(ns, **spare, lock.get());
            return {};
        }
        if (!kept) log::warn("container " + id.substr(0, 12) + ": " + kept.error().message);
    }
    return take_down_locked(ns, a, lock.get());
}

Result<std::vector<std::string>> take_down_spares(const std::string& network) {
    std::vector<std::string> out;
    if (!fs::exists(network_root() + "/networks")) return out;
    network::NetworkStore ns = KAPSEL_TRY(network::NetworkStore::open(network_root()));
    for (auto& listed : KAPSEL_TRY(ns.attachments())) {
        if (!listed.spare || (!network.empty() && (listed.endpoints.empty() || listed.endpoints[0].network != network)))
            continue;
        unique_fd lock = KAPSEL_TRY(netavark_lock(ns));
        // Still a spare (a run may have claimed it since it was listed).
        auto record = KAPSEL_TRY(ns.attachment(listed.container_id));
        if (!record || !record->spare) continue;
        KAPSEL_TRY(take_down_locked(ns, *record, lock.get()));
        out.push_back(listed.container_id);
    }
    return out;
}

void network_changed(const std::string& id) {
    if (!fs::exists(network_root() + "/networks/attachments/" + id + ".json")) return;
    auto ns = network::NetworkStore::open(network_root());
    if (!ns) return;
    auto record = ns->attachment(id);
    if (!record || !*record || !(*record)->reusable) return;
    network::Attachment a = **record;
    a.reusable = false;
    if (auto st = ns->update(a); !st) log::warn("container " + id.substr(0, 12) + ": " + st.error().message);
}

Result<std::vector<std::string>> orphaned_dns_records(bool forget) {
    std::vector<std::string> out;
    if (!fs::exists(network_root() + "/networks")) return out;
    network::NetworkStore ns = KAPSEL_TRY(network::NetworkStore::open(network_root()));
    std::string config = ns.netavark_dir() + "/aardvark-dns";
    unique_fd dir(::open(config.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
    if (!dir) return errno == ENOENT ? Result<std::vector<std::string>>(out) : sys_error("open " + config);
    // Under the netavark lock, no setup or teardown is halfway: a setup's record comes
    // after its attachment, a teardown's record goes before it, so a record without an
    // attachment is one that no kapsel will ever take away.
    unique_fd lock = KAPSEL_TRY(netavark_lock(ns));
    std::set<std::string> attached;
    for (auto& a : KAPSEL_TRY(ns.attachments())) attached.insert(a.container_id);
    auto gone = [&](const std::string& id) { return attached.count(id) == 0; };
    std::vector<std::string> files;
    if (DIR* d = ::fdopendir(::dup(dir.get()))) {
        while (dirent* e = ::readdir(d))
            if (e->d_type == DT_REG && e->d_name[0] != '.' && std::string(e->d_name) != "aardvark.pid" &&
                files.size() < 4096)
                files.emplace_back(e->d_name);
        ::closedir(d);
    }
    bool changed = false;
    for (auto& name : files) {
        unique_fd f(::openat(dir.get(), name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        if (!f) continue;
        auto text = fs::read_fd(f.get(), config + "/" + name, 16 << 20);
        if (!text) continue;
        size_t before = out.size();
        for (auto& id : network::aardvark_record_ids(*text))
            if (gone(id)) out.push_back(id);
        if (!forget || out.size() == before) continue;
        std::string kept = network::without_aardvark_records(*text, gone);
        // No container left on the network: no file, as netavark leaves it after the last.
        if (network::aardvark_record_ids(kept).empty()) {
            if (::unlinkat(dir.get(), name.c_str(), 0) < 0) return sys_error("remove " + config + "/" + name);
        } else {
            KAPSEL_TRY(fs::write_file_atomic(config + "/" + name, kept, 0644));
        }
        changed = true;
    }
    if (changed) hup_aardvark(ns);
    return out;
}

}  // namespace kapsel::runtime
