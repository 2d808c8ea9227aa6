// Name tables.
#include "plan/names.hpp"

#include <signal.h>
#include <sys/resource.h>

#include <array>

#include "util/strings.hpp"

namespace kapsel::plan {
namespace {

// Indexed by capability number (linux/capability.h), up to CAP_CHECKPOINT_RESTORE.
constexpr std::array<const char*, 41> kCaps = {"CAP_CHOWN",
                                               "CAP_DAC_OVERRIDE",
                                               "CAP_DAC_READ_SEARCH",
                                               "CAP_FOWNER",
                                               "CAP_FSETID",
                                               "CAP_KILL",
                                               "CAP_SETGID",
                                               "CAP_SETUID",
                                               "CAP_SETPCAP",
                                               "CAP_LINUX_IMMUTABLE",
                                               "CAP_NET_BIND_SERVICE",
                                               "CAP_NET_BROADCAST",
                                               "CAP_NET_ADMIN",
                                               "CAP_NET_RAW",
                                               "CAP_IPC_LOCK",
                                               "CAP_IPC_OWNER",
                                               "CAP_SYS_MODULE",
                                               "CAP_SYS_RAWIO",
                                               "CAP_SYS_CHROOT",
                                               "CAP_SYS_PTRACE",
                                               "CAP_SYS_PACCT",
                                               "CAP_SYS_ADMIN",
                                               "CAP_SYS_BOOT",
                                               "CAP_SYS_NICE",
                                               "CAP_SYS_RESOURCE",
                                               "CAP_SYS_TIME",
                                               "CAP_SYS_TTY_CONFIG",
                                               "CAP_MKNOD",
                                               "CAP_LEASE",
                                               "CAP_AUDIT_WRITE",
                                               "CAP_AUDIT_CONTROL",
                                               "CAP_SETFCAP",
                                               "CAP_MAC_OVERRIDE",
                                               "CAP_MAC_ADMIN",
                                               "CAP_SYSLOG",
                                               "CAP_WAKE_ALARM",
                                               "CAP_BLOCK_SUSPEND",
                                               "CAP_AUDIT_READ",
                                               "CAP_PERFMON",
                                               "CAP_BPF",
                                               "CAP_CHECKPOINT_RESTORE"};

struct Named {
    const char* name;
    int value;
};

constexpr Named kRlimits[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

constexpr Named kSignals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},   {"IOT", SIGIOT},   {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL},   {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE},   {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CLD", SIGCHLD},  {"CONT", SIGCONT},
    {"STOP", SIGSTOP},     {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},
    {"URG", SIGURG},       {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
    {"PROF", SIGPROF},     {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"POLL", SIGPOLL},
    {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

}  // namespace

std::optional<int> capability_number(std::string_view name) {
    std::string upper = to_upper(name);
    if (upper.rfind("CAP_", 0) != 0) upper = "CAP_" + upper;
    for (size_t i = 0; i < kCaps.size(); ++i)
        if (upper == kCaps[i]) return static_cast<int>(i);
    return std::nullopt;
}

std::string capability_name(int number) {
    if (number >= 0 && static_cast<size_t>(number) < kCaps.size())
        return kCaps[static_cast<size_t>(number)];
    return "CAP_" + std::to_string(number);
}

int last_known_capability() {
    return static_cast<int>(kCaps.size()) - 1;
}

std::vector<std::string> all_capability_names() {
    return {kCaps.begin(), kCaps.end()};
}

std::optional<int> rlimit_number(std::string_view name) {
    for (auto& r : kRlimits)
        if (name == r.name) return r.value;
    return std::nullopt;
}

std::optional<int> signal_number(std::string_view name) {
    if (auto n = parse_int(name)) {
        if (*n > 0 && *n < NSIG) return static_cast<int>(*n);
        return std::nullopt;
    }
    std::string upper = to_upper(name);
    if (upper.rfind("SIG", 0) == 0) upper = upper.substr(3);
    for (auto& s : kSignals)
        if (upper == s.name) return s.value;
    // SIGRTMIN+n / SIGRTMAX-n, as runc accepts them.
    if (upper.rfind("RTMIN", 0) == 0) {
        int base = SIGRTMIN;
        if (upper.size() == 5) return base;
        if (upper[5] == '+')
            if (auto off = parse_uint(upper.substr(6));
                off && base + static_cast<int64_t>(*off) <= SIGRTMAX)
                return static_cast<int>(base + static_cast<int64_t>(*off));
        return std::nullopt;
    }
    if (upper.rfind("RTMAX", 0) == 0) {
        int base = SIGRTMAX;
        if (upper.size() == 5) return base;
        if (upper[5] == '-')
            if (auto off = parse_uint(upper.substr(6));
                off && base - static_cast<int64_t>(*off) >= SIGRTMIN)
                return static_cast<int>(base - static_cast<int64_t>(*off));
        return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace kapsel::plan
