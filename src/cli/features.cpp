// kapsel features
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "oci/templates.hpp"
#include "plan/names.hpp"
#include "runtime/criu_info.hpp"
#include "util/fs.hpp"

namespace kapsel::cli {

int features_main(const Globals& g, const Args& args) {
    Flags f("features", "kapsel features",
            "Print what this kapsel supports (runtime-spec features.md) as JSON. The\n"
            "io.github.kapsel.criu.* annotations say what checkpoint/restore can do here:\n"
            "CRIU's version, whether `criu check` passes, memory tracking (pre-dump), lazy\n"
            "pages (post-copy restore) and whether hardware breakpoints work.");
    auto pos = f.parse(args);
    if (!pos) return usage_error("features", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    std::fputs(oci::features_json(fs::exists("/sys/kernel/security/apparmor"),
                                  fs::exists("/sys/fs/selinux/enforce"),
                                  plan::all_capability_names(),
                                  runtime::criu_annotations(runtime::criu_info(g)))
                   .c_str(),
               stdout);
    return 0;
}

}  // namespace kapsel::cli
