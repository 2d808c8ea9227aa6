// kapsel resume ID
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/containers.hpp"
#include "runtime/manage.hpp"

namespace kapsel::cli {

int resume_main(const Globals& g, const Args& args) {
    Flags f("resume", "kapsel resume <container-id>", "Thaw a paused container.");
    auto pos = f.parse(args);
    if (!pos) return usage_error("resume", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->size() != 1) return usage_error("resume", "expects exactly one container id");
    auto id = runtime::runtime_id(g, (*pos)[0]);
    if (!id) return fail(id.error());
    auto st = runtime::resume(g, *id);
    return st ? 0 : fail(st.error());
}

}  // namespace kapsel::cli
