// kapsel rm [-f] CONTAINER...
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/containers.hpp"

namespace kapsel::cli {

int rm_main(const Globals& g, const Args& args) {
    bool force = false;
    Flags f("rm", "kapsel rm [options] CONTAINER...",
            "Remove containers: their runtime state, mount and copy-on-write layer.");
    f.flag({"force", "f"}, &force, "also remove running containers (SIGKILL first)");
    auto pos = f.parse(args);
    if (!pos) return usage_error("rm", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->empty()) return usage_error("rm", "expects a container");
    int rc = 0;
    for (auto& c : *pos) {
        auto st = runtime::remove_container(g, c, force);
        if (!st) rc = fail(st.error());
        else std::printf("%s\n", c.c_str());
    }
    return rc;
}

}  // namespace kapsel::cli
