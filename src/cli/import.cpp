// kapsel import FILE NAME
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "image/import.hpp"
#include "image/space.hpp"

namespace kapsel::cli {

int import_main(const Globals& g, const Args& args) {
    image::ImportOptions o;
    Flags f("import", "kapsel import [options] ROOTFS.tar NAME",
            "Make a one-layer image from a root file system tar (plain, gzip or zstd).");
    f.flag({"quiet", "q"}, &o.quiet, "no progress display");
    std::string max_size;
    f.option({"max-size"}, &max_size, "refuse the image when its layers' files unpack to more than this (512m, 2g)", "size");
    auto pos = f.parse(args);
    if (!pos) return usage_error("import", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    auto max_unpacked = image::parse_max_size(max_size);
    if (!max_unpacked) return usage_error("import", "--max-size: " + max_unpacked.error().message);
    if (pos->size() != 2) return usage_error("import", "expects a tar file and an image name");
    auto store = image::Store::open(g.storage_root.empty() ? image::Store::default_root() : g.storage_root);
    if (!store) return fail(store.error());
    store->set_max_unpacked(*max_unpacked);
    auto rec = image::import_rootfs(*store, (*pos)[0], (*pos)[1], o);
    if (!rec) return fail(rec.error());
    std::printf("%s\n", rec->id.c_str());
    return 0;
}

}  // namespace kapsel::cli
