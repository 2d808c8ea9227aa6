// kapsel rmi [-f] [-a] IMAGE...
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/images.hpp"

namespace kapsel::cli {

int rmi_main(const Globals& g, const Args& args) {
    bool force = false, all = false;
    Flags f(
        "rmi", "kapsel rmi [options] IMAGE...",
        "Remove images (by name, id or manifest digest, or a prefix of either), and then their\n"
        "blobs, layers and stored files that no other image and no container uses. Exit codes as\n"
        "podman's: 1 when an image does not exist, 2 when one is in use, 125 for other errors.");
    f.flag({"force", "f"}, &force, "also remove the containers using the image, running or not");
    f.flag({"all", "a"}, &all, "remove every image");
    auto pos = f.parse(args);
    if (!pos) return usage_error("rmi", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->empty() && !all) return usage_error("rmi", "expects an image (or --all)");
    auto res = runtime::remove_images(g, *pos, force, all);
    if (!res) {
        fail(res.error());
        return 125;
    }
    bool missing = false, busy = false, other = false;
    for (auto& o : res->images) {
        for (auto& l : o.lines) std::printf("%s\n", l.c_str());
        if (!o.error) continue;
        std::fflush(stdout);
        fail(*o.error);
        if (o.error->code == ENOENT)
            missing = true;
        else if (o.error->code == EBUSY)
            busy = true;
        else
            other = true;
    }
    return other ? 125 : busy ? 2 : missing ? 1 : 0;
}

}  // namespace kapsel::cli
