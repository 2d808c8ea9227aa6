// kapsel pause ID
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/containers.hpp"
#include "runtime/manage.hpp"

namespace kapsel::cli {

int pause_main(const Globals& g, const Args& args) {
    Flags f("pause", "kapsel pause <container-id>",
            "Freeze every process of a running container (cgroup freezer); `resume` thaws them.");
    auto pos = f.parse(args);
    if (!pos) return usage_error("pause", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->size() != 1) return usage_error("pause", "expects exactly one container id");
    auto id = runtime::runtime_id(g, (*pos)[0]);
    if (!id) return fail(id.error());
    auto st = runtime::pause(g, *id);
    return st ? 0 : fail(st.error());
}

}  // namespace kapsel::cli
