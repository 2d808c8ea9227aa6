// kapsel inspect CONTAINER|IMAGE
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/containers.hpp"

namespace kapsel::cli {

int inspect_main(const Globals& g, const Args& args) {
    Flags f("inspect", "kapsel inspect CONTAINER|IMAGE...", "Print what kapsel knows about containers or images, as JSON.");
    auto pos = f.parse(args);
    if (!pos) return usage_error("inspect", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->empty()) return usage_error("inspect", "expects a container or an image");
    nlohmann::json out = nlohmann::json::array();
    for (auto& what : *pos) {
        auto j = runtime::inspect(g, what);
        if (!j) return fail(j.error());
        out.push_back(*j);
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
}

}  // namespace kapsel::cli
