// kapsel genode [options] (IMAGE [COMMAND [ARG...]] | --bundle DIR): a container as
// a Genode deployment (docs/genode.md).
#include "runtime/genode.hpp"

#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/manage.hpp"
#include "util/strings.hpp"

namespace kapsel::cli {

int genode_main(const Globals& g, const Args& args) {
    runtime::GenodeExport o;
    auto& r = o.request;
    std::string format, memory, pids, workdir, entrypoint, network = "private";
    std::vector<std::string> env, volumes;
    bool entrypoint_set = false;
    Flags f(
        "genode", "kapsel genode [options] (IMAGE [COMMAND [ARG...]] | --bundle DIR)",
        "Write a container as a Genode deployment into --out: its root file system as one tar\n"
        "(NAME.tar), and its <start> node (NAME.start.xml, NAME.start.hid) or, with --subinit,\n"
        "the config of an init that runs it (NAME.config.xml, NAME.config.hid). Prints what the\n"
        "container asks for that Genode cannot give, one \"dropped\" line each. See "
        "kapsel-genode(8).");
    f.option({"bundle", "b"}, &o.bundle,
             "a runtime bundle (config.json and its rootfs) instead of an image", "dir");
    f.option({"out", "o"}, &o.out_dir, "where the files go (default: the current directory)",
             "dir");
    f.option({"format"}, &format, "write only this syntax: xml or hid (default: both)", "xml|hid");
    f.flag({"subinit"}, &o.subinit,
           "write a complete sub-init config instead of the start node alone");
    f.option({"name"}, &o.name, "the start node's name (default: from the image or bundle)",
             "name");
    f.list({"env", "e"}, &env, "set an environment variable (KEY=VALUE)", "KEY=VALUE");
    f.list({"volume", "v"}, &volumes, "a bind mount, as a File_system session: HOST:CONTAINER[:ro]",
           "host:ctr[:ro]");
    f.option({"workdir", "w"}, &workdir, "working directory in the container", "dir");
    f.option({"user", "u"}, &o.user, "user[:group] to run as (names from the image's /etc/passwd)",
             "user");
    f.option({"entrypoint"}, &entrypoint, "override the image's entrypoint (\"\" clears it)",
             "cmd");
    f.option({"memory", "m"}, &memory, "memory limit, the start node's ram (512m, 1g)", "bytes");
    f.option({"pids-limit"}, &pids, "maximum number of processes (sets the caps quota)", "n");
    f.option({"network", "net"}, &network,
             "private (default: sockets through lwIP on a Nic session), none", "mode");
    f.flag({"tty", "t"}, &r.tty, "a Terminal session for stdin, stdout and stderr");
    f.flag({"read-only"}, &r.read_only, "no RAM file system above the image");
    auto pos = f.parse(args, /*stop_at_positional=*/true);
    if (!pos) return usage_error("genode", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (o.bundle.empty() == pos->empty())
        return usage_error("genode", o.bundle.empty() ? "expects an image or --bundle DIR"
                                                      : "takes an image or --bundle DIR, not both");
    if (!format.empty()) {
        if (format != "xml" && format != "hid")
            return usage_error("genode", "--format must be xml or hid, got \"" + format + "\"");
        o.xml = format == "xml";
        o.hid = format == "hid";
    }
    for (auto& a : args)
        if (a == "--entrypoint" || a.rfind("--entrypoint=", 0) == 0) entrypoint_set = true;
    bool run_options = !env.empty() || !volumes.empty() || !workdir.empty() || !o.user.empty() ||
                       entrypoint_set || !memory.empty() || !pids.empty() || network != "private" ||
                       r.tty || r.read_only;
    if (!o.bundle.empty() && run_options)
        return usage_error(
            "genode", "a bundle's config.json says how it runs: the run options are for images");
    if (network != "private" && network != "none")
        return usage_error(
            "genode", "--network must be private or none (a Genode component has no host network)");
    if (!pos->empty()) {
        o.image = (*pos)[0];
        r.command.assign(pos->begin() + 1, pos->end());
    }
    if (entrypoint_set)
        r.entrypoint =
            entrypoint.empty() ? std::vector<std::string>{} : std::vector<std::string>{entrypoint};
    if (!workdir.empty()) r.workdir = workdir;
    r.network = network;
    r.env = env;
    for (auto& v : volumes) {
        auto vol = plan::parse_volume(v);
        if (!vol) return usage_error("genode", vol.error().message);
        r.volumes.push_back(*vol);
    }
    if (!memory.empty()) {
        auto m = runtime::parse_bytes(memory);
        if (!m) return usage_error("genode", "--memory: " + m.error().message);
        r.memory = *m;
    }
    if (!pids.empty()) {
        auto n = parse_int(pids);
        if (!n || *n <= 0)
            return usage_error("genode", "--pids-limit: \"" + pids + "\" is not a positive number");
        r.pids_limit = *n;
    }
    auto out = runtime::export_genode(g, o);
    if (!out) return fail(out.error());
    for (auto& line : out->dropped) std::printf("%s\n", line.c_str());
    for (auto& file : out->files) std::fprintf(stderr, "wrote %s\n", file.c_str());
    return 0;
}

}  // namespace kapsel::cli
