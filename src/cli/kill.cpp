// kapsel kill [--all] ID [SIGNAL]
#include <signal.h>

#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "plan/names.hpp"
#include "runtime/containers.hpp"
#include "runtime/lifecycle.hpp"

namespace kapsel::cli {

int kill_main(const Globals& g, const Args& args) {
    bool all = false;
    Flags f("kill", "kapsel kill [options] <container-id> [signal]",
            "Send a signal (a name like TERM or SIGTERM, or a number; default SIGTERM) to the\n"
            "container's init process. Signal 0 only checks that it is alive.");
    f.flag({"all", "a"}, &all, "send the signal to every process in the container's cgroup");
    auto pos = f.parse(args);
    if (!pos) return usage_error("kill", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->empty() || pos->size() > 2)
        return usage_error("kill", "expects a container id and an optional signal");
    int sig = SIGTERM;
    if (pos->size() == 2 && (*pos)[1] == "0") {
        // Signal 0 delivers nothing: "is it alive?", exit 0 when it is (as runc).
        sig = 0;
    } else if (pos->size() == 2) {
        auto n = plan::signal_number((*pos)[1]);
        if (!n) return usage_error("kill", "unknown signal \"" + (*pos)[1] + "\"");
        sig = *n;
    }
    auto id = runtime::runtime_id(g, (*pos)[0]);
    if (!id) return fail(id.error());
    auto st = runtime::kill(g, *id, sig, all);
    return st ? 0 : fail(st.error());
}

}  // namespace kapsel::cli
