// kapsel restore [options] ID — runc's restore, through CRIU.
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/checkpoint.hpp"
#include "runtime/containers.hpp"
#include "runtime/transfer.hpp"

namespace kapsel::cli {

int restore_main(const Globals& g, const Args& args) {
    runtime::RestoreRequest r;
    auto& o = r.criu;
    std::string empty_ns;
    Flags f("restore", "kapsel restore [options] <container-id>",
            "Make a container from a bundle and a checkpoint (kapsel checkpoint): its processes\n"
            "continue where they were dumped. Attached (the default) kapsel waits and exits with\n"
            "the container's exit code, then deletes it; with --detach it returns at once.\n"
            "A checkpointed container of `kapsel run IMAGE` comes back by its name (no --bundle),\n"
            "detached under a new monitor, its log going on.");
    f.option({"image-path"}, &o.image_dir, "the checkpoint images (default: ./checkpoint)", "dir");
    f.option({"work-path"}, &o.work_dir, "directory for CRIU's log (default: the image path)",
             "dir");
    f.option({"bundle", "b"}, &r.bundle, "the container's bundle (default: the current directory)",
             "dir");
    f.flag({"detach", "d"}, &r.detach, "do not wait for the container");
    f.option({"pid-file"}, &r.pid_file, "write the restored init's pid to this file", "path");
    f.option({"console-socket"}, &r.console_socket,
             "send the master of the container's new terminal here (a checkpoint with a\n"
             "terminal; attached, kapsel relays it itself)",
             "path");
    f.flag({"tcp-established"}, &o.tcp_established, "restore open TCP connections");
    f.flag({"ext-unix-sk"}, &o.ext_unix_sk, "allow unix sockets connected to the outside");
    f.flag({"shell-job"}, &o.shell_job,
           "allow a session or terminal that reaches outside the container");
    f.flag({"file-locks"}, &o.file_locks, "restore file locks");
    f.flag({"auto-dedup"}, &o.auto_dedup, "free image pages as they are restored");
    f.option({"criu-timeout"}, &o.timeout_s,
             "stop CRIU after this many seconds and put the container back as it was\n"
             "(default: $KAPSEL_CRIU_TIMEOUT, else 300)",
             "seconds");
    f.option({"empty-ns"}, &empty_ns, "a namespace that was not dumped (network)", "ns");
    f.ignored({"manage-cgroups-mode"}, true,
              "accepted: kapsel makes the container's cgroup itself");
    f.ignored({"no-subreaper"}, false, "accepted for runc compatibility");
    f.ignored({"no-pivot"}, false, "accepted for runc compatibility (CRIU sets up the root)");
    f.ignored({"lsm-profile"}, true, "accepted (no LSM on this host)");
    f.ignored({"lsm-mount-context"}, true, "accepted (no LSM on this host)");
    bool lazy_pages = false;
    f.flag({"lazy-pages"}, &lazy_pages, "not supported");
    std::string import_file, name;
    f.option({"import", "i"}, &import_file,
             "make a container of `kapsel run IMAGE` from an archive of `kapsel checkpoint --export`\n"
             "(\"-\": stdin; its image must be in this store) and restore it detached",
             "file");
    f.option({"name", "n"}, &name, "with --import: the container's name (default: its name at the source)", "name");
    auto pos = f.parse(args);
    if (!pos) return usage_error("restore", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (!import_file.empty()) {
        if (!pos->empty()) return usage_error("restore", "--import takes no container id");
        if (lazy_pages) return usage_error("restore", "--lazy-pages is not supported");
        auto id = runtime::import_checkpoint(g, import_file, name, r);
        if (!id) return fail(id.error());
        std::printf("%s\n", id->c_str());
        return 0;
    }
    if (!name.empty()) return usage_error("restore", "--name goes with --import");
    if (pos->size() != 1) return usage_error("restore", "expects exactly one container id");
    if (lazy_pages) return usage_error("restore", "--lazy-pages is not supported");
    if (!empty_ns.empty()) o.empty_ns.push_back(empty_ns);
    r.id = (*pos)[0];
    if (r.bundle.empty()) {
        // The name or id of a checkpointed container of `kapsel run IMAGE`: it comes
        // back under a new monitor, detached as it was.
        auto id = runtime::resolve_container(g, r.id);
        if (id && runtime::has_checkpoint(g, *id)) {
            auto rc = runtime::restore_container(g, *id, r);
            if (!rc) return fail(rc.error());
            std::printf("%s\n", id->c_str());
            return 0;
        }
    }
    auto rc = runtime::restore(g, r);
    return rc ? *rc : fail(rc.error());
}

}  // namespace kapsel::cli
