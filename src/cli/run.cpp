// kapsel run [options] ID
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/lifecycle.hpp"

namespace kapsel::cli {

int run_main(const Globals& g, const Args& args) {
    if (is_image_run(g, args)) return run_image_main(g, args);
    runtime::RunOptions o;
    Flags f("run", "kapsel run [options] <container-id>",
            "Create and start a container. Attached (the default), kapsel waits for it,\n"
            "forwards signals and the terminal, deletes it, and exits with its exit code.");
    f.option({"bundle", "b"}, &o.create.bundle, "bundle directory (default: the current directory)",
             "dir");
    f.option({"console-socket"}, &o.create.console_socket,
             "unix socket that receives the pty master (then kapsel does not proxy the terminal)", "path");
    f.option({"pid-file"}, &o.create.pid_file, "write the container's init pid to this file",
             "path");
    f.option({"preserve-fds"}, &o.create.preserve_fds,
             "pass this many fds after stdio to the container");
    f.flag({"detach", "d"}, &o.detach, "do not wait for the container");
    f.flag({"keep"}, &o.keep, "do not delete the container after it exits");
    f.flag({"no-pivot"}, &o.create.no_pivot, "use MS_MOVE and chroot instead of pivot_root");
    f.flag({"no-new-keyring"}, &o.create.no_new_keyring, "keep the caller's session keyring");
    f.ignored({"no-subreaper"}, false, "accepted for runc compatibility");
    f.ignored({"pidfd-socket"}, true, "accepted for runc compatibility");
    auto pos = f.parse(args);
    if (!pos) return usage_error("run", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->size() != 1) return usage_error("run", "expects exactly one container id");
    o.create.id = (*pos)[0];
    auto rc = runtime::run(g, o);
    if (!rc) return fail(rc.error());
    return *rc;
}

}  // namespace kapsel::cli
