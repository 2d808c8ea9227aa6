// kapsel port CONTAINER [PORT[/PROTO]]
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "network/ports.hpp"
#include "runtime/containers.hpp"
#include "util/strings.hpp"

namespace kapsel::cli {

int port_main(const Globals& g, const Args& args) {
    Flags f("port", "kapsel port CONTAINER [PORT[/PROTO]]",
            "List the ports a container publishes on the host (-p, -P): CONTAINER_PORT/PROTO -> "
            "HOST_IP:HOST_PORT; with PORT, only that one's host address.");
    auto pos = f.parse(args);
    if (!pos) return usage_error("port", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->empty() || pos->size() > 2) return usage_error("port", "expects a container and at most one port");
    auto ports = runtime::container_ports(g, (*pos)[0]);
    if (!ports) return fail(ports.error());
    std::string want;
    if (pos->size() == 2) {
        want = (*pos)[1];
        if (want.find('/') == std::string::npos) want += "/tcp";
    }
    bool found = false;
    for (auto& line : network::port_lines(*ports)) {
        std::string key = line.substr(0, line.find(' '));
        if (!want.empty() && key != want) continue;
        found = true;
        // With a port given, podman prints only the host side.
        std::puts(want.empty() ? line.c_str() : line.substr(line.find("-> ") + 3).c_str());
    }
    if (!want.empty() && !found) return fail(make_error("container " + (*pos)[0] + " does not publish " + want));
    return 0;
}

}  // namespace kapsel::cli
