// The OCI config for a container made from an image: the image's defaults
// (Entrypoint, Cmd, Env, WorkingDir, User) plus the user's run options, with
// podman's defaults for everything else (capabilities, masked paths, seccomp).
// Pure: the caller resolves the user through the image's /etc/passwd and gives
// the seccomp allow-list; the JSON is then run like any bundle.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/result.hpp"

namespace kapsel::plan {

struct ImageDefaults {
    std::string user;  // "name", "uid", "name:group", "uid:gid"
    std::vector<std::string> env, entrypoint, cmd;
    std::string working_dir;
    std::vector<std::string> exposed_ports, volumes;
};

struct BindVolume {
    std::string host, container;
    bool read_only = false;
};

struct RunRequest {
    std::string rootfs;  // the mounted overlay
    std::string hostname;
    std::vector<std::string> command;          // after the image name ("" -> the image's Cmd)
    std::optional<std::vector<std::string>> entrypoint;  // --entrypoint ("" clears it)
    std::vector<std::string> env;              // -e / --env-file, KEY=VALUE (KEY alone: take from kapsel's env)
    std::optional<std::string> workdir;        // -w
    bool tty = false, interactive = false;
    bool read_only = false;
    std::string network = "private";           // private or none: an own netns with lo up; host; ns:PATH joins PATH
    std::vector<BindVolume> volumes;
    std::vector<std::string> cap_add, cap_drop;  // names; "ALL" allowed
    bool no_new_privileges = false;
    // devpts's gid=5 ("tty"): left out where gid 5 is not mapped (a user's namespace
    // with only the user's own id), where the kernel refuses it.
    bool tty_group = true;
    std::optional<int64_t> memory, pids_limit;
    std::optional<double> cpus;
    std::map<std::string, std::string> annotations;
    std::map<std::string, std::string> sysctls;  // linux.sysctl
    // RLIMIT_NOFILE for the process: podman's 1048576, but never above what the
    // caller can give (raising a hard limit needs CAP_SYS_RESOURCE).
    uint64_t nofile = 1048576;
};

// "HOST:CONTAINER[:ro|rw]", as -v takes it.
Result<BindVolume> parse_volume(const std::string& text);

// The uid/gid/groups the process runs as, resolved by the caller.
struct Identity {
    uint32_t uid = 0, gid = 0;
    std::vector<uint32_t> additional_gids;
    std::string home;
};

// Resolves "user[:group]" against passwd and group file contents (numeric ids
// need no entry). An unknown name is an error naming it.
Result<Identity> resolve_user(const std::string& spec, const std::string& passwd, const std::string& group);

// podman's default capabilities.
std::vector<std::string> default_capabilities();

Result<nlohmann::json> container_spec(const ImageDefaults& image, const RunRequest& run, const Identity& user,
                                      const std::vector<std::string>& seccomp_allow);

}  // namespace kapsel::plan
