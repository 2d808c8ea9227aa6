// kapsel features
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "oci/templates.hpp"
#include "plan/names.hpp"
#include "procfs/client.hpp"
#include "runtime/criu_info.hpp"
#include "util/fs.hpp"

namespace kapsel::cli {

int features_main(const Globals& g, const Args& args) {
    Flags f("features", "kapsel features",
            "Print what this kapsel supports (runtime-spec features.md) as JSON. The\n"
            "io.github.kapsel.criu.* annotations say what checkpoint/restore can do here:\n"
            "CRIU's version, whether `criu check` passes, memory tracking (pre-dump), lazy\n"
            "pages (post-copy restore) and whether hardware breakpoints work.\n"
            "run.kapsel.procfs.available says whether containers can get their own\n"
            "/proc and /sys files (the run.kapsel.procfs=true annotation; on by default\n"
            "for `kapsel run IMAGE`), run.kapsel.procfs.running whether the service of\n"
            "this --root runs now.");
    auto pos = f.parse(args);
    if (!pos) return usage_error("features", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    auto annotations = runtime::criu_annotations(runtime::criu_info(g));
    // The container-aware procfs: whether it can be turned on here (its server is
    // installed and the kernel has FUSE) and whether this --root's service runs.
    bool procfs = procfs::server_binary() && fs::exists("/dev/fuse");
    annotations.emplace_back("run.kapsel.procfs.available", procfs ? "true" : "false");
    annotations.emplace_back("run.kapsel.procfs.running", procfs::running(g.root) ? "true" : "false");
    std::fputs(oci::features_json(fs::exists("/sys/kernel/security/apparmor"),
                                  fs::exists("/sys/fs/selinux/enforce"),
                                  plan::all_capability_names(), annotations)
                   .c_str(),
               stdout);
    return 0;
}

}  // namespace kapsel::cli
