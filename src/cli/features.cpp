// kapsel features
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "oci/templates.hpp"
#include "util/fs.hpp"

namespace kapsel::cli {

int features_main(const Globals&, const Args& args) {
    Flags f("features", "kapsel features",
            "Print what this kapsel supports (runtime-spec features.md) as JSON.");
    auto pos = f.parse(args);
    if (!pos) return usage_error("features", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    std::fputs(oci::features_json(fs::exists("/sys/kernel/security/apparmor"),
                                  fs::exists("/sys/fs/selinux/enforce"))
                   .c_str(),
               stdout);
    return 0;
}

}  // namespace kapsel::cli
