#include "plan/checkpoint.hpp"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "util/strings.hpp"

namespace kapsel::plan {

std::vector<std::pair<std::string, std::string>> external_mounts(
    const Plan& plan, const std::vector<CgroupBind>& cgroups) {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto& m : plan.mounts) {
        if (m.kind == MountKind::bind) out.emplace_back(m.destination, m.source);
        // In a cgroup namespace the hierarchies are mounted afresh, which CRIU redoes.
        if (m.kind == MountKind::cgroup && !plan.creates(NsType::cgroup))
            for (auto& c : cgroups)
                out.emplace_back(c.name.empty() ? m.destination : m.destination + "/" + c.name,
                                 c.host_path);
    }
    return out;
}

namespace {

void common_flags(std::vector<std::string>& a, bool tcp, bool unix_sk, bool shell, bool locks) {
    if (tcp) a.push_back("--tcp-established");
    if (unix_sk) a.push_back("--ext-unix-sk");
    if (shell) a.push_back("--shell-job");
    if (locks) a.push_back("--file-locks");
}

Status check_dir(const std::string& what, const std::string& dir) {
    if (dir.empty() || dir.front() != '/')
        return make_error(what + " \"" + dir + "\" is not an absolute path");
    return {};
}

}  // namespace

std::string external_file_key(uint64_t mnt_id, uint64_t inode) {
    char key[64];
    std::snprintf(key, sizeof key, "file[%llx:%llx]", static_cast<unsigned long long>(mnt_id),
                  static_cast<unsigned long long>(inode));
    return key;
}

std::string external_tty_key(uint64_t rdev, uint64_t dev) {
    char key[64];
    std::snprintf(key, sizeof key, "tty[%llx:%llx]", static_cast<unsigned long long>(rdev),
                  static_cast<unsigned long long>(dev));
    return key;
}

bool is_tty_key(const std::string& key) { return key.rfind("tty[", 0) == 0; }

// runc's name for a joined network namespace, so that a checkpoint reads the same.
constexpr const char* kJoinedNetnsKey = "extRootNetNS";

Result<std::vector<std::string>> criu_dump_args(const Plan& plan, int pid,
                                                const CheckpointOptions& o,
                                                const std::string& freezer_dir,
                                                const std::vector<CgroupBind>& cgroups,
                                                const std::vector<StdioRecord>& stdio) {
    KAPSEL_TRY(check_dir("--image-path", o.image_dir));
    std::string work = o.work_dir.empty() ? o.image_dir : o.work_dir;
    KAPSEL_TRY(check_dir("--work-path", work));
    if (!o.manage_cgroups_mode.empty() && o.manage_cgroups_mode != "soft" &&
        o.manage_cgroups_mode != "full" && o.manage_cgroups_mode != "strict" &&
        o.manage_cgroups_mode != "ignore")
        return make_error("--manage-cgroups-mode \"" + o.manage_cgroups_mode +
                          "\": expected soft, full, strict or ignore");
    std::vector<std::string> a = {
        o.pre_dump ? "pre-dump" : "dump", "--tree", std::to_string(pid), "--images-dir",
        o.image_dir, "--work-dir", work, "--log-file", o.pre_dump ? "pre-dump.log" : "dump.log",
        "-v4", "--root", plan.rootfs,
        // The cgroup's properties go into the images (restore ignores them:
        // kapsel applies the config's limits itself).
        "--manage-cgroups=" +
            (o.manage_cgroups_mode.empty() ? std::string("soft") : o.manage_cgroups_mode)};
    if (!o.parent_dir.empty())
        a.insert(a.end(), {"--prev-images-dir", o.parent_dir, "--track-mem"});
    if (o.pre_dump) a.push_back("--track-mem");
    if (o.leave_running && !o.pre_dump) a.push_back("--leave-running");
    if (o.tcp_skip_in_flight) a.push_back("--skip-in-flight");
    if (o.link_remap) a.push_back("--link-remap");
    if (o.auto_dedup) a.push_back("--auto-dedup");
    for (auto& ns : o.empty_ns) a.insert(a.end(), {"--empty-ns", ns});
    if (o.joined_netns_inode)
        a.insert(a.end(), {"--external", "net[" + std::to_string(o.joined_netns_inode) + "]:" + kJoinedNetnsKey});
    common_flags(a, o.tcp_established, o.ext_unix_sk, o.shell_job, o.file_locks);
    // Frozen as a whole, no process can fork away while CRIU seizes the tree one by one.
    if (!freezer_dir.empty()) a.insert(a.end(), {"--freeze-cgroup", freezer_dir});
    for (auto& [dest, source] : external_mounts(plan, cgroups)) {
        (void)source;
        a.insert(a.end(), {"--external", "mnt[" + dest + "]:" + dest});
    }
    // fds 0-2 on one terminal are one external object: named once. The terminal is
    // also bound at /dev/console, a mount of a pty whose master CRIU does not see.
    std::vector<std::string> named;
    for (auto& s : stdio)
        if (!s.external.empty() && std::find(named.begin(), named.end(), s.external) == named.end()) {
            named.push_back(s.external);
            a.insert(a.end(), {"--external", s.external});
            if (is_tty_key(s.external))
                a.insert(a.end(), {"--external", "mnt[/dev/console]:/dev/console"});
        }
    return a;
}

Result<std::vector<std::string>> criu_restore_args(const Plan& plan, const RestoreOptions& o,
                                                   const std::vector<StdioRecord>& stdio,
                                                   const std::string& pid_file,
                                                   const std::vector<CgroupBind>& cgroups,
                                                   int tty_fd, const std::string& tty_path) {
    KAPSEL_TRY(check_dir("--image-path", o.image_dir));
    std::string work = o.work_dir.empty() ? o.image_dir : o.work_dir;
    KAPSEL_TRY(check_dir("--work-path", work));
    std::vector<std::string> a = {"restore",
                                  "--images-dir",
                                  o.image_dir,
                                  "--work-dir",
                                  work,
                                  "--log-file",
                                  "restore.log",
                                  "-v4",
                                  "--root",
                                  plan.rootfs,
                                  "--restore-detached",
                                  "--pidfile",
                                  pid_file,
                                  "--manage-cgroups=ignore"};
    if (o.auto_dedup) a.push_back("--auto-dedup");
    for (auto& ns : o.empty_ns) a.insert(a.end(), {"--empty-ns", ns});
    if (o.joined_netns_fd >= 0)
        a.insert(a.end(), {"--inherit-fd", "fd[" + std::to_string(o.joined_netns_fd) + "]:" + kJoinedNetnsKey});
    common_flags(a, o.tcp_established, o.ext_unix_sk, o.shell_job, o.file_locks);
    for (auto& [dest, source] : external_mounts(plan, cgroups))
        a.insert(a.end(), {"--external", "mnt[" + dest + "]:" + source});
    std::vector<std::string> ttys;
    for (auto& s : stdio) {
        bool from_caller = s.target.rfind("pipe:[", 0) == 0 || s.target.rfind("socket:[", 0) == 0;
        if (from_caller) {
            a.insert(a.end(), {"--inherit-fd", "fd[" + std::to_string(s.fd) + "]:" + s.target});
        } else if (is_tty_key(s.external)) {
            // The old terminal is gone with the old container: a new pty's slave,
            // CRIU's fd tty_fd, takes its place wherever the processes had it open.
            if (tty_fd < 0 || tty_path.empty())
                return make_error("the checkpoint's stdio is a terminal (" + s.external +
                                  "), and no new terminal was given for it");
            if (std::find(ttys.begin(), ttys.end(), s.external) != ttys.end()) continue;
            ttys.push_back(s.external);
            a.insert(a.end(), {"--inherit-fd", "fd[" + std::to_string(tty_fd) + "]:" + s.external,
                               "--external", "mnt[/dev/console]:" + tty_path});
        } else if (!s.external.empty()) {
            a.insert(a.end(), {"--inherit-fd", "fd[" + std::to_string(s.fd) + "]:" + s.external});
        }
    }
    return a;
}

Result<int> criu_timeout(int option, const char* env) {
    if (option == 0) return make_error("--criu-timeout 0: expected a number of seconds above 0");
    if (option > 0) return option;
    if (!env || !*env) return kDefaultCriuTimeout;
    auto n = parse_uint(env);
    if (!n || *n == 0 || *n > 86400)
        return make_error("KAPSEL_CRIU_TIMEOUT \"" + std::string(env) +
                          "\": expected a number of seconds from 1 to 86400");
    return static_cast<int>(*n);
}

std::vector<std::string> criu_environment(const std::vector<std::string>& env,
                                          bool breakpoints_fire) {
    std::vector<std::string> out = env;
    if (breakpoints_fire) return out;
    for (auto& e : env)
        if (e.rfind("CRIU_FAULT=", 0) == 0) return out;
    out.push_back(kCriuNoBreakpoints);
    return out;
}

std::string stdio_json(const std::vector<StdioRecord>& stdio) {
    // runc's descriptors.json: the targets of fd 0, 1, 2 in order.
    nlohmann::json j = nlohmann::json::array();
    for (auto& s : stdio) j.push_back(s.target);
    return j.dump();
}

Result<std::vector<StdioRecord>> parse_stdio_json(const std::string& text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_array()) return make_error("descriptors.json is not a JSON array");
    std::vector<StdioRecord> out;
    for (size_t i = 0; i < j.size(); ++i) {
        if (!j[i].is_string())
            return make_error("descriptors.json: entry " + std::to_string(i) + " is not a string");
        out.push_back({static_cast<int>(i), j[i].get<std::string>()});
    }
    return out;
}

std::string criu_failure_reason(const std::string& log_text) {
    static const char* const survived[] = {"RLIMIT_NOFILE", "Unable to create tun",
                                           "already assigned"};
    std::string generic;
    size_t from = 0;
    while (from < log_text.size()) {
        size_t end = log_text.find('\n', from);
        if (end == std::string::npos) end = log_text.size();
        std::string_view line(log_text.data() + from, end - from);
        from = end + 1;
        if (line.find("Error") == std::string_view::npos) continue;
        bool benign = false;
        for (const char* s : survived) benign |= line.find(s) != std::string_view::npos;
        if (benign) continue;
        auto paren = line.find("): ");
        std::string what(trim(paren == std::string_view::npos ? line : line.substr(paren + 3)));
        if (what.find("FAILED") != std::string::npos) {
            if (generic.empty()) generic = what;
            continue;
        }
        return what;
    }
    return generic;
}

std::string external_stdio_json(const std::vector<StdioRecord>& stdio) {
    nlohmann::json j = nlohmann::json::object();
    for (auto& s : stdio)
        if (!s.external.empty()) j[std::to_string(s.fd)] = s.external;
    return j.dump();
}

Status parse_external_stdio_json(const std::string& text, std::vector<StdioRecord>& stdio) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object()) return make_error("external-stdio.json is not a JSON object");
    for (auto& [fd, key] : j.items()) {
        std::string k = key.is_string() ? key.get<std::string>() : "";
        // Only CRIU's keys for an external file or terminal: the value becomes a CRIU
        // argument.
        bool file = k.rfind("file[", 0) == 0, tty = is_tty_key(k);
        if ((!file && !tty) || k.size() < 8 || k.back() != ']' ||
            k.find_first_not_of("0123456789abcdef:", 5) != k.size() - 1 ||
            std::count(k.begin(), k.end(), ':') != 1)
            return make_error("external-stdio.json: fd " + fd +
                              " has no file[MNT:INODE] or tty[RDEV:DEV] key");
        bool found = false;
        for (auto& s : stdio)
            if (std::to_string(s.fd) == fd) s.external = k, found = true;
        if (!found) return make_error("external-stdio.json: fd " + fd + " is not 0, 1 or 2");
    }
    return {};
}

}  // namespace kapsel::plan
