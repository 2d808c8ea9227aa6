// kapsel pull oci:DIR[:TAG] | REGISTRY/NAME[:TAG|@DIGEST]
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "image/import.hpp"
#include "image/space.hpp"
#include "image/registry.hpp"

namespace kapsel::cli {

int pull_main(const Globals& g, const Args& args) {
    image::ImportOptions o;
    image::RegistryOptions ro;
    bool tls_verify = true;
    std::string creds;
    Flags f("pull", "kapsel pull [options] (oci:DIR[:TAG] | [REGISTRY/]NAME[:TAG|@DIGEST])",
            "Add an image to the store from an OCI image layout directory or a registry.");
    f.flag({"quiet", "q"}, &o.quiet, "no progress display");
    std::string max_size;
    f.option({"max-size"}, &max_size, "refuse the image when its layers' files unpack to more than this (512m, 2g)", "size");
    f.flag({"tls-verify"}, &tls_verify, "verify the registry's certificate (--tls-verify=false: plain HTTP or any certificate)");
    f.option({"creds"}, &creds, "USER:PASSWORD for the registry", "user:password");
    f.option({"stall-timeout"}, &ro.stall_timeout,
             "end a transfer that moves less than 1 KiB/s for this many seconds (default 30; 0: never)",
             "seconds");
    auto pos = f.parse(args);
    if (!pos) return usage_error("pull", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    auto max_unpacked = image::parse_max_size(max_size);
    if (!max_unpacked) return usage_error("pull", "--max-size: " + max_unpacked.error().message);
    if (pos->size() != 1) return usage_error("pull", "expects one image reference");
    auto store = image::Store::open(g.storage_root.empty() ? image::Store::default_root() : g.storage_root);
    if (!store) return fail(store.error());
    store->set_max_unpacked(*max_unpacked);
    const std::string& ref = (*pos)[0];
    if (ref.rfind("oci:", 0) == 0) {
        std::string rest = ref.substr(4), dir = rest, tag;
        // oci:DIR:REF as skopeo reads it: the first ':' ends the directory; the
        // reference after it may contain ':' itself (localhost/x:latest).
        if (auto colon = rest.find(':'); colon != std::string::npos) {
            dir = rest.substr(0, colon);
            tag = rest.substr(colon + 1);
        }
        auto rec = image::pull_layout(*store, dir, tag, o);
        if (!rec) return fail(rec.error());
        std::printf("%s\n", rec->id.c_str());
        return 0;
    }
    ro.tls_verify = tls_verify;
    ro.credentials = creds;
    auto rec = image::pull_registry(*store, ref, ro, o);
    if (!rec) return fail(rec.error());
    std::printf("%s\n", rec->id.c_str());
    return 0;
}

}  // namespace kapsel::cli
