// kapsel create [options] ID
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/lifecycle.hpp"

namespace kapsel::cli {

int create_main(const Globals& g, const Args& args) {
    runtime::CreateOptions o;
    Flags f("create", "kapsel create [options] <container-id>",
            "Create a container from the bundle's config.json. The container's process waits\n"
            "until `kapsel start`.");
    f.option({"bundle", "b"}, &o.bundle, "bundle directory (default: the current directory)",
             "dir");
    f.option({"console-socket"}, &o.console_socket,
             "unix socket that receives the pty master when process.terminal is true", "path");
    f.option({"pid-file"}, &o.pid_file, "write the container's init pid to this file", "path");
    f.option({"preserve-fds"}, &o.preserve_fds,
             "pass this many fds after stdio (3, 4, ...) to the container");
    f.flag({"no-pivot"}, &o.no_pivot,
           "use MS_MOVE and chroot instead of pivot_root (for a rootfs on a ramdisk)");
    f.flag({"no-new-keyring"}, &o.no_new_keyring,
           "keep the caller's session keyring instead of a new one");
    f.ignored({"pidfd-socket"}, true, "accepted for runc compatibility");
    auto pos = f.parse(args);
    if (!pos) return usage_error("create", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->size() != 1) return usage_error("create", "expects exactly one container id");
    o.id = (*pos)[0];
    auto created = runtime::create(g, o);
    if (!created) return fail(created.error());
    return 0;
}

}  // namespace kapsel::cli
