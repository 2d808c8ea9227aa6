// kapsel start ID
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/lifecycle.hpp"

namespace kapsel::cli {

int start_main(const Globals& g, const Args& args) {
    Flags f("start", "kapsel start <container-id>", "Run the user process of a created container.");
    auto pos = f.parse(args);
    if (!pos) return usage_error("start", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->size() != 1) return usage_error("start", "expects exactly one container id");
    auto st = runtime::start(g, (*pos)[0]);
    return st ? 0 : fail(st.error());
}

}  // namespace kapsel::cli
