// kapsel delete [--force] ID
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/lifecycle.hpp"

namespace kapsel::cli {

int delete_main(const Globals& g, const Args& args) {
    bool force = false;
    Flags f("delete", "kapsel delete [options] <container-id>",
            "Delete a stopped container: its processes, cgroup, mounts and state.\n"
            "A created, running or paused container needs --force (runtime-spec).");
    f.flag({"force", "f"}, &force, "also delete a created, running or paused container (SIGKILL first)");
    auto pos = f.parse(args);
    if (!pos) return usage_error("delete", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->size() != 1) return usage_error("delete", "expects exactly one container id");
    auto st = runtime::remove(g, (*pos)[0], force);
    return st ? 0 : fail(st.error());
}

}  // namespace kapsel::cli
