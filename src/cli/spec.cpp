// kapsel spec [--bundle DIR] [--rootless]
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "oci/templates.hpp"
#include "util/fs.hpp"

namespace kapsel::cli {

int spec_main(const Globals&, const Args& args) {
    std::string bundle = ".";
    bool rootless = false;
    Flags f("spec", "kapsel spec [options]",
            "Write a template config.json into the bundle directory.");
    f.option({"bundle", "b"}, &bundle, "bundle directory (default: the current directory)", "dir");
    f.flag({"rootless"}, &rootless, "a config for a container run by an unprivileged user");
    auto pos = f.parse(args);
    if (!pos) return usage_error("spec", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (!pos->empty()) return usage_error("spec", "takes no arguments");
    std::string path = fs::join(bundle, "config.json");
    if (fs::exists(path)) return fail(make_error(path + " already exists; remove it first"));
    auto st = fs::write_file(path, oci::default_spec_json(rootless, ::getuid(), ::getgid()),
                             O_CREAT | O_EXCL);
    return st ? 0 : fail(st.error());
}

}  // namespace kapsel::cli
