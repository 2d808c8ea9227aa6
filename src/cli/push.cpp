// kapsel push IMAGE [REGISTRY/]NAME[:TAG]
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "image/registry.hpp"

namespace kapsel::cli {

int push_main(const Globals& g, const Args& args) {
    bool quiet = false, tls_verify = true;
    std::string creds;
    image::RegistryOptions ro;
    Flags f(
        "push", "kapsel push [options] IMAGE [[REGISTRY/]NAME[:TAG]]",
        "Upload an image of the store to a registry (by default to the registry its name says).");
    f.flag({"quiet", "q"}, &quiet, "no progress display");
    f.flag({"tls-verify"}, &tls_verify,
           "verify the registry's certificate (--tls-verify=false: plain HTTP or any certificate)");
    f.option({"creds"}, &creds, "USER:PASSWORD for the registry", "user:password");
    f.option({"stall-timeout"}, &ro.stall_timeout,
             "end a transfer that moves less than 1 KiB/s for this many seconds (default 30; 0: never)",
             "seconds");
    auto pos = f.parse(args);
    if (!pos) return usage_error("push", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->empty() || pos->size() > 2)
        return usage_error("push", "expects an image and a destination");
    auto store =
        image::Store::open(g.storage_root.empty() ? image::Store::default_root() : g.storage_root);
    if (!store) return fail(store.error());
    ro.tls_verify = tls_verify;
    ro.credentials = creds;
    const std::string& image = (*pos)[0];
    auto digest =
        image::push_registry(*store, image, pos->size() == 2 ? (*pos)[1] : image, ro, quiet);
    if (!digest) return fail(digest.error());
    std::printf("%s\n", digest->c_str());
    return 0;
}

}  // namespace kapsel::cli
