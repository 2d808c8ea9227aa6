// kapsel: global flags, then one verb.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "linux/exe_guard.hpp"
#include "linux/user_session.hpp"
#include "runtime/state_root.hpp"
#include "util/log.hpp"
#include "util/proc.hpp"
#include "util/self.hpp"

namespace kapsel::cli {

const std::vector<Command>& commands() {
    static const std::vector<Command> list = {
        {"create", "create a container from a bundle", create_main, true},
        {"start", "run the user process of a created container", start_main, false},
        {"run", "run a container from a bundle (runc's run) or an image (podman's)", run_main, true},
        {"state", "print the state of a container as OCI state JSON", state_main, false},
        {"kill", "send a signal to a container's init (or all its processes)", kill_main, false},
        {"delete", "delete a container and everything create made for it", delete_main, false},
        {"list", "list containers", list_main, false},
        {"exec", "run a new process in a running container", exec_main, true},
        {"pause", "freeze all processes of a container", pause_main, false},
        {"resume", "thaw a paused container", resume_main, false},
        {"update", "change the resource limits of a container", update_main, false},
        {"ps", "show a container's processes, or list containers made from images", ps_main, false},
        {"events", "print a container's stats and OOM events as JSON", events_main, false},
        {"checkpoint", "dump a running container with CRIU (and stop it)", checkpoint_main, false},
        {"restore", "make a container from a bundle and a checkpoint", restore_main, false},
        {"images", "list the images in the store", images_main, false},
        {"rmi", "remove images (and what only they used) from the store", rmi_main, false},
        {"logs", "print the output of a detached container", logs_main, false},
        {"stop", "stop containers (signal, then SIGKILL after a timeout)", stop_main, false},
        {"rm", "remove containers made from images", rm_main, false},
        {"inspect", "print a container or image as JSON", inspect_main, false},
        {"diff", "list what a container changed in its image", diff_main, false},
        {"commit", "make an image from a container's changes", commit_main, false},
        {"load", "load images from a docker-archive or oci-archive", load_main, false},
        {"import", "make an image from a root file system tar", import_main, false},
        {"pull", "add an image from an OCI layout or a registry", pull_main, false},
        {"push", "upload an image to a registry", push_main, false},
        {"port", "list the ports a container publishes on the host", port_main, false},
        {"genode", "write a container as a Genode sub-init (tar, start node in XML and HID)",
         genode_main, false},
        {"network", "create, list, inspect and remove the bridge networks of run", network_main, false},
        {"system", "check the image store (check) or remove what nothing uses (prune)", system_main, false},
        {"spec", "write a template config.json", spec_main, false},
        {"features", "print the features this kapsel supports, as JSON", features_main, false},
    };
    return list;
}

int fail(const Error& e) {
    log::error(e.message);
    // runc prints the error on stderr even when it also goes to --log, and
    // containerd and podman show that line to the user.
    if (log::fd() >= 0) std::fprintf(stderr, "kapsel: %s\n", e.message.c_str());
    return 1;
}

int usage_error(const std::string& command, const std::string& message) {
    std::string help = command.empty() ? "kapsel --help" : "kapsel " + command + " --help";
    // Through fail(): logged like any other failure, since callers read the --log
    // file for the reason, and printed on stderr.
    return fail(make_error((command.empty() ? "" : command + ": ") + message + " (see " + help + ")"));
}

static std::string main_usage() {
    std::string out =
        "usage: kapsel [global options] command [options] [arguments]\n\n"
        "kapsel is an OCI container runtime, command-line compatible with runc.\n\ncommands:\n";
    for (auto& c : commands()) {
        std::string n = c.name;
        out += "  " + n + std::string(12 - n.size(), ' ') + c.summary + "\n";
    }
    return out;
}

// Verbs that read or write an ordinary user's image store, when run by one.
static bool needs_user_session(const std::string& verb, const Globals& g, const Args& args) {
    if (::geteuid() == 0 || in_user_namespace()) return false;
    static const char* store_verbs[] = {"load", "import", "pull",    "push",   "images", "rmi",
                                        "rm",   "commit", "diff",    "inspect", "system", "genode"};
    for (auto* v : store_verbs)
        if (verb == v) return true;
    return verb == "run" && is_image_run(g, args);
}

static int real_main(int argc, char** argv) {
    Globals g;
    std::string log_path, log_format = "text";
    bool version = false;
    Args args(argv + 1, argv + argc);

    Flags global("kapsel", "kapsel [global options] command [options] [arguments]", "");
    bool rootless_ignored = false;
    std::string root_flag;
    global.option({"root"}, &root_flag,
                  "state directory (default /run/kapsel; for a user without root "
                  "$XDG_RUNTIME_DIR/kapsel, else /tmp/kapsel-UID)",
                  "dir");
    global.option({"log"}, &log_path, "log file (default: stderr)", "file");
    global.option({"log-format"}, &log_format, "log format: text or json", "text|json");
    global.flag({"debug"}, &g.debug, "log debug messages");
    global.option({"storage-root"}, &g.storage_root, "image store (default: $KAPSEL_STORAGE or /var/lib/kapsel; for a user without root "
                  "$XDG_DATA_HOME/kapsel, else ~/.local/share/kapsel)", "dir");
    global.option({"criu"}, &g.criu, "the CRIU binary for checkpoint/restore (default: $KAPSEL_CRIU, /opt/kapsel-criu/bin/criu, criu)", "path");
    global.flag({"systemd-cgroup"}, &g.systemd_cgroup,
                "use systemd for cgroups (needs a running systemd)");
    global.flag({"rootless"}, &rootless_ignored,
                "accepted for runc compatibility; kapsel decides by itself");
    global.flag({"version", "v"}, &version, "print the version");
    global.ignored({"help", "h"}, false, "print this help (also: kapsel COMMAND --help)");
    auto rest = global.parse(args, true);
    if (!rest) return usage_error("", rest.error().message);
    if (log_format != "text" && log_format != "json")
        return usage_error("", "--log-format must be text or json, got \"" + log_format + "\"");
    log::configure(log_path, log_format == "json" ? log::Format::json : log::Format::text, g.debug);
    if (version) {
        std::printf("kapsel version %s\nspec: %s\n", KAPSEL_VERSION, "1.3.0");
        return 0;
    }
    if (global.help_requested() || rest->empty()) {
        std::fputs(main_usage().c_str(),
                   rest->empty() && !global.help_requested() ? stderr : stdout);
        if (global.help_requested())
            std::fputs(
                ("\nglobal options:\n" + global.usage().substr(global.usage().find("options:") + 9))
                    .c_str(),
                stdout);
        return rest->empty() && !global.help_requested() ? 1 : 0;
    }
    std::string verb = (*rest)[0];
    if (verb == "help") {
        std::fputs(main_usage().c_str(), stdout);
        return 0;
    }
    g.root = root_flag.empty() ? runtime::default_state_root(::geteuid(), rootless(), ::getenv("XDG_RUNTIME_DIR"))
                               : root_flag;
    for (auto& c : commands()) {
        if (verb != c.name) continue;
        Args verb_args(rest->begin() + 1, rest->end());
        bool help = std::find_if(verb_args.begin(), verb_args.end(), [](const std::string& a) {
                        return a == "--help" || a == "-h";
                    }) != verb_args.end();
        // A user's state is private and its own: checked before any verb reads or writes
        // it (spec and features keep no state).
        if (::geteuid() != 0 && !help && verb != "spec" && verb != "features")
            if (auto st = runtime::own_state_root(g.root, root_flag.empty()); !st) return fail(st.error());
        // A user's image verbs run in its own user namespace, where the store's files
        // have the owners the images gave them (linux/user_session.hpp). Verbs that
        // join a running container (exec, stop, ps, logs) stay outside: they reach its
        // namespaces as their owner, which a sibling namespace could not.
        if (!help && needs_user_session(verb, g, verb_args))
            if (auto st = linux::enter_user_session(); !st)
                return fail(std::move(st).error().context("enter your user namespace"));
        if (c.enters_container) {
            // CVE-2019-5736: never enter a container while running from a binary
            // the container could open for writing.
            auto st = linux::ensure_sealed_self(argv);
            if (!st) return fail(st.error());
        }
        return c.main(g, Args(rest->begin() + 1, rest->end()));
    }
    return usage_error("", "unknown command \"" + verb + "\"");
}

}  // namespace kapsel::cli

int main(int argc, char** argv) {
    kapsel::self::record_argv0(argc > 0 ? argv[0] : nullptr);
    return kapsel::cli::real_main(argc, argv);
}
