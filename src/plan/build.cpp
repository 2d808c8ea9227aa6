// Spec -> Plan. Every rule here is one the runtime-spec states or runc enforces;
// the error names the field so the user can fix config.json.
#include "plan/build.hpp"

#include <linux/ioprio.h>
#include <linux/sched.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mount.h>
#include <sys/personality.h>

#include <algorithm>

#include <nlohmann/json.hpp>
#include <set>

#include "plan/names.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::plan {


const char* ns_name(NsType t) {
    switch (t) {
        case NsType::user:
            return "user";
        case NsType::pid:
            return "pid";
        case NsType::mount:
            return "mount";
        case NsType::uts:
            return "uts";
        case NsType::ipc:
            return "ipc";
        case NsType::net:
            return "network";
        case NsType::cgroup:
            return "cgroup";
        case NsType::time:
            return "time";
    }
    return "?";
}

const char* ns_proc_name(NsType t) {
    switch (t) {
        case NsType::user:
            return "user";
        case NsType::pid:
            return "pid";
        case NsType::mount:
            return "mnt";
        case NsType::uts:
            return "uts";
        case NsType::ipc:
            return "ipc";
        case NsType::net:
            return "net";
        case NsType::cgroup:
            return "cgroup";
        case NsType::time:
            return "time";
    }
    return "?";
}

int ns_clone_flag(NsType t) {
    switch (t) {
        case NsType::user:
            return CLONE_NEWUSER;
        case NsType::pid:
            return CLONE_NEWPID;
        case NsType::mount:
            return CLONE_NEWNS;
        case NsType::uts:
            return CLONE_NEWUTS;
        case NsType::ipc:
            return CLONE_NEWIPC;
        case NsType::net:
            return CLONE_NEWNET;
        case NsType::cgroup:
            return CLONE_NEWCGROUP;
        case NsType::time:
            return CLONE_NEWTIME;
    }
    return 0;
}

const Namespace* Plan::find(NsType t) const {
    for (auto& n : namespaces)
        if (n.type == t) return &n;
    return nullptr;
}
bool Plan::has(NsType t) const {
    return find(t) != nullptr;
}
bool Plan::creates(NsType t) const {
    auto* n = find(t);
    return n && n->path.empty();
}

bool Seccomp::uses_notify() const {
    if (default_action == SeccompAction::notify) return true;
    return std::any_of(rules.begin(), rules.end(),
                       [](const SeccompRule& r) { return r.action == SeccompAction::notify; });
}

namespace {

Result<NsType> ns_type(const std::string& name) {
    for (auto t : kAllNamespaces)
        if (name == ns_name(t)) return t;
    if (name == "net") return NsType::net;  // accepted by runc too
    return make_error("unknown namespace type \"" + name + "\"");
}

Result<uint64_t> cap_mask(const std::vector<std::string>& names, const std::string& field) {
    uint64_t mask = 0;
    for (auto& n : names) {
        auto num = capability_number(n);
        if (!num) return make_error(field + ": unknown capability \"" + n + "\"");
        mask |= uint64_t{1} << *num;
    }
    return mask;
}

Result<SeccompAction> seccomp_action(const std::string& name, const std::string& field) {
    static const std::pair<const char*, SeccompAction> table[] = {
        {"SCMP_ACT_KILL", SeccompAction::kill_thread},
        {"SCMP_ACT_KILL_THREAD", SeccompAction::kill_thread},
        {"SCMP_ACT_KILL_PROCESS", SeccompAction::kill_process},
        {"SCMP_ACT_TRAP", SeccompAction::trap},
        {"SCMP_ACT_ERRNO", SeccompAction::errno_ret},
        {"SCMP_ACT_TRACE", SeccompAction::trace},
        {"SCMP_ACT_ALLOW", SeccompAction::allow},
        {"SCMP_ACT_LOG", SeccompAction::log},
        {"SCMP_ACT_NOTIFY", SeccompAction::notify},
    };
    for (auto& [n, a] : table)
        if (name == n) return a;
    return make_error(field + ": unknown seccomp action \"" + name + "\"");
}

Result<SeccompOp> seccomp_op(const std::string& name, const std::string& field) {
    static const std::pair<const char*, SeccompOp> table[] = {
        {"SCMP_CMP_NE", SeccompOp::ne},
        {"SCMP_CMP_LT", SeccompOp::lt},
        {"SCMP_CMP_LE", SeccompOp::le},
        {"SCMP_CMP_EQ", SeccompOp::eq},
        {"SCMP_CMP_GE", SeccompOp::ge},
        {"SCMP_CMP_GT", SeccompOp::gt},
        {"SCMP_CMP_MASKED_EQ", SeccompOp::masked_eq},
    };
    for (auto& [n, o] : table)
        if (name == n) return o;
    return make_error(field + ": unknown seccomp operator \"" + name + "\"");
}

Result<uint32_t> seccomp_arch(const std::string& name, const std::string& field) {
    static const std::pair<const char*, uint32_t> table[] = {
        {"SCMP_ARCH_X86", SCMP_ARCH_X86},
        {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
        {"SCMP_ARCH_X32", SCMP_ARCH_X32},
        {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
        {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
        {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
        {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
        {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
        {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
        {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
        {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
        {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
        {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
        {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
        {"SCMP_ARCH_S390", SCMP_ARCH_S390},
        {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
        {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
        {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
        {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
    };
    for (auto& [n, a] : table)
        if (name == n) return a;
    return make_error(field + ": unknown or unsupported seccomp architecture \"" + name + "\"");
}

Result<Seccomp> build_seccomp(const oci::Seccomp& s) {
    Seccomp out;
    out.default_action =
        KAPSEL_TRY(seccomp_action(s.default_action, "linux.seccomp.defaultAction"));
    if (s.default_errno_ret) {
        if (out.default_action != SeccompAction::errno_ret &&
            out.default_action != SeccompAction::trace)
            return make_error(
                "linux.seccomp.defaultErrnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE");
        out.default_errno_ret = *s.default_errno_ret;
    } else if (out.default_action == SeccompAction::trace) {
        out.default_errno_ret = 1;  // libseccomp's trace data; EPERM like runc
    }
    for (auto& a : s.architectures)
        out.architectures.push_back(KAPSEL_TRY(seccomp_arch(a, "linux.seccomp.architectures")));
    for (auto& f : s.flags) {
        if (f == "SECCOMP_FILTER_FLAG_LOG")
            out.flags |= 1u << 1;
        else if (f == "SECCOMP_FILTER_FLAG_SPEC_ALLOW")
            out.flags |= 1u << 2;
        else if (f == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")
            out.flags |= 1u << 5;
        else if (f == "SECCOMP_FILTER_FLAG_TSYNC")
            out.flags |= 1u << 0;
        else
            return make_error("linux.seccomp.flags: unknown seccomp flag \"" + f + "\"");
    }
    out.listener_path = s.listener_path;
    out.listener_metadata = s.listener_metadata;
    if (!s.listener_metadata.empty() && s.listener_path.empty())
        return make_error("linux.seccomp.listenerMetadata: set without listenerPath");
    for (size_t i = 0; i < s.syscalls.size(); ++i) {
        auto& sc = s.syscalls[i];
        std::string where = "linux.seccomp.syscalls[" + std::to_string(i) + "]";
        SeccompRule r;
        if (sc.names.empty()) return make_error(where + ".names: must name at least one syscall");
        r.names = sc.names;
        r.action = KAPSEL_TRY(seccomp_action(sc.action, where + ".action"));
        if (sc.errno_ret) {
            if (r.action != SeccompAction::errno_ret && r.action != SeccompAction::trace)
                return make_error(where +
                                  ".errnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE");
            r.errno_ret = *sc.errno_ret;
        }
        for (size_t k = 0; k < sc.args.size(); ++k) {
            auto& a = sc.args[k];
            std::string aw = where + ".args[" + std::to_string(k) + "]";
            if (a.index > 5) return make_error(aw + ".index: syscalls have at most 6 arguments");
            r.args.push_back(
                {a.index, a.value, a.value_two, KAPSEL_TRY(seccomp_op(a.op, aw + ".op"))});
        }
        out.rules.push_back(std::move(r));
    }
    if (out.uses_notify() && out.listener_path.empty())
        return make_error("linux.seccomp: SCMP_ACT_NOTIFY needs listenerPath");
    // Refused as runc refuses them: the init still reports to create with
    // write(2) after its filter is loaded (linux/sync.cpp), and the runtime's own
    // steps must not wait on an agent that may not answer (or may not have the
    // listener yet). A notify default action covers write too.
    if (out.default_action == SeccompAction::notify)
        return make_error(
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be used as default action");
    for (size_t i = 0; i < out.rules.size(); ++i)
        if (out.rules[i].action == SeccompAction::notify)
            for (auto& name : out.rules[i].names)
                if (name == "write")
                    return make_error("linux.seccomp.syscalls[" + std::to_string(i) +
                                      "]: SCMP_ACT_NOTIFY cannot be used for the write syscall");
    return out;
}

Result<Scheduler> build_scheduler(const oci::Scheduler& s) {
    static const std::pair<const char*, int> policies[] = {
        {"SCHED_OTHER", SCHED_OTHER}, {"SCHED_FIFO", SCHED_FIFO}, {"SCHED_RR", SCHED_RR},
        {"SCHED_BATCH", SCHED_BATCH}, {"SCHED_ISO", 4},           {"SCHED_IDLE", SCHED_IDLE},
        {"SCHED_DEADLINE", 6},
    };
    static const std::pair<const char*, uint64_t> flags[] = {
        {"SCHED_FLAG_RESET_ON_FORK", SCHED_FLAG_RESET_ON_FORK},
        {"SCHED_FLAG_RECLAIM", SCHED_FLAG_RECLAIM},
        {"SCHED_FLAG_DL_OVERRUN", SCHED_FLAG_DL_OVERRUN},
        {"SCHED_FLAG_KEEP_POLICY", SCHED_FLAG_KEEP_POLICY},
        {"SCHED_FLAG_KEEP_PARAMS", SCHED_FLAG_KEEP_PARAMS},
        {"SCHED_FLAG_UTIL_CLAMP_MIN", SCHED_FLAG_UTIL_CLAMP_MIN},
        {"SCHED_FLAG_UTIL_CLAMP_MAX", SCHED_FLAG_UTIL_CLAMP_MAX},
    };
    Scheduler out;
    bool found = false;
    for (auto& [n, p] : policies)
        if (s.policy == n) out.policy = p, found = true;
    if (!found) return make_error("process.scheduler.policy: unknown policy \"" + s.policy + "\"");
    for (auto& f : s.flags) {
        bool ok = false;
        for (auto& [n, v] : flags)
            if (f == n) out.flags |= v, ok = true;
        if (!ok) return make_error("process.scheduler.flags: unknown flag \"" + f + "\"");
    }
    if (s.nice < -20 || s.nice > 19)
        return make_error("process.scheduler.nice: must be between -20 and 19");
    out.nice = s.nice;
    out.priority = s.priority;
    out.runtime = s.runtime;
    out.deadline = s.deadline;
    out.period = s.period;
    if (out.policy == 6 && (out.runtime == 0 || out.deadline == 0))
        return make_error("process.scheduler: SCHED_DEADLINE needs runtime and deadline");
    return out;
}

// The devices every container gets (runtime-spec "Default Devices").
std::vector<DeviceNode> default_devices() {
    return {
        {"/dev/null", 'c', 1, 3, 0666, 0, 0},    {"/dev/zero", 'c', 1, 5, 0666, 0, 0},
        {"/dev/full", 'c', 1, 7, 0666, 0, 0},    {"/dev/random", 'c', 1, 8, 0666, 0, 0},
        {"/dev/urandom", 'c', 1, 9, 0666, 0, 0}, {"/dev/tty", 'c', 5, 0, 0666, 0, 0},
    };
}

// Which namespace a sysctl lives in (runc's list); empty when it is not namespaced.
std::optional<NsType> sysctl_namespace(const std::string& key) {
    static const std::set<std::string> ipc = {
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
        "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
    if (ipc.count(key) || key.rfind("fs.mqueue.", 0) == 0) return NsType::ipc;
    if (key.rfind("net.", 0) == 0) return NsType::net;
    if (key == "kernel.hostname" || key == "kernel.domainname") return NsType::uts;
    return std::nullopt;
}

}  // namespace

Result<Process> build_process(const oci::Process& p, bool in_user_ns) {
    (void)in_user_ns;
    Process out;
    if (p.args.empty()) return make_error("process.args: must name the program to run");
    out.args = p.args;
    out.env = p.env;
    if (p.cwd.empty() || p.cwd.front() != '/')
        return make_error("process.cwd: must be an absolute path, got \"" + p.cwd + "\"");
    out.cwd = p.cwd;
    // (uid_t)-1 is no id: setresuid/setresgid take it as "leave unchanged", so the
    // process would go on as whatever kapsel's init is (root). runc refuses it too.
    constexpr uint32_t kNoId = 4294967295u;
    if (p.user.uid == kNoId)
        return make_error("process.user.uid: 4294967295 is not a valid id (it means \"unchanged\": the process would stay root)");
    if (p.user.gid == kNoId)
        return make_error("process.user.gid: 4294967295 is not a valid id (it means \"unchanged\": the process would keep group root)");
    for (auto g : p.user.additional_gids)
        if (g == kNoId)
            return make_error("process.user.additionalGids: 4294967295 is not a valid id");
    out.uid = p.user.uid;
    out.gid = p.user.gid;
    out.additional_gids = p.user.additional_gids;
    out.umask = p.user.umask;
    out.terminal = p.terminal;
    if (p.console_size)
        out.console_size = std::make_pair(p.console_size->height, p.console_size->width);
    out.no_new_privileges = p.no_new_privileges;
    if (p.capabilities) {
        out.has_caps = true;
        auto& c = *p.capabilities;
        out.caps.bounding = KAPSEL_TRY(cap_mask(c.bounding, "process.capabilities.bounding"));
        out.caps.effective = KAPSEL_TRY(cap_mask(c.effective, "process.capabilities.effective"));
        out.caps.inheritable =
            KAPSEL_TRY(cap_mask(c.inheritable, "process.capabilities.inheritable"));
        out.caps.permitted = KAPSEL_TRY(cap_mask(c.permitted, "process.capabilities.permitted"));
        out.caps.ambient = KAPSEL_TRY(cap_mask(c.ambient, "process.capabilities.ambient"));
        // The kernel raises an ambient capability only when it is permitted and
        // inheritable too. runc's own template lists ambient capabilities that are not
        // inheritable, and runc and crun skip those (runc with a warning in its log):
        // so does kapsel, rather than refuse every tutorial's first bundle.
        out.caps.ambient &= out.caps.permitted & out.caps.inheritable;
    }
    std::set<int> seen;
    for (size_t i = 0; i < p.rlimits.size(); ++i) {
        auto& r = p.rlimits[i];
        auto num = rlimit_number(r.type);
        std::string where = "process.rlimits[" + std::to_string(i) + "]";
        if (!num) return make_error(where + ".type: unknown rlimit \"" + r.type + "\"");
        if (!seen.insert(*num).second)
            return make_error(where + ".type: " + r.type + " is set twice");
        if (r.soft > r.hard)
            return make_error(where + ": soft limit " + std::to_string(r.soft) +
                              " is above hard limit " + std::to_string(r.hard));
        out.rlimits.push_back({*num, r.soft, r.hard, r.type});
    }
    if (p.oom_score_adj) {
        if (*p.oom_score_adj < -1000 || *p.oom_score_adj > 1000)
            return make_error("process.oomScoreAdj: must be between -1000 and 1000");
        out.oom_score_adj = p.oom_score_adj;
    }
    if (p.scheduler) out.scheduler = KAPSEL_TRY(build_scheduler(*p.scheduler));
    if (p.io_priority) {
        int klass = 0;
        if (p.io_priority->klass == "IOPRIO_CLASS_RT")
            klass = IOPRIO_CLASS_RT;
        else if (p.io_priority->klass == "IOPRIO_CLASS_BE")
            klass = IOPRIO_CLASS_BE;
        else if (p.io_priority->klass == "IOPRIO_CLASS_IDLE")
            klass = IOPRIO_CLASS_IDLE;
        else
            return make_error("process.ioPriority.class: unknown class \"" + p.io_priority->klass +
                              "\"");
        if (p.io_priority->priority < 0 || p.io_priority->priority > 7)
            return make_error("process.ioPriority.priority: must be between 0 and 7");
        out.io_priority = (klass << 13) | p.io_priority->priority;
    }
    out.apparmor_profile = p.apparmor_profile;
    out.selinux_label = p.selinux_label;
    if (p.exec_cpu_affinity) {
        out.cpu_affinity_initial = p.exec_cpu_affinity->initial;
        out.cpu_affinity_final = p.exec_cpu_affinity->final;
    }
    return out;
}

Result<Plan> build(const oci::Spec& spec, const BuildOptions& opts) {
    Plan plan;
    plan.id = opts.id;
    plan.bundle = opts.bundle;

    if (spec.oci_version.rfind("1.", 0) != 0)
        return make_error("ociVersion: unsupported version \"" + spec.oci_version +
                          "\" (kapsel runs 1.x configs)");
    if (!spec.has_root || spec.root.path.empty())
        return make_error("root.path: the container needs a root filesystem");
    plan.rootfs = spec.root.path.front() == '/' ? fs::clean(spec.root.path)
                                                : fs::clean(fs::join(opts.bundle, spec.root.path));
    plan.rootfs_readonly = spec.root.readonly;

    if (auto ov = spec.annotations.find("io.kapsel.rootfs.overlay"); ov != spec.annotations.end()) {
        auto j = nlohmann::json::parse(ov->second, nullptr, false);
        auto is_path = [&](const char* k) {
            return j.contains(k) && j[k].is_string() && !j[k].get<std::string>().empty();
        };
        if (j.is_discarded() || !j.is_object() || !j.contains("lowerdir") || !j["lowerdir"].is_array() ||
            !is_path("upperdir") || !is_path("workdir"))
            return make_error("annotations.io.kapsel.rootfs.overlay: expected {\"lowerdir\": [...], \"upperdir\": ..., \"workdir\": ...}");
        // overlayfs stacks at most 500 lower layers (OVL_MAX_STACK); past that the
        // mount fails deep in the init. Said here, before anything is made.
        if (j["lowerdir"].size() > kMaxOverlayLayers)
            return make_error("the image has " + std::to_string(j["lowerdir"].size()) +
                              " layers; overlayfs stacks at most " + std::to_string(kMaxOverlayLayers) +
                              " (squash the image into fewer layers)");
        Plan::Overlay o;
        for (auto& l : j["lowerdir"]) {
            if (!l.is_string() || l.get<std::string>().empty() || l.get<std::string>().front() != '/')
                return make_error("annotations.io.kapsel.rootfs.overlay: lowerdir entries must be absolute paths");
            o.lowers.push_back(l.get<std::string>());
        }
        o.upper = j["upperdir"].get<std::string>();
        o.work = j["workdir"].get<std::string>();
        if (j.contains("userxattr")) {
            if (!j["userxattr"].is_boolean())
                return make_error("annotations.io.kapsel.rootfs.overlay: userxattr must be true or false");
            o.user_xattr = j["userxattr"].get<bool>();
        }
        if (o.lowers.empty() || o.upper.front() != '/' || o.work.front() != '/')
            return make_error("annotations.io.kapsel.rootfs.overlay: needs lower layers and absolute upper/work dirs");
        plan.rootfs_overlay = std::move(o);
    }

    const oci::Linux empty_linux;
    const oci::Linux& lx = spec.linux_ ? *spec.linux_ : empty_linux;

    // Namespaces.
    std::set<NsType> seen;
    for (size_t i = 0; i < lx.namespaces.size(); ++i) {
        std::string where = "linux.namespaces[" + std::to_string(i) + "]";
        auto t = ns_type(lx.namespaces[i].type);
        if (!t) return std::move(t).error().context(where + ".type");
        if (!seen.insert(*t).second) {
            // A caller that appends its own namespace to a template that has it
            // already (runc 1.1's template lacks the cgroup one) gets the same entry
            // twice: one meaning, taken once. Two different paths are a conflict.
            auto first = std::find_if(plan.namespaces.begin(), plan.namespaces.end(),
                                      [&](const Namespace& n) { return n.type == *t; });
            if (first != plan.namespaces.end() && first->path == lx.namespaces[i].path) continue;
            return make_error(where + ": namespace \"" + lx.namespaces[i].type +
                              "\" is listed twice, with different paths");
        }
        if (!lx.namespaces[i].path.empty() && lx.namespaces[i].path.front() != '/')
            return make_error(where + ".path: must be absolute");
        plan.namespaces.push_back({*t, lx.namespaces[i].path});
    }
    bool userns = plan.has(NsType::user);
    if (!lx.uid_mappings.empty() || !lx.gid_mappings.empty()) {
        if (!plan.creates(NsType::user))
            return make_error("linux.uidMappings: id mappings need a new user namespace");
    }
    if (plan.creates(NsType::user) && (lx.uid_mappings.empty() || lx.gid_mappings.empty()))
        return make_error(
            "linux.uidMappings: a new user namespace needs uidMappings and gidMappings");
    for (auto& m : lx.uid_mappings) plan.uid_map.push_back({m.container_id, m.host_id, m.size});
    for (auto& m : lx.gid_mappings) plan.gid_map.push_back({m.container_id, m.host_id, m.size});
    if (!lx.time_offsets.empty()) {
        if (!plan.creates(NsType::time))
            return make_error("linux.timeOffsets: need a new time namespace");
        for (auto& [clock, off] : lx.time_offsets) {
            if (clock != "monotonic" && clock != "boottime")
                return make_error("linux.timeOffsets: unknown clock \"" + clock +
                                  "\" (monotonic or boottime)");
            plan.time_offsets[clock] = off;
        }
    }

    // Root propagation.
    if (!lx.rootfs_propagation.empty()) {
        static const std::pair<const char*, std::pair<uint64_t, bool>> props[] = {
            {"shared", {MS_SHARED, false}},         {"rshared", {MS_SHARED, true}},
            {"slave", {MS_SLAVE, false}},           {"rslave", {MS_SLAVE, true}},
            {"private", {MS_PRIVATE, false}},       {"rprivate", {MS_PRIVATE, true}},
            {"unbindable", {MS_UNBINDABLE, false}}, {"runbindable", {MS_UNBINDABLE, true}},
        };
        bool ok = false;
        for (auto& [n, v] : props)
            if (lx.rootfs_propagation == n)
                plan.rootfs_propagation = v.first, plan.rootfs_propagation_recursive = v.second,
                ok = true;
        if (!ok)
            return make_error("linux.rootfsPropagation: unknown propagation \"" +
                              lx.rootfs_propagation + "\"");
    }

    // Mounts.
    // Without a mount namespace the container's mounts are made in the host's
    // namespace below the rootfs (and undone by delete), as runc does.
    bool mountns = plan.has(NsType::mount);
    if (!mountns && plan.rootfs_overlay)
        return make_error("annotations.io.kapsel.rootfs.overlay: an overlay rootfs needs a mount namespace");
    if (!mountns && spec.root.readonly)
        return make_error("root.readonly: a read-only root needs a mount namespace");
    if (!mountns && plan.rootfs_propagation)
        return make_error("linux.rootfsPropagation: needs a mount namespace");
    for (size_t i = 0; i < spec.mounts.size(); ++i)
        plan.mounts.push_back(KAPSEL_TRY(build_mount(spec.mounts[i], opts.bundle, i)));

    // kapsel's container-aware /proc and /sys: on by the annotation (podman's
    // --annotation, containerd's); its files are bound in the container's mount namespace.
    if (auto a = spec.annotations.find(kProcfsAnnotation); a != spec.annotations.end()) {
        if (a->second == "true") {
            if (!mountns)
                return make_error(
                    "annotations.run.kapsel.procfs: the container-aware procfs needs a mount "
                    "namespace");
            plan.procfs = Plan::Procfs{};
        } else if (a->second != "false") {
            return make_error("annotations.run.kapsel.procfs: expected \"true\" or \"false\", got \"" +
                              a->second + "\"");
        }
    }

    // Devices: the defaults, then the config's (which win on the same path).
    plan.devices = default_devices();
    for (size_t i = 0; i < lx.devices.size(); ++i) {
        auto& d = lx.devices[i];
        std::string where = "linux.devices[" + std::to_string(i) + "]";
        if (d.path.empty() || d.path.front() != '/')
            return make_error(where + ".path: must be absolute");
        DeviceNode n;
        n.path = fs::clean(d.path);
        if (d.type == "c" || d.type == "u")
            n.type = 'c';
        else if (d.type == "b")
            n.type = 'b';
        else if (d.type == "p")
            n.type = 'p';
        else
            return make_error(where + ".type: unknown device type \"" + d.type +
                              "\" (c, b, u or p)");
        if (n.type != 'p' && (d.major < 0 || d.minor < 0))
            return make_error(where + ": major and minor must not be negative");
        n.major = static_cast<uint32_t>(d.major);
        n.minor = static_cast<uint32_t>(d.minor);
        n.mode = d.file_mode ? (*d.file_mode & 07777) : 0666;
        n.uid = d.uid.value_or(0);
        n.gid = d.gid.value_or(0);
        auto same = std::find_if(plan.devices.begin(), plan.devices.end(),
                                 [&](auto& x) { return x.path == n.path; });
        if (same != plan.devices.end())
            *same = n;
        else
            plan.devices.push_back(n);
    }

    plan.masked_paths = lx.masked_paths;
    plan.readonly_paths = lx.readonly_paths;
    for (auto& p : plan.masked_paths)
        if (p.empty() || p.front() != '/')
            return make_error("linux.maskedPaths: \"" + p + "\" is not absolute");
    for (auto& p : plan.readonly_paths)
        if (p.empty() || p.front() != '/')
            return make_error("linux.readonlyPaths: \"" + p + "\" is not absolute");

    if (!spec.hostname.empty()) {
        if (!plan.creates(NsType::uts) && !plan.has(NsType::uts))
            return make_error("hostname: setting a hostname needs a UTS namespace");
        plan.hostname = spec.hostname;
        plan.set_hostname = true;
    }
    if (!spec.domainname.empty()) {
        if (!plan.has(NsType::uts))
            return make_error("domainname: setting a domainname needs a UTS namespace");
        plan.domainname = spec.domainname;
        plan.set_domainname = true;
    }

    for (auto& [key, value] : lx.sysctl) {
        // sysctl(8) takes "net.ipv4.ip_forward" and "net/ipv4/ip_forward"; in the
        // dotted form a "/" stands for a dot in a name (eth0.100 -> "eth0/100").
        // The separator that comes first tells which form this is.
        std::string dotted = key, path = key;
        auto first = key.find_first_of("./");
        if (first != std::string::npos && key[first] == '/') {
            for (auto& c : dotted) c = c == '/' ? '.' : c == '.' ? '/' : c;
        } else {
            for (auto& c : path) c = c == '.' ? '/' : c == '/' ? '.' : c;
        }
        auto ns = sysctl_namespace(dotted);
        if (!ns)
            return make_error("linux.sysctl: \"" + key +
                              "\" is not namespaced and would change the host");
        if (!plan.has(*ns))
            return make_error("linux.sysctl: \"" + key + "\" needs a " + ns_name(*ns) +
                              " namespace");
        for (auto& part : split(path, '/'))
            if (part.empty() || part == "." || part == "..")
                return make_error("linux.sysctl: invalid key \"" + key + "\"");
        plan.sysctl.emplace_back(path, value);
    }

    if (lx.personality) {
        int per = 0;
        if (lx.personality->domain == "LINUX")
            per = PER_LINUX;
        else if (lx.personality->domain == "LINUX32")
            per = PER_LINUX32;
        else
            return make_error("linux.personality.domain: unknown domain \"" +
                              lx.personality->domain + "\" (LINUX or LINUX32)");
        if (!lx.personality->flags.empty())
            return make_error("linux.personality.flags: no personality flags are supported");
        plan.personality = per;
    }

    if (lx.intel_rdt)
        return make_error("linux.intelRdt: Intel RDT (resctrl) is not supported by kapsel");
    if (!lx.net_devices.empty())
        return make_error(
            "linux.netDevices: moving network devices into a container is not supported by kapsel "
            "yet");

    if (spec.process) plan.process = KAPSEL_TRY(build_process(*spec.process, userns));
    if (lx.seccomp) plan.seccomp = KAPSEL_TRY(build_seccomp(*lx.seccomp));
    if (lx.memory_policy) plan.memory_policy = lx.memory_policy;
    plan.cgroups_path = lx.cgroups_path;
    return plan;
}

}  // namespace kapsel::plan
