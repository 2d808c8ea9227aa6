// kapsel checkpoint [options] ID — runc's checkpoint, through CRIU.
#include "runtime/checkpoint.hpp"

#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/containers.hpp"
#include "runtime/transfer.hpp"

namespace kapsel::cli {

int checkpoint_main(const Globals& g, const Args& args) {
    runtime::CheckpointRequest r;
    auto& o = r.criu;
    std::string empty_ns;
    Flags f(
        "checkpoint", "kapsel checkpoint [options] <container-id>",
        "Dump a running container's processes with CRIU into an image directory. The container\n"
        "stops and is deleted (unless --leave-running), so `kapsel restore` can bring it back\n"
        "under the same id, here or on another host with the same bundle. A container of\n"
        "`kapsel run IMAGE` (by name) is kept, listed as checkpointed, for `kapsel restore NAME`.");
    f.option({"image-path"}, &o.image_dir,
             "directory for the checkpoint images (default: ./checkpoint)", "dir");
    f.option({"work-path"}, &o.work_dir,
             "directory for CRIU's log and scratch files (default: the image path)", "dir");
    f.option({"parent-path"}, &o.parent_dir, "a previous pre-dump, relative to the image path",
             "dir");
    f.flag({"leave-running"}, &o.leave_running, "keep the container running after the checkpoint");
    f.flag({"tcp-established"}, &o.tcp_established, "allow open TCP connections");
    f.flag({"tcp-skip-in-flight"}, &o.tcp_skip_in_flight,
           "skip TCP connections still being set up");
    f.flag({"link-remap"}, &o.link_remap, "allow open files that were unlinked");
    f.flag({"ext-unix-sk"}, &o.ext_unix_sk, "allow unix sockets connected to the outside");
    f.flag({"shell-job"}, &o.shell_job,
           "allow a session or terminal that reaches outside the container");
    f.flag({"file-locks"}, &o.file_locks, "take file locks along");
    f.flag({"pre-dump"}, &o.pre_dump,
           "dump memory only, and keep the container running (for --parent-path)");
    f.flag({"auto-dedup"}, &o.auto_dedup, "deduplicate memory pages against the parent images");
    f.option({"manage-cgroups-mode"}, &o.manage_cgroups_mode, "how CRIU dumps cgroup properties",
             "soft|full|strict|ignore");
    f.option({"criu-timeout"}, &o.timeout_s,
             "stop CRIU after this many seconds and put the container back as it was\n"
             "(default: $KAPSEL_CRIU_TIMEOUT, else 300)",
             "seconds");
    f.option({"empty-ns"}, &empty_ns, "a namespace whose content is not dumped (network)", "ns");
    f.ignored({"status-fd"}, true, "accepted for runc compatibility");
    std::string page_server;
    f.option({"page-server"}, &page_server, "not supported", "address:port");
    bool lazy_pages = false;
    f.flag({"lazy-pages"}, &lazy_pages, "not supported");
    std::string export_file;
    f.option({"export", "e"}, &export_file,
             "a container of `kapsel run IMAGE`: write the checkpoint, the container's record,\n"
             "config, log and writable layer as one zstd-compressed tar (\"-\": stdout), for\n"
             "`kapsel restore --import` in another store or on another host",
             "file");
    bool with_image = false;
    f.flag({"with-image"}, &with_image, "with --export: the container's image too, for a destination that lacks it");
    auto pos = f.parse(args);
    if (!pos) return usage_error("checkpoint", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->size() != 1) return usage_error("checkpoint", "expects exactly one container id");
    if (with_image && export_file.empty()) return usage_error("checkpoint", "--with-image goes with --export");
    if (!export_file.empty()) {
        if (o.pre_dump) return usage_error("checkpoint", "--export and --pre-dump do not go together");
        auto id = runtime::resolve_container(g, (*pos)[0]);
        if (!id) return fail(id.error());
        if (!runtime::is_image_container(g, *id))
            return usage_error("checkpoint", "--export is for containers of `kapsel run IMAGE`");
        auto st = runtime::export_checkpoint(g, *id, r, export_file, with_image);
        return st ? 0 : fail(st.error());
    }
    if (lazy_pages || !page_server.empty())
        return usage_error("checkpoint", "--lazy-pages and --page-server are not supported");
    if (!empty_ns.empty()) o.empty_ns.push_back(empty_ns);
    auto id = runtime::runtime_id(g, (*pos)[0]);
    if (!id) return fail(id.error());
    r.id = *id;
    // A container of `kapsel run IMAGE`: its monitor must know the dump from an exit.
    bool of_image = runtime::is_image_container(g, *id);
    auto st = of_image ? runtime::checkpoint_container(g, *id, r) : runtime::checkpoint(g, r);
    return st ? 0 : fail(st.error());
}

}  // namespace kapsel::cli
