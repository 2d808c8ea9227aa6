// kapsel load -i FILE|- [-q]
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "image/import.hpp"
#include "image/space.hpp"

namespace kapsel::cli {

int load_main(const Globals& g, const Args& args) {
    std::string input;
    image::ImportOptions o;
    Flags f("load", "kapsel load -i FILE [options]",
            "Load images from a docker-archive (docker save) or an oci-archive, plain or compressed.");
    f.option({"input", "i"}, &input, "the archive (-: read it from stdin)", "file");
    f.flag({"quiet", "q"}, &o.quiet, "no progress display");
    std::string max_size;
    f.option({"max-size"}, &max_size, "refuse the image when its layers' files unpack to more than this (512m, 2g)", "size");
    auto pos = f.parse(args);
    if (!pos) return usage_error("load", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    auto max_unpacked = image::parse_max_size(max_size);
    if (!max_unpacked) return usage_error("load", "--max-size: " + max_unpacked.error().message);
    if (input.empty() && pos->size() == 1) input = (*pos)[0];
    if (input.empty()) return usage_error("load", "needs -i FILE (or -i - for stdin)");
    auto store = image::Store::open(g.storage_root.empty() ? image::Store::default_root() : g.storage_root);
    if (!store) return fail(store.error());
    store->set_max_unpacked(*max_unpacked);
    auto imgs = image::load_archive(*store, input, o);
    if (!imgs) return fail(imgs.error());
    for (auto& r : *imgs) {
        if (r.names.empty()) std::printf("Loaded image: %s\n", r.id.c_str());
        for (auto& n : r.names) std::printf("Loaded image: %s\n", n.c_str());
    }
    return 0;
}

}  // namespace kapsel::cli
