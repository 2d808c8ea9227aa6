// kapsel exec [options] ID [COMMAND [ARGS...]]
#include "runtime/exec.hpp"

#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/containers.hpp"
#include "util/strings.hpp"

namespace kapsel::cli {
namespace {

// A failed exec exits with 255, as runc's does: the codes below are the process's.
constexpr int kExecFailed = 255;

std::optional<uint32_t> parse_id(const std::string& s) {
    auto n = parse_uint(s);
    if (!n || *n > 0xffffffffull) return std::nullopt;
    return static_cast<uint32_t>(*n);
}

}  // namespace

int exec_main(const Globals& g, const Args& args) {
    runtime::ExecOptions o;
    plan::ExecRequest& r = o.request;
    std::string user;
    std::vector<std::string> gids;
    bool interactive = false;
    Flags f("exec",
            "kapsel exec [options] <container-id> <command> [args...]\n"
            "       kapsel exec [options] --process process.json <container-id>",
            "Run a new process in a running (or created) container: it joins every namespace\n"
            "and the cgroup of the container's init, with the container's process settings\n"
            "(env, cwd, user, capabilities, rlimits, no_new_privs, labels, seccomp) unless a\n"
            "flag or --process says otherwise. Options go before the container id; everything\n"
            "after it is the command. Attached, kapsel exits with the process's exit code.");
    f.option({"console-socket"}, &o.console_socket,
             "unix socket that receives the pty master with --tty (then kapsel does not proxy "
             "the terminal)",
             "path");
    f.option({"cwd", "workdir", "w"}, &r.cwd, "working directory in the container (absolute)",
             "dir");
    f.list({"env", "e"}, &r.env, "set an environment variable (repeatable)", "NAME=VALUE");
    f.flag({"tty", "t"}, &r.tty, "allocate a pseudo-terminal in the container");
    // podman's spellings: stdin always reaches the process, as with runc.
    f.flag({"interactive", "i"}, &interactive, "accepted (stdin is always passed to the process)");
    f.flag({"it", "ti"}, &r.tty, "-i and -t");
    f.option({"user", "u"}, &user, "run as this user and group", "uid[:gid]");
    f.list({"additional-gids", "g"}, &gids, "add a supplementary group (repeatable)", "gid");
    f.option({"process", "p"}, &o.process_file,
             "an OCI process object (JSON) to run instead of the config's process", "path");
    f.flag({"detach", "d"}, &o.detach, "do not wait for the process");
    f.option({"pid-file"}, &o.pid_file, "write the process's pid to this file", "path");
    f.option({"process-label"}, &r.selinux_label, "SELinux label for the process", "label");
    f.option({"apparmor"}, &r.apparmor_profile, "AppArmor profile for the process", "profile");
    f.flag({"no-new-privs"}, &r.no_new_privileges, "set no_new_privs for the process");
    f.list({"cap", "c"}, &r.add_caps, "add a capability to every set (repeatable)", "CAP_NAME");
    f.option({"preserve-fds"}, &o.preserve_fds,
             "pass this many fds after stdio (3, 4, ...) to the process");
    f.flag({"ignore-paused"}, &o.ignore_paused,
           "exec in a paused container too (the process starts when it is resumed)");
    f.list({"cgroup"}, &o.cgroups,
           "run in this existing sub-cgroup of the container's (repeatable)",
           "[controller[,controller]:]path");
    f.ignored({"pidfd-socket"}, true, "accepted for runc compatibility");
    // Flags end at the container id: what follows is the command and its own flags.
    auto pos = f.parse(args, true);
    if (!pos) return usage_error("exec", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->empty()) return usage_error("exec", "expects a container id and a command");
    auto id = runtime::runtime_id(g, (*pos)[0]);
    if (!id) {
        fail(id.error());
        return kExecFailed;
    }
    o.id = *id;
    r.args.assign(pos->begin() + 1, pos->end());
    if (!r.args.empty() && r.args.front() == "--") r.args.erase(r.args.begin());
    if (r.args.empty() && o.process_file.empty())
        return usage_error("exec", "expects a command after the container id, or --process");
    if (!user.empty()) {
        auto colon = user.find(':');
        r.uid = parse_id(user.substr(0, colon));
        if (colon != std::string::npos) r.gid = parse_id(user.substr(colon + 1));
        if (!r.uid || (colon != std::string::npos && !r.gid))
            return usage_error("exec", "--user \"" + user + "\": expected uid[:gid] as numbers");
    }
    for (auto& gid : gids) {
        auto n = parse_id(gid);
        if (!n) return usage_error("exec", "--additional-gids \"" + gid + "\": expected a number");
        r.additional_gids.push_back(*n);
    }
    auto rc = runtime::exec(g, o);
    if (!rc) {
        fail(rc.error());
        return kExecFailed;
    }
    return *rc;
}

}  // namespace kapsel::cli
