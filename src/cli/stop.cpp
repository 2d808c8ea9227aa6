// kapsel stop [-t SECONDS] CONTAINER...
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/containers.hpp"

namespace kapsel::cli {

int stop_main(const Globals& g, const Args& args) {
    int timeout = 10;
    Flags f("stop", "kapsel stop [options] CONTAINER...",
            "Stop containers: their stop signal (SIGTERM unless the image says otherwise), then SIGKILL\n"
            "after the timeout.");
    f.option({"time", "t"}, &timeout, "seconds to wait before SIGKILL", "seconds");
    auto pos = f.parse(args);
    if (!pos) return usage_error("stop", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->empty()) return usage_error("stop", "expects a container");
    int rc = 0;
    for (auto& c : *pos) {
        auto st = runtime::stop_container(g, c, timeout);
        if (!st) rc = fail(st.error());
        else std::printf("%s\n", c.c_str());
    }
    return rc;
}

}  // namespace kapsel::cli
