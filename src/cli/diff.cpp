// kapsel diff CONTAINER
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/containers.hpp"

namespace kapsel::cli {

int diff_main(const Globals& g, const Args& args) {
    Flags f("diff", "kapsel diff CONTAINER",
            "List what a container changed in its image: A added, C changed, D deleted.");
    auto pos = f.parse(args);
    if (!pos) return usage_error("diff", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->size() != 1) return usage_error("diff", "expects one container");
    auto changes = runtime::container_diff(g, (*pos)[0]);
    if (!changes) return fail(changes.error());
    for (auto& c : *changes)
        std::printf("%c %s\n", c.kind == image::Change::added ? 'A' : c.kind == image::Change::changed ? 'C' : 'D',
                    c.path.c_str());
    return 0;
}

}  // namespace kapsel::cli
