// User, groups, capabilities and process attributes.
#include "linux/identity.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "plan/names.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::linux {

int kernel_last_cap() {
    static int cached = -1;
    if (cached >= 0) return cached;
    auto text = fs::read_file("/proc/sys/kernel/cap_last_cap");
    if (text) {
        if (auto n = parse_int(trim(*text))) cached = static_cast<int>(*n);
    }
    if (cached < 0) cached = plan::last_known_capability();
    return cached;
}

uint64_t own_bounding_set() {
    uint64_t mask = 0;
    for (int c = 0; c <= kernel_last_cap() && c < 64; ++c)
        if (::prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1) mask |= uint64_t{1} << c;
    return mask;
}

Status check_process_on_host(const plan::Process& p) {
    if (p.has_caps) {
        uint64_t own = own_bounding_set();
        auto& c = p.caps;
        uint64_t wanted = c.bounding | c.permitted | c.effective | c.inheritable | c.ambient;
        uint64_t known = kernel_last_cap() >= 63 ? ~0ull : (1ull << (kernel_last_cap() + 1)) - 1;
        uint64_t missing = wanted & known & ~own;
        // A capability kapsel does not hold cannot be given to the container.
        for (int i = 0; i < 64; ++i)
            if (missing & (1ull << i))
                return make_error("process.capabilities: " + plan::capability_name(i) +
                                  " is not in kapsel's own bounding set, so it cannot be granted");
    }
    if (!p.apparmor_profile.empty() && !fs::exists("/sys/kernel/security/apparmor"))
        return make_error("process.apparmorProfile: AppArmor is not enabled on this host");
    if (!p.selinux_label.empty() && !fs::exists("/sys/fs/selinux/enforce"))
        return make_error("process.selinuxLabel: SELinux is not enabled on this host");
    return {};
}

Status apply_limits_from_outside(pid_t pid, const plan::Process& p) {
    for (auto& rl : p.rlimits) {
        rlimit lim{rl.soft, rl.hard};
        if (::prlimit(pid, static_cast<__rlimit_resource>(rl.resource), &lim, nullptr) < 0)
            return sys_error("set " + rl.name + " to soft " + std::to_string(rl.soft) + ", hard " +
                             std::to_string(rl.hard));
    }
    if (p.oom_score_adj)
        KAPSEL_TRY_CTX(fs::write_file("/proc/" + std::to_string(pid) + "/oom_score_adj",
                                      std::to_string(*p.oom_score_adj)),
                       "set process.oomScoreAdj");
    return {};
}

static Status capset(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    data[0].effective = static_cast<uint32_t>(effective);
    data[1].effective = static_cast<uint32_t>(effective >> 32);
    data[0].permitted = static_cast<uint32_t>(permitted);
    data[1].permitted = static_cast<uint32_t>(permitted >> 32);
    data[0].inheritable = static_cast<uint32_t>(inheritable);
    data[1].inheritable = static_cast<uint32_t>(inheritable >> 32);
    if (::syscall(SYS_capset, &hdr, data) < 0) return sys_error("set capabilities");
    return {};
}

Status apply_user_and_caps(const plan::Process& p) {
    int last = kernel_last_cap();
    uint64_t known = last >= 63 ? ~uint64_t{0} : (uint64_t{1} << (last + 1)) - 1;
    if (p.has_caps) {
        for (int c = 0; c <= last; ++c) {
            if (p.caps.bounding & (uint64_t{1} << c)) continue;
            if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                return sys_error("drop " + plan::capability_name(c) + " from the bounding set");
        }
        if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return sys_error("prctl keepcaps");
    }
    // Supplementary groups first: after setuid to a non-root user it is too late.
    std::vector<gid_t> groups(p.additional_gids.begin(), p.additional_gids.end());
    if (::setgroups(groups.size(), groups.data()) < 0) {
        // In a user namespace with setgroups denied, only an empty list is acceptable.
        if (!(errno == EPERM && groups.empty())) return sys_error("setgroups");
    }
    if (::syscall(SYS_setresgid, p.gid, p.gid, p.gid) < 0)
        return sys_error("setgid " + std::to_string(p.gid));
    if (::syscall(SYS_setresuid, p.uid, p.uid, p.uid) < 0)
        return sys_error("setuid " + std::to_string(p.uid));
    if (!p.has_caps) return {};
    if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return sys_error("prctl keepcaps");
    KAPSEL_TRY(
        capset(p.caps.effective & known, p.caps.permitted & known, p.caps.inheritable & known));
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return sys_error("clear ambient capabilities");
    for (int c = 0; c <= last; ++c) {
        if (!(p.caps.ambient & (uint64_t{1} << c))) continue;
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
            return sys_error("raise ambient " + plan::capability_name(c) +
                             " (an ambient capability must also be permitted and inheritable)");
    }
    return {};
}

Status apply_process_attributes(const plan::Plan& plan, const plan::Process& p) {
    if (plan.personality && ::personality(static_cast<unsigned long>(*plan.personality)) < 0)
        return sys_error("set personality");
    if (p.scheduler) {
        struct {
            uint32_t size;
            uint32_t sched_policy;
            uint64_t sched_flags;
            int32_t sched_nice;
            uint32_t sched_priority;
            uint64_t sched_runtime, sched_deadline, sched_period;
        } attr{48,
               static_cast<uint32_t>(p.scheduler->policy),
               p.scheduler->flags,
               p.scheduler->nice,
               static_cast<uint32_t>(p.scheduler->priority),
               p.scheduler->runtime,
               p.scheduler->deadline,
               p.scheduler->period};
        if (::syscall(SYS_sched_setattr, 0, &attr, 0) < 0) return sys_error("set scheduler");
    }
    if (p.io_priority && ::syscall(SYS_ioprio_set, 1 /*IOPRIO_WHO_PROCESS*/, 0, *p.io_priority) < 0)
        return sys_error("set I/O priority");
    if (plan.memory_policy) {
        static const std::pair<const char*, int> modes[] = {{"MPOL_DEFAULT", 0},
                                                            {"MPOL_PREFERRED", 1},
                                                            {"MPOL_BIND", 2},
                                                            {"MPOL_INTERLEAVE", 3},
                                                            {"MPOL_LOCAL", 4},
                                                            {"MPOL_PREFERRED_MANY", 5},
                                                            {"MPOL_WEIGHTED_INTERLEAVE", 6}};
        int mode = -1;
        for (auto& [n, v] : modes)
            if (plan.memory_policy->mode == n) mode = v;
        if (mode < 0)
            return make_error("linux.memoryPolicy.mode: unknown mode \"" +
                              plan.memory_policy->mode + "\"");
        for (auto& f : plan.memory_policy->flags) {
            if (f == "MPOL_F_STATIC_NODES")
                mode |= 1 << 15;
            else if (f == "MPOL_F_RELATIVE_NODES")
                mode |= 1 << 14;
            else if (f == "MPOL_F_NUMA_BALANCING")
                mode |= 1 << 13;
            else
                return make_error("linux.memoryPolicy.flags: unknown flag \"" + f + "\"");
        }
        unsigned long mask[16] = {};
        for (auto& range : split(plan.memory_policy->nodes, ',')) {
            if (range.empty()) continue;
            auto dash = range.find('-');
            auto lo = parse_uint(range.substr(0, dash));
            auto hi = dash == std::string::npos ? lo : parse_uint(range.substr(dash + 1));
            if (!lo || !hi || *hi >= 1024 || *lo > *hi)
                return make_error("linux.memoryPolicy.nodes: invalid node list \"" +
                                  plan.memory_policy->nodes + "\"");
            for (auto n = *lo; n <= *hi; ++n) mask[n / 64] |= 1ul << (n % 64);
        }
        if (::syscall(SYS_set_mempolicy, mode, plan.memory_policy->nodes.empty() ? nullptr : mask,
                      1024) < 0)
            return sys_error("set memory policy");
    }
    return {};
}

void fix_stdio_owner(uid_t uid, gid_t gid) {
    if (uid == 0) return;
    for (int fd = 0; fd <= 2; ++fd) {
        struct stat st;
        if (::fstat(fd, &st) < 0) continue;
        // Leave /dev/null and files the user already owns alone; pipes and ptys
        // handed to us by the caller become the container user's.
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)) continue;
        if (st.st_uid == uid) continue;
        ::fchown(fd, uid, gid);
    }
}

}  // namespace kapsel::linux
