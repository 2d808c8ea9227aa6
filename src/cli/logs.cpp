// kapsel logs [-f] CONTAINER
#include <unistd.h>

#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/containers.hpp"

namespace kapsel::cli {

int logs_main(const Globals& g, const Args& args) {
    bool follow = false;
    Flags f("logs", "kapsel logs [options] CONTAINER", "Print the output of a detached container.");
    f.flag({"follow", "f"}, &follow, "keep printing until the container stops");
    auto pos = f.parse(args);
    if (!pos) return usage_error("logs", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->size() != 1) return usage_error("logs", "expects one container");
    auto st = runtime::container_logs(g, (*pos)[0], follow, [](std::string_view s) {
        (void)!::write(STDOUT_FILENO, s.data(), s.size());
    });
    return st ? 0 : fail(st.error());
}

}  // namespace kapsel::cli
