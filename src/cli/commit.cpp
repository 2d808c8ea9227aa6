// kapsel commit CONTAINER IMAGE
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/containers.hpp"

namespace kapsel::cli {

int commit_main(const Globals& g, const Args& args) {
    Flags f("commit", "kapsel commit [--pause=false] CONTAINER IMAGE",
            "Make a new image from a container: its image plus one layer with its changes.");
    bool pause = true;
    f.flag({"pause", "p"}, &pause,
           "freeze a running container while its changes are read (default true;\n"
           "--pause=false reads them while it runs, as they happen to be)");
    auto pos = f.parse(args);
    if (!pos) return usage_error("commit", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->size() != 2) return usage_error("commit", "expects a container and an image name");
    auto rec = runtime::commit_container(g, (*pos)[0], (*pos)[1], pause);
    if (!rec) return fail(rec.error());
    std::printf("%s\n", rec->id.c_str());
    return 0;
}

}  // namespace kapsel::cli
