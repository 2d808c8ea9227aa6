// kapsel state ID
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/containers.hpp"
#include "runtime/lifecycle.hpp"

namespace kapsel::cli {

int state_main(const Globals& g, const Args& args) {
    Flags f("state", "kapsel state <container-id>", "Print the container's OCI state as JSON.");
    auto pos = f.parse(args);
    if (!pos) return usage_error("state", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->size() != 1) return usage_error("state", "expects exactly one container id");
    auto id = runtime::runtime_id(g, (*pos)[0]);
    if (!id) return fail(id.error());
    auto s = runtime::state(g, *id);
    if (!s) return fail(s.error());
    std::printf("%s\n", oci::state_json(*s, true).c_str());
    return 0;
}

}  // namespace kapsel::cli
