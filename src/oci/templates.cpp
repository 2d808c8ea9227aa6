// The `spec` template and the `features` document.
#include "oci/templates.hpp"

#include <seccomp.h>

#include <nlohmann/json.hpp>

#include "oci/spec.hpp"

namespace kapsel::oci {

using ojson = nlohmann::ordered_json;

std::string default_spec_json(bool rootless, unsigned uid, unsigned gid) {
    ojson caps = ojson::array({"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"});
    ojson j;
    j["ociVersion"] = kSpecVersion;
    j["process"] = {
        {"terminal", true},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", {"sh"}},
        {"env",
         {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
        {"cwd", "/"},
        {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", true},
    };
    j["root"] = {{"path", "rootfs"}, {"readonly", true}};
    j["hostname"] = "kapsel";
    ojson mounts = ojson::array();
    mounts.push_back({{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}});
    mounts.push_back({{"destination", "/dev"},
                      {"type", "tmpfs"},
                      {"source", "tmpfs"},
                      {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}});
    ojson pts_opts = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"};
    if (!rootless) pts_opts.push_back("gid=5");
    mounts.push_back({{"destination", "/dev/pts"},
                      {"type", "devpts"},
                      {"source", "devpts"},
                      {"options", pts_opts}});
    mounts.push_back({{"destination", "/dev/shm"},
                      {"type", "tmpfs"},
                      {"source", "shm"},
                      {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}});
    mounts.push_back({{"destination", "/dev/mqueue"},
                      {"type", "mqueue"},
                      {"source", "mqueue"},
                      {"options", {"nosuid", "noexec", "nodev"}}});
    if (rootless) {
        mounts.push_back({{"destination", "/sys"},
                          {"type", "none"},
                          {"source", "/sys"},
                          {"options", {"rbind", "nosuid", "noexec", "nodev", "ro"}}});
    } else {
        mounts.push_back({{"destination", "/sys"},
                          {"type", "sysfs"},
                          {"source", "sysfs"},
                          {"options", {"nosuid", "noexec", "nodev", "ro"}}});
        mounts.push_back({{"destination", "/sys/fs/cgroup"},
                          {"type", "cgroup"},
                          {"source", "cgroup"},
                          {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}});
    }
    j["mounts"] = mounts;
    ojson linux;
    ojson ns = ojson::array({{{"type", "pid"}},
                             {{"type", "network"}},
                             {{"type", "ipc"}},
                             {{"type", "uts"}},
                             {{"type", "mount"}},
                             {{"type", "cgroup"}}});
    if (rootless) {
        ns.push_back({{"type", "user"}});
        linux["uidMappings"] = {{{"containerID", 0}, {"hostID", uid}, {"size", 1}}};
        linux["gidMappings"] = {{{"containerID", 0}, {"hostID", gid}, {"size", 1}}};
    } else {
        linux["resources"] = {{"devices", {{{"allow", false}, {"access", "rwm"}}}}};
    }
    linux["namespaces"] = ns;
    linux["maskedPaths"] = {"/proc/acpi",        "/proc/asound",        "/proc/kcore",
                            "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
                            "/proc/timer_stats", "/proc/sched_debug",   "/sys/firmware",
                            "/proc/scsi"};
    linux["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"};
    j["linux"] = linux;
    return j.dump(1, '\t') + "\n";
}

std::string features_json(bool apparmor, bool selinux, const std::vector<std::string>& capabilities,
                          const std::vector<std::pair<std::string, std::string>>& annotations) {
    ojson j;
    j["ociVersionMin"] = "1.0.0";
    j["ociVersionMax"] = kSpecVersion;
    j["hooks"] = {"prestart",       "createRuntime", "createContainer",
                  "startContainer", "poststart",     "poststop"};
    j["mountOptions"] = {"async",         "atime",        "bind",
                         "defaults",      "dev",          "diratime",
                         "dirsync",       "exec",         "idmap",
                         "iversion",      "lazytime",     "loud",
                         "mand",          "noatime",      "nodev",
                         "nodiratime",    "noexec",       "noiversion",
                         "nolazytime",    "nomand",       "norelatime",
                         "nostrictatime", "nosuid",       "nosymfollow",
                         "private",       "ratime",       "rbind",
                         "rdev",          "rdiratime",    "relatime",
                         "remount",       "rexec",        "ridmap",
                         "rnoatime",      "rnodev",       "rnodiratime",
                         "rnoexec",       "rnorelatime",  "rnostrictatime",
                         "rnosuid",       "rnosymfollow", "ro",
                         "rprivate",      "rrelatime",    "rro",
                         "rrw",           "rshared",      "rslave",
                         "rstrictatime",  "rsuid",        "rsymfollow",
                         "runbindable",   "rw",           "shared",
                         "silent",        "slave",        "strictatime",
                         "suid",          "symfollow",    "sync",
                         "tmpcopyup",     "unbindable"};
    ojson linux;
    linux["namespaces"] = {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"};
    linux["capabilities"] = capabilities;
    linux["cgroup"] = {
        {"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}, {"rdma", true}};
    auto* v = seccomp_version();
    linux["seccomp"] = {
        {"enabled", true},
        {"actions",
         {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
          "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE",
          "SCMP_ACT_TRAP"}},
        {"operators",
         {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
          "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}},
        {"archs",
         {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
          "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
          "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
          "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
          "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"}},
        {"knownFlags",
         {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
          "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}},
        {"supportedFlags",
         {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
          "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}},
    };
    linux["apparmor"] = {{"enabled", apparmor}};
    linux["selinux"] = {{"enabled", selinux}};
    linux["intelRdt"] = {{"enabled", false}};
    linux["mountExtensions"] = {{"idmap", {{"enabled", true}}}};
    linux["netDevices"] = {{"enabled", false}};
    j["linux"] = linux;
    j["annotations"] = {
        {"io.github.kapsel.version", KAPSEL_VERSION},
        {"io.github.seccomp.libseccomp.version", std::to_string(v->major) + "." +
                                                     std::to_string(v->minor) + "." +
                                                     std::to_string(v->micro)},
    };
    for (auto& [k, val] : annotations) j["annotations"][k] = val;
    return j.dump(4) + "\n";
}

}  // namespace kapsel::oci
