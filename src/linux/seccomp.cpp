// seccomp with libseccomp.
#include "linux/seccomp.hpp"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstdio>
#include <cstring>

#include "oci/spec.hpp"
#include "util/fdpass.hpp"
#include "util/fs.hpp"
#include "util/sha256.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

namespace kapsel::linux {
namespace {

uint32_t action_value(plan::SeccompAction a, unsigned errno_ret) {
    switch (a) {
        case plan::SeccompAction::kill_thread:
            return SCMP_ACT_KILL_THREAD;
        case plan::SeccompAction::kill_process:
            return SCMP_ACT_KILL_PROCESS;
        case plan::SeccompAction::trap:
            return SCMP_ACT_TRAP;
        case plan::SeccompAction::errno_ret:
            return SCMP_ACT_ERRNO(errno_ret);
        case plan::SeccompAction::trace:
            return SCMP_ACT_TRACE(errno_ret);
        case plan::SeccompAction::allow:
            return SCMP_ACT_ALLOW;
        case plan::SeccompAction::log:
            return SCMP_ACT_LOG;
        case plan::SeccompAction::notify:
            return SCMP_ACT_NOTIFY;
    }
    return SCMP_ACT_KILL_PROCESS;
}

scmp_compare op_value(plan::SeccompOp op) {
    switch (op) {
        case plan::SeccompOp::ne:
            return SCMP_CMP_NE;
        case plan::SeccompOp::lt:
            return SCMP_CMP_LT;
        case plan::SeccompOp::le:
            return SCMP_CMP_LE;
        case plan::SeccompOp::eq:
            return SCMP_CMP_EQ;
        case plan::SeccompOp::ge:
            return SCMP_CMP_GE;
        case plan::SeccompOp::gt:
            return SCMP_CMP_GT;
        case plan::SeccompOp::masked_eq:
            return SCMP_CMP_MASKED_EQ;
    }
    return SCMP_CMP_EQ;
}

struct Ctx {
    scmp_filter_ctx ctx;
    ~Ctx() { seccomp_release(ctx); }
};

// runc's -ENOSYS stub. A profile allow-lists the syscalls its authors knew; a
// newer one (clone3, statx, faccessat2, ...) would get the default action, say
// EPERM, and programs take EPERM as "forbidden" where ENOSYS makes them fall back
// (glibc: clone3 -> clone). So a syscall numbered above every syscall the profile
// names, on that architecture, gets ENOSYS. Not for permissive defaults (allow,
// log, trace: a tracer handles new syscalls itself), nor when the default errno
// is ENOSYS already.
bool wants_enosys_stub(const plan::Seccomp& s) {
    switch (s.default_action) {
        case plan::SeccompAction::allow:
        case plan::SeccompAction::log:
        case plan::SeccompAction::trace:
            return false;
        case plan::SeccompAction::errno_ret:
            return s.default_errno_ret != ENOSYS;
        default:
            return true;
    }
}

// The architectures of the filter (the native one is always in it) with the
// highest syscall number the profile names on each. x32 shares x86_64's audit
// architecture and is left to libseccomp's filter; so are architectures on which
// the profile names nothing.
std::vector<std::pair<uint32_t, uint32_t>> last_syscalls(const plan::Seccomp& s) {
    std::vector<uint32_t> arches = {seccomp_arch_native()};
    for (uint32_t a : s.architectures)
        if (std::find(arches.begin(), arches.end(), a) == arches.end()) arches.push_back(a);
    std::vector<std::pair<uint32_t, uint32_t>> out;
    for (uint32_t arch : arches) {
        if (arch == SCMP_ARCH_X32) continue;
        int last = -1;
        for (auto& r : s.rules)
            for (auto& name : r.names)
                last = std::max(last, seccomp_syscall_resolve_name_arch(arch, name.c_str()));
        // libseccomp's negative numbers are pseudo-syscalls (multiplexed on this
        // architecture), not entries of the table.
        if (last > 0) out.emplace_back(arch, static_cast<uint32_t>(last));
    }
    return out;
}

// The stub, put in front of libseccomp's program: per architecture
//   ld arch; jeq ARCH ? next : skip; ld nr; [x86_64: jset X32 -> filter];
//   jgt LAST -> enosys; ja filter
// then `ret ERRNO(ENOSYS)`. Every jump is forward, offsets from the next
// instruction. Only numbers in the table's range count: a number with the x32
// bit set is x32's (x86_64), and the filter decides as before.
std::vector<sock_filter> enosys_stub(const std::vector<std::pair<uint32_t, uint32_t>>& last) {
    constexpr uint32_t kX32Bit = 0x40000000;
    std::vector<std::vector<sock_filter>> blocks;
    for (auto [arch, nr] : last) {
        std::vector<sock_filter> b;
        b.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
        b.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 0));  // jf patched below
        b.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
        if (arch == AUDIT_ARCH_X86_64)
            b.push_back(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, kX32Bit, 0, 0));
        b.push_back(BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, nr, 0, 0));
        b.push_back(BPF_JUMP(BPF_JMP | BPF_JA | BPF_K, 0, 0, 0));
        blocks.push_back(std::move(b));
    }
    size_t total = 0;
    for (auto& b : blocks) total += b.size();
    // Layout: blocks..., `ja filter` (falls through when no architecture matched), `ret ENOSYS`,
    // filter.
    size_t enosys_at = total + 1, filter_at = total + 2;
    std::vector<sock_filter> out;
    for (auto& b : blocks) {
        size_t start = out.size(), next_block = start + b.size();
        for (size_t i = 0; i < b.size(); ++i) {
            sock_filter ins = b[i];
            size_t here = start + i + 1;  // jumps count from the next instruction
            uint16_t code = ins.code;
            if (code == (BPF_JMP | BPF_JEQ | BPF_K)) {
                ins.jf = static_cast<uint8_t>(next_block - here);
            } else if (code == (BPF_JMP | BPF_JSET | BPF_K)) {
                ins.jt = static_cast<uint8_t>(filter_at - here);
            } else if (code == (BPF_JMP | BPF_JGT | BPF_K)) {
                ins.jt = static_cast<uint8_t>(enosys_at - here);
            } else if (code == (BPF_JMP | BPF_JA | BPF_K)) {
                ins.k = static_cast<uint32_t>(filter_at - here);
            }
            out.push_back(ins);
        }
    }
    out.push_back(BPF_JUMP(BPF_JMP | BPF_JA | BPF_K, 1, 0, 0));
    out.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)));
    return out;
}

}  // namespace

Result<SeccompProgram> compile_seccomp(const plan::Seccomp& s) {
    uint32_t def = action_value(s.default_action, s.default_errno_ret);
    Ctx c{seccomp_init(def)};
    if (!c.ctx) return make_error("seccomp: cannot initialise libseccomp");
    // No-new-privileges is kapsel's decision (process.noNewPrivileges), not libseccomp's.
    seccomp_attr_set(c.ctx, SCMP_FLTATR_CTL_NNP, 0);
    for (uint32_t arch : s.architectures) {
        int rc = seccomp_arch_add(c.ctx, arch);
        if (rc < 0 && rc != -EEXIST)
            return Error{-rc, "seccomp: add architecture: " + errno_text(-rc)};
    }
    for (size_t i = 0; i < s.rules.size(); ++i) {
        auto& r = s.rules[i];
        uint32_t act = action_value(r.action, r.errno_ret);
        // libseccomp refuses a rule whose action is the default; it would change nothing.
        if (act == def) continue;
        std::vector<scmp_arg_cmp> args;
        for (auto& a : r.args)
            args.push_back(scmp_arg_cmp{a.index, op_value(a.op), a.value, a.value_two});
        // As in runc: conditions on different arguments must all hold (one rule);
        // several conditions on the same argument are alternatives (one rule each),
        // because libseccomp cannot AND two comparisons of one argument.
        bool same_index = args.size() > 1;
        for (auto& a : args) same_index = same_index && a.arg == args[0].arg;
        for (auto& name : r.names) {
            int nr = seccomp_syscall_resolve_name(name.c_str());
            if (nr == __NR_SCMP_ERROR) {
                log::debug("seccomp: syscall \"" + name + "\" is unknown here, rule skipped");
                continue;
            }
            auto add = [&](unsigned n, const scmp_arg_cmp* cmp) -> Status {
                int rc = seccomp_rule_add_array(c.ctx, act, nr, n, cmp);
                if (rc < 0)
                    return Error{-rc, "seccomp: add rule for " + name +
                                          " (linux.seccomp.syscalls[" + std::to_string(i) +
                                          "]): " + errno_text(-rc)};
                return {};
            };
            if (same_index) {
                for (auto& a : args) KAPSEL_TRY(add(1, &a));
            } else {
                KAPSEL_TRY(add(static_cast<unsigned>(args.size()), args.data()));
            }
        }
    }
    int mfd = ::memfd_create("kapsel-seccomp", MFD_CLOEXEC);
    if (mfd < 0) return sys_error("seccomp: memfd_create");
    unique_fd mem(mfd);
    int rc = seccomp_export_bpf(c.ctx, mem.get());
    if (rc < 0) return Error{-rc, "seccomp: export filter: " + errno_text(-rc)};
    off_t size = ::lseek(mem.get(), 0, SEEK_END);
    SeccompProgram prog;
    prog.filter.resize(static_cast<size_t>(size) / sizeof(sock_filter));
    if (::pread(mem.get(), prog.filter.data(), static_cast<size_t>(size), 0) != size)
        return sys_error("seccomp: read filter");
    if (wants_enosys_stub(s)) {
        auto last = last_syscalls(s);
        // A jump offset is 8 bits: a handful of architectures fit many times over.
        if (!last.empty() && last.size() <= 16) {
            auto stub = enosys_stub(last);
            log::debug("seccomp: ENOSYS for syscalls newer than the profile (" +
                       std::to_string(stub.size()) + " instructions before the filter)");
            prog.filter.insert(prog.filter.begin(), stub.begin(), stub.end());
        }
    }
    prog.notify = s.uses_notify();
    prog.flags = s.flags;
    if (prog.notify) prog.flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    // The kernel accepts WAIT_KILLABLE_RECV only together with a listener.
    else
        prog.flags &= ~static_cast<unsigned>(1u << 5);
    return prog;
}

// Everything that decides the compiled program, as text.
static std::string cache_key(const plan::Seccomp& s) {
    auto* v = seccomp_version();
    std::string k = "kapsel-seccomp-2 " + std::to_string(v->major) + "." +
                    std::to_string(v->minor) + "." + std::to_string(v->micro) + " " +
                    std::to_string(seccomp_arch_native()) + " ";
    k += std::to_string(static_cast<int>(s.default_action)) + " " + std::to_string(s.default_errno_ret) + " " +
         std::to_string(s.flags) + " |";
    for (auto a : s.architectures) k += std::to_string(a) + ",";
    for (auto& r : s.rules) {
        k += "|" + std::to_string(static_cast<int>(r.action)) + " " + std::to_string(r.errno_ret) + " ";
        for (auto& n : r.names) k += n + ",";
        for (auto& a : r.args)
            k += " " + std::to_string(a.index) + ":" + std::to_string(a.value) + ":" + std::to_string(a.value_two) + ":" +
                 std::to_string(static_cast<int>(a.op));
    }
    return k;
}

Result<SeccompProgram> compile_seccomp_cached(const plan::Seccomp& s, const std::string& cache_dir) {
    std::string key = cache_key(s);
    std::string path = cache_dir + "/" + sha256_hex(key);
    if (auto cached = fs::read_file(path); cached && cached->size() > sizeof(uint32_t) &&
                                           (cached->size() - sizeof(uint32_t)) % sizeof(sock_filter) == 0) {
        SeccompProgram prog;
        std::memcpy(&prog.flags, cached->data(), sizeof(uint32_t));
        prog.filter.resize((cached->size() - sizeof(uint32_t)) / sizeof(sock_filter));
        std::memcpy(prog.filter.data(), cached->data() + sizeof(uint32_t), prog.filter.size() * sizeof(sock_filter));
        prog.notify = s.uses_notify();
        return prog;
    }
    SeccompProgram prog = KAPSEL_TRY(compile_seccomp(s));
    std::string data(sizeof(uint32_t), '\0');
    uint32_t flags = prog.flags;
    std::memcpy(data.data(), &flags, sizeof flags);
    data.append(reinterpret_cast<const char*>(prog.filter.data()), prog.filter.size() * sizeof(sock_filter));
    // Best effort: a cache that cannot be written only costs time.
    if (fs::mkdir_p(cache_dir, 0700)) (void)fs::write_file_atomic(path, data, 0600);
    return prog;
}

Result<unique_fd> load_seccomp(const SeccompProgram& prog) {
    sock_fprog fprog{static_cast<unsigned short>(prog.filter.size()),
                     const_cast<sock_filter*>(prog.filter.data())};
    long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, prog.flags, &fprog);
    if (rc < 0) return sys_error("load seccomp filter");
    return unique_fd(prog.notify ? static_cast<int>(rc) : -1);
}

SeccompProgram procfs_filter() {
    // Hand-written: seven instructions, no libseccomp context to build for each process.
    // A compat architecture's calls (i386 on x86_64, x32's numbers with their own bit)
    // do not match and are allowed: the server answers the native layout only.
    SeccompProgram prog;
    prog.filter = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, seccomp_arch_native(), 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sysinfo, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sched_getaffinity, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
    };
    prog.flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    prog.notify = true;
    return prog;
}

bool wants_procfs_filter(const plan::Plan& p) {
    return p.procfs && p.procfs->notify && !(p.seccomp && p.seccomp->uses_notify());
}

Result<unique_fd> load_procfs_filter() {
    SeccompProgram prog = procfs_filter();
    auto listener = load_seccomp(prog);
    // WAIT_KILLABLE_RECV came with Linux 5.19; older kernels refuse the unknown flag.
    if (!listener && listener.error().code == EINVAL) {
        prog.flags &= ~static_cast<unsigned>(SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
        listener = load_seccomp(prog);
    }
    if (!listener) return std::move(listener).error().context("procfs seccomp filter");
    return listener;
}

std::vector<std::string> known_syscall_names() {
    std::vector<std::string> out;
    for (int nr = 0; nr < 1024; ++nr) {
        char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        if (!name) continue;
        out.emplace_back(name);
        free(name);
    }
    return out;
}

Status send_seccomp_listener(const plan::Seccomp& s, int listener_fd, int pid,
                             const std::string& state_json) {
    unique_fd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!sock) return sys_error("seccomp listener socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (s.listener_path.size() >= sizeof addr.sun_path)
        return make_error("linux.seccomp.listenerPath: path is too long for a unix socket");
    std::strcpy(addr.sun_path, s.listener_path.c_str());
    if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
        // runc's words: containerd and CRI-O users search for them.
        return sys_error(
            "failed to connect with seccomp agent specified in the seccomp profile: connect to " +
            s.listener_path);
    std::string msg =
        "{\"ociVersion\":\"" + std::string(oci::kSpecVersion) +
        "\",\"fds\":[\"seccompFd\"],\"pid\":" + std::to_string(pid) +
        (s.listener_metadata.empty() ? "" : ",\"metadata\":" + json_quote(s.listener_metadata)) +
        ",\"state\":" + state_json + "}";
    if (auto st = send_with_fd(sock.get(), msg, listener_fd); !st)
        return sys_error("send seccomp fd to " + s.listener_path, st.error().code);
    return {};
}

}  // namespace kapsel::linux
