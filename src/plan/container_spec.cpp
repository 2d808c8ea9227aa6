// Image + options -> config.json.
#include "plan/container_spec.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "oci/spec.hpp"
#include "plan/names.hpp"
#include "util/strings.hpp"

namespace kapsel::plan {

using json = nlohmann::json;

std::vector<std::string> default_capabilities() {
    return {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
            "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"};
}

Result<BindVolume> parse_volume(const std::string& v) {
    auto parts = split(v, ':');
    if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty())
        return make_error("--volume \"" + v + "\": expected HOST:CONTAINER[:ro]");
    if (parts.size() == 3 && parts[2] != "ro" && parts[2] != "rw")
        return make_error("--volume \"" + v + "\": the option must be ro or rw");
    return BindVolume{parts[0], parts[1], parts.size() == 3 && parts[2] == "ro"};
}

Result<Identity> resolve_user(const std::string& spec, const std::string& passwd, const std::string& group) {
    Identity id;
    std::string user = spec.empty() ? "0" : spec, grp;
    if (auto c = user.find(':'); c != std::string::npos) {
        grp = user.substr(c + 1);
        user = user.substr(0, c);
    }
    bool found = false;
    std::string user_name;
    for (auto& line : split(passwd, '\n')) {
        auto f = split(line, ':');
        if (f.size() < 7) continue;
        auto uid = parse_uint(f[2]);
        if (!uid) continue;
        if (f[0] == user || std::to_string(*uid) == user) {
            id.uid = static_cast<uint32_t>(*uid);
            id.gid = static_cast<uint32_t>(parse_uint(f[3]).value_or(0));
            // The home becomes HOME= in config.json, which holds only UTF-8 text.
            if (!valid_utf8(f[5]))
                return make_error("user \"" + user + "\": its home directory in the image's /etc/passwd is not valid UTF-8");
            id.home = f[5];
            user_name = f[0];
            found = true;
            break;
        }
    }
    if (!found) {
        auto n = parse_uint(user);
        if (!n) return make_error("user \"" + user + "\" is not in the image's /etc/passwd");
        id.uid = static_cast<uint32_t>(*n);
        id.gid = id.uid == 0 ? 0 : id.uid;
        id.home = "/";
    }
    if (!grp.empty()) {
        bool gfound = false;
        for (auto& line : split(group, '\n')) {
            auto f = split(line, ':');
            if (f.size() < 3) continue;
            if (f[0] == grp || f[2] == grp) {
                id.gid = static_cast<uint32_t>(parse_uint(f[2]).value_or(0));
                gfound = true;
                break;
            }
        }
        if (!gfound) {
            auto n = parse_uint(grp);
            if (!n) return make_error("group \"" + grp + "\" is not in the image's /etc/group");
            id.gid = static_cast<uint32_t>(*n);
        }
    } else if (!user_name.empty()) {
        // Supplementary groups of a named user, as login(1) would give them.
        for (auto& line : split(group, '\n')) {
            auto f = split(line, ':');
            if (f.size() < 4) continue;
            for (auto& member : split(f[3], ','))
                if (member == user_name)
                    if (auto g = parse_uint(f[2]); g && *g != id.gid) id.additional_gids.push_back(static_cast<uint32_t>(*g));
        }
    }
    return id;
}

static Result<std::vector<std::string>> capability_set(const RunRequest& run) {
    std::vector<std::string> caps = default_capabilities();
    auto norm = [](const std::string& c) -> Result<std::string> {
        if (to_upper(c) == "ALL") return std::string("ALL");
        auto n = capability_number(c);
        if (!n) return make_error("unknown capability \"" + c + "\"");
        return capability_name(*n);
    };
    for (auto& c : run.cap_drop) {
        std::string n = KAPSEL_TRY(norm(c));
        if (n == "ALL") caps.clear();
        else std::erase(caps, n);
    }
    for (auto& c : run.cap_add) {
        std::string n = KAPSEL_TRY(norm(c));
        if (n == "ALL") {
            caps = all_capability_names();
            break;
        }
        if (std::find(caps.begin(), caps.end(), n) == caps.end()) caps.push_back(n);
    }
    return caps;
}

// The first string of `j` (a key or a value) that is not UTF-8, by its path: the image
// config's strings are checked by the JSON parser, but -e, --env-file, -v, -w, the
// command and kapsel's own environment are bytes, and dump() would throw on them.
static std::optional<std::string> non_utf8(const json& j, const std::string& path) {
    if (j.is_string()) return valid_utf8(j.get_ref<const std::string&>()) ? std::nullopt : std::optional(path);
    if (j.is_array())
        for (size_t i = 0; i < j.size(); ++i)
            if (auto p = non_utf8(j[i], path + "[" + std::to_string(i) + "]")) return p;
    if (j.is_object())
        for (auto& [k, v] : j.items()) {
            std::string p = path.empty() ? k : path + "." + k;
            if (!valid_utf8(k)) return path.empty() ? std::string("a key") : path + ": a key";
            if (auto bad = non_utf8(v, p)) return bad;
        }
    return std::nullopt;
}

Result<json> container_spec(const ImageDefaults& image, const RunRequest& run, const Identity& user,
                            const std::vector<std::string>& seccomp_allow) {
    // The process: entrypoint + command, as docker and podman combine them.
    std::vector<std::string> entry = run.entrypoint ? *run.entrypoint : image.entrypoint;
    std::vector<std::string> cmd = run.command.empty() ? (run.entrypoint ? std::vector<std::string>{} : image.cmd) : run.command;
    std::vector<std::string> args = entry;
    args.insert(args.end(), cmd.begin(), cmd.end());
    if (args.empty()) return make_error("the image has no command (no Entrypoint or Cmd): give one after the image name");

    std::vector<std::string> env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
    auto set_env = [&](const std::string& kv) {
        std::string key = kv.substr(0, kv.find('='));
        std::erase_if(env, [&](const std::string& e) { return e.substr(0, e.find('=')) == key; });
        env.push_back(kv);
    };
    for (auto& e : image.env) set_env(e);
    if (run.tty) set_env("TERM=xterm");
    for (auto& e : run.env) {
        if (e.find('=') == std::string::npos) {
            // "-e KEY" takes KEY from kapsel's own environment, as docker does.
            if (const char* v = std::getenv(e.c_str())) set_env(e + "=" + v);
            continue;
        }
        set_env(e);
    }
    if (std::none_of(env.begin(), env.end(), [](const std::string& e) { return e.rfind("HOME=", 0) == 0; }))
        env.push_back("HOME=" + (user.home.empty() ? std::string("/") : user.home));
    if (!run.hostname.empty()) set_env("HOSTNAME=" + run.hostname);

    std::string cwd = run.workdir ? *run.workdir : image.working_dir;
    if (cwd.empty()) cwd = "/";
    if (cwd.front() != '/') return make_error("working directory \"" + cwd + "\" is not absolute");

    std::vector<std::string> caps = KAPSEL_TRY(capability_set(run));
    json caps_json = caps;
    json process = {
        {"terminal", run.tty},
        {"user", {{"uid", user.uid}, {"gid", user.gid}}},
        {"args", args},
        {"env", env},
        {"cwd", cwd},
        {"capabilities", {{"bounding", caps_json}, {"effective", caps_json}, {"permitted", caps_json}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", run.nofile}, {"soft", run.nofile}}}},
        {"noNewPrivileges", run.no_new_privileges},
    };
    if (!user.additional_gids.empty()) process["user"]["additionalGids"] = user.additional_gids;
    process["user"]["umask"] = 022;

    json mounts = json::array({
        {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}, {"options", {"nosuid", "noexec", "nodev"}}},
        {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
        {{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"},
         {"options", run.tty_group ? json{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}
                                   : json{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}},
        {{"destination", "/dev/shm"}, {"type", "tmpfs"}, {"source", "shm"}, {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
        {{"destination", "/dev/mqueue"}, {"type", "mqueue"}, {"source", "mqueue"}, {"options", {"nosuid", "noexec", "nodev"}}},
        {{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"}, {"options", {"nosuid", "noexec", "nodev", "ro"}}},
        {{"destination", "/sys/fs/cgroup"}, {"type", "cgroup"}, {"source", "cgroup"},
         {"options", {"rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"}}},
        {{"destination", "/run"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"nosuid", "nodev", "mode=755"}}},
    });
    // As podman: the image's /tmp is the container's (copy-on-write) unless the root is
    // read-only, and then the usual scratch directories are writable tmpfs.
    if (run.read_only)
        for (const char* dir : {"/tmp", "/var/tmp"})
            mounts.push_back({{"destination", dir}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"nosuid", "nodev", "mode=1777"}}});
    for (auto& v : run.volumes) {
        if (v.container.empty() || v.container.front() != '/')
            return make_error("volume target \"" + v.container + "\" is not an absolute path");
        json opts = {"rbind", "rprivate"};
        if (v.read_only) opts.push_back("ro");
        mounts.push_back({{"destination", v.container}, {"type", "bind"}, {"source", v.host}, {"options", opts}});
    }

    json namespaces = json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}, {{"type", "cgroup"}}});
    if (run.network == "private" || run.network == "none") namespaces.push_back({{"type", "network"}});
    else if (run.network.rfind("ns:", 0) == 0 && run.network.size() > 4 && run.network[3] == '/')
        // A namespace made for it (a bridge network's) or named by the user: joined.
        namespaces.push_back({{"type", "network"}, {"path", run.network.substr(3)}});
    else if (run.network != "host")
        return make_error("network \"" + run.network + "\" is not supported (none, host, private, or ns:PATH)");

    json resources = {{"devices", {{{"allow", false}, {"access", "rwm"}}}}};
    if (run.memory) resources["memory"] = {{"limit", *run.memory}};
    if (run.pids_limit) resources["pids"] = {{"limit", *run.pids_limit}};
    if (run.cpus) {
        if (*run.cpus <= 0) return make_error("--cpus must be more than 0");
        const uint64_t period = 100000;
        resources["cpu"] = {{"quota", static_cast<int64_t>(std::llround(*run.cpus * period))}, {"period", period}};
    }

    json seccomp = {{"defaultAction", "SCMP_ACT_ERRNO"}, {"defaultErrnoRet", 38},  // ENOSYS: new syscalls look absent
                    {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
                    {"syscalls", {{{"names", seccomp_allow}, {"action", "SCMP_ACT_ALLOW"}}}}};

    json linux = {
        {"namespaces", namespaces},
        {"resources", resources},
        {"maskedPaths", {"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                         "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/fs/selinux",
                         "/sys/dev/block"}},
        {"readonlyPaths", {"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}},
        {"seccomp", seccomp},
    };
    if (!run.sysctls.empty()) linux["sysctl"] = run.sysctls;

    json spec = {
        {"ociVersion", oci::kSpecVersion},
        {"process", process},
        {"root", {{"path", run.rootfs}, {"readonly", run.read_only}}},
        {"hostname", run.hostname},
        {"mounts", mounts},
        {"linux", linux},
    };
    if (!run.annotations.empty()) spec["annotations"] = run.annotations;
    if (auto bad = non_utf8(spec, "")) return make_error("the container's config: " + *bad + " is not valid UTF-8");
    return spec;
}

}  // namespace kapsel::plan
