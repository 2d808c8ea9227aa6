// kapsel network create|ls|inspect|rm|prune: the bridge networks of `kapsel run`
#include "runtime/network.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "image/store.hpp"
#include "network/store.hpp"

namespace kapsel::cli {

namespace {

const char* kNetworkUsage =
    "usage: kapsel network create [options] NAME\n"
    "       kapsel network ls [--format table|json] [-q]\n"
    "       kapsel network inspect NAME...\n"
    "       kapsel network rm NAME...\n"
    "       kapsel network prune [-f]\n\n"
    "Manage the bridge networks containers run on, one set for the host whatever the\n"
    "--storage-root (kept in podman's netavark format in $KAPSEL_NETWORK_ROOT/networks,\n"
    "default /var/lib/kapsel/networks). The network \"kapsel\" is the default one, made\n"
    "on first use.\n"
    "  create   make a network; without --subnet the first free /24 from 10.90.0.0\n"
    "  ls       list the networks\n"
    "  inspect  print networks as a JSON array\n"
    "  rm       remove networks no container is on\n"
    "  prune    remove every network no container is on and print their names\n";

Result<network::NetworkStore> open_networks(const Globals& g) {
    // Host-wide, whatever the --storage-root (runtime/network.hpp says why).
    (void)g;
    return network::NetworkStore::open(runtime::network_root());
}

std::string subnet_of(const network::Network& n) {
    return n.subnets.empty() ? "" : n.subnets[0].subnet;
}

int net_create(const Globals& g, const Args& args) {
    network::CreateOptions o;
    bool disable_dns = false;
    std::string driver = "bridge";
    Flags f("network create", "kapsel network create [options] NAME",
            "Make a bridge network and print its name. Its subnet must not overlap another\n"
            "kapsel or podman network, nor a route of the host.");
    f.option({"subnet"}, &o.subnet,
             "the IPv4 subnet (prefix length 8..30; default: the first free /24 from 10.90.0.0)",
             "cidr");
    f.option({"gateway"}, &o.gateway, "the bridge's address (default: the subnet's first host)",
             "ip");
    f.option({"driver", "d"}, &driver, "accepted for podman compatibility: only bridge", "bridge");
    f.flag({"internal"}, &o.internal,
           "no route out of the network (containers reach only each other)");
    f.flag({"disable-dns"}, &disable_dns, "no name resolution between the network's containers");
    auto pos = f.parse(args);
    if (!pos) return usage_error("network", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->size() != 1) return usage_error("network", "create expects one network name");
    if (driver != "bridge")
        return usage_error("network", "driver \"" + driver + "\" is not supported (only bridge)");
    if (!o.gateway.empty() && o.subnet.empty())
        return usage_error("network", "--gateway needs --subnet");
    o.name = (*pos)[0];
    o.dns = !disable_dns;
    auto store = open_networks(g);
    if (!store) return fail(store.error());
    auto n = store->create(o);
    if (!n) return fail(std::move(n).error().context("network create " + o.name));
    std::printf("%s\n", n->name.c_str());
    return 0;
}

int net_ls(const Globals& g, const Args& args) {
    std::string format = "table";
    bool quiet = false;
    Flags f("network ls", "kapsel network ls [options]", "List the networks.");
    f.option({"format"}, &format, "table or json", "table|json");
    f.flag({"quiet", "q"}, &quiet, "print only the names");
    auto pos = f.parse(args);
    if (!pos) return usage_error("network", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (!pos->empty()) return usage_error("network", "ls takes no arguments");
    if (format != "table" && format != "json")
        return usage_error("network", "--format must be table or json");
    auto store = open_networks(g);
    if (!store) return fail(store.error());
    auto list = store->list();
    if (!list) return fail(list.error());
    if (quiet) {
        for (auto& n : *list) std::printf("%s\n", n.name.c_str());
        return 0;
    }
    if (format == "json") {
        nlohmann::ordered_json arr = nlohmann::ordered_json::array();
        for (auto& n : *list) arr.push_back(network::podman_json(n));
        std::printf(
            "%s\n",
            arr.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
        return 0;
    }
    std::printf("%-14s %-24s %-8s %s\n", "NETWORK ID", "NAME", "DRIVER", "SUBNET");
    for (auto& n : *list)
        std::printf("%-14s %-24s %-8s %s\n", n.id.substr(0, 12).c_str(), n.name.c_str(),
                    n.driver.c_str(), subnet_of(n).c_str());
    return 0;
}

int net_inspect(const Globals& g, const Args& args) {
    Flags f("network inspect", "kapsel network inspect NAME...",
            "Print networks as a JSON array, as podman does.");
    auto pos = f.parse(args);
    if (!pos) return usage_error("network", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->empty()) return usage_error("network", "inspect expects at least one network name");
    auto store = open_networks(g);
    if (!store) return fail(store.error());
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (auto& name : *pos) {
        auto n = store->get(name);
        if (!n) return fail(std::move(n).error().context("network inspect " + name));
        arr.push_back(network::podman_json(*n));
    }
    std::printf("%s\n",
                arr.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
    return 0;
}

int net_rm(const Globals& g, const Args& args) {
    bool force = false;
    Flags f("network rm", "kapsel network rm NAME...",
            "Remove networks and print their names; a network a container is on stays.");
    f.flag({"force", "f"}, &force,
           "accepted for podman compatibility (containers are not removed)");
    auto pos = f.parse(args);
    if (!pos) return usage_error("network", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->empty()) return usage_error("network", "rm expects at least one network name");
    auto store = open_networks(g);
    if (!store) return fail(store.error());
    int rc = 0;
    for (auto& name : *pos) {
        // The namespaces it keeps set up for the next containers are no container's.
        auto spares = runtime::take_down_spares(name);
        if (!spares) {
            rc = fail(std::move(spares).error().context("network rm " + name));
            continue;
        }
        auto st = store->remove(name);
        if (!st) {
            rc = fail(std::move(st).error().context("network rm " + name));
            continue;
        }
        std::printf("%s\n", name.c_str());
    }
    return rc;
}

int net_prune(const Globals& g, const Args& args) {
    bool force = false;
    Flags f("network prune", "kapsel network prune [options]",
            "Remove every network no container is on (the default one too) and print their names.");
    f.flag({"force", "f"}, &force, "accepted for podman compatibility (kapsel never asks)");
    auto pos = f.parse(args);
    if (!pos) return usage_error("network", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (!pos->empty()) return usage_error("network", "prune takes no arguments");
    auto store = open_networks(g);
    if (!store) return fail(store.error());
    if (auto spares = runtime::take_down_spares(""); !spares)
        return fail(std::move(spares).error().context("network prune"));
    auto removed = store->prune();
    if (!removed) return fail(std::move(removed).error().context("network prune"));
    for (auto& n : *removed) std::printf("%s\n", n.c_str());
    return 0;
}

}  // namespace

int network_main(const Globals& g, const Args& args) {
    if (args.empty()) return usage_error("network", "expects create, ls, inspect, rm or prune");
    const std::string& sub = args[0];
    Args rest(args.begin() + 1, args.end());
    if (sub == "create") return net_create(g, rest);
    if (sub == "ls" || sub == "list") return net_ls(g, rest);
    if (sub == "inspect") return net_inspect(g, rest);
    if (sub == "rm" || sub == "remove") return net_rm(g, rest);
    if (sub == "prune") return net_prune(g, rest);
    if (sub == "--help" || sub == "-h" || sub == "help")
        return std::fputs(kNetworkUsage, stdout), 0;
    return usage_error("network",
                       "unknown subcommand \"" + sub + "\" (create, ls, inspect, rm or prune)");
}

}  // namespace kapsel::cli
