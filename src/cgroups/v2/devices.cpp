// cgroup v2 devices: there are no devices.allow files; the rules are compiled
// into a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the container's cgroup.
#include "cgroups/v2/devices.hpp"

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace kapsel::cgroups::v2 {

Status devices(const oci::Resources& r, size_t h, PlanMode mode, ResourcePlan& plan) {
    auto rules = device_rules(r.devices);
    for (auto& d : rules) {
        if (d.type != 'a' && d.type != 'c' && d.type != 'b')
            return make_error("linux.resources.devices: unknown device type \"" + std::string(1, d.type) + "\"");
        if (d.access.find_first_not_of("rwm") != std::string::npos)
            return make_error("linux.resources.devices: access \"" + d.access + "\" is not made of r, w and m");
    }
    if (mode == PlanMode::create) {
        auto defaults = default_device_rules();
        rules.insert(rules.end(), defaults.begin(), defaults.end());
    }
    plan.device_hierarchy = h;
    plan.device_rules = rules;
    return {};
}

namespace {

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst;
    i.src_reg = src;
    i.off = off;
    i.imm = imm;
    return i;
}

// Registers: r2 = device type, r3 = requested access, r4 = major, r5 = minor.
constexpr uint8_t kType = 2, kAccess = 3, kMajor = 4, kMinor = 5, kScratch = 1;

}  // namespace

std::vector<bpf_insn> device_program(const std::vector<DeviceRule>& rules) {
    // The kernel's semantics for v1 lists, reproduced: later rules win, and a
    // rule for all devices ("a", or c/b with no numbers and full access) resets
    // everything before it. So: find the last reset, use it as the default, then
    // test the rules after it from last to first; the first match decides.
    size_t start = 0;
    bool default_allow = false;
    for (size_t i = 0; i < rules.size(); ++i) {
        if (rules[i].type == 'a' && rules[i].major < 0 && rules[i].minor < 0) {
            start = i + 1;
            default_allow = rules[i].allow;
        }
    }
    std::vector<bpf_insn> p;
    // ctx: struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
    p.push_back(insn(BPF_LDX | BPF_W | BPF_MEM, kType, 1, 0, 0));
    p.push_back(insn(BPF_ALU | BPF_AND | BPF_K, kType, 0, 0, 0xffff));
    p.push_back(insn(BPF_LDX | BPF_W | BPF_MEM, kAccess, 1, 0, 0));
    p.push_back(insn(BPF_ALU | BPF_RSH | BPF_K, kAccess, 0, 0, 16));
    p.push_back(insn(BPF_LDX | BPF_W | BPF_MEM, kMajor, 1, 4, 0));
    p.push_back(insn(BPF_LDX | BPF_W | BPF_MEM, kMinor, 1, 8, 0));
    for (size_t i = rules.size(); i-- > start;) {
        const DeviceRule& r = rules[i];
        std::vector<bpf_insn> block;
        // Each test jumps past the rest of this block when it does not match; the
        // offsets are filled in once the block's length is known.
        std::vector<size_t> jumps;
        if (r.type == 'c' || r.type == 'b') {
            jumps.push_back(block.size());
            block.push_back(insn(BPF_JMP | BPF_JNE | BPF_K, kType, 0, 0,
                                 r.type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK));
        }
        int acc = 0;
        if (r.access.find('m') != std::string::npos) acc |= BPF_DEVCG_ACC_MKNOD;
        if (r.access.find('r') != std::string::npos) acc |= BPF_DEVCG_ACC_READ;
        if (r.access.find('w') != std::string::npos) acc |= BPF_DEVCG_ACC_WRITE;
        if (acc != (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)) {
            // Matches when every requested access is one the rule names.
            block.push_back(insn(BPF_ALU | BPF_MOV | BPF_X, kScratch, kAccess, 0, 0));
            block.push_back(insn(BPF_ALU | BPF_AND | BPF_K, kScratch, 0, 0, ~acc));
            jumps.push_back(block.size());
            block.push_back(insn(BPF_JMP | BPF_JNE | BPF_K, kScratch, 0, 0, 0));
        }
        if (r.major >= 0) {
            jumps.push_back(block.size());
            block.push_back(insn(BPF_JMP | BPF_JNE | BPF_K, kMajor, 0, 0, static_cast<int32_t>(r.major)));
        }
        if (r.minor >= 0) {
            jumps.push_back(block.size());
            block.push_back(insn(BPF_JMP | BPF_JNE | BPF_K, kMinor, 0, 0, static_cast<int32_t>(r.minor)));
        }
        block.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, r.allow ? 1 : 0));
        block.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
        for (size_t j : jumps) block[j].off = static_cast<int16_t>(block.size() - j - 1);
        p.insert(p.end(), block.begin(), block.end());
    }
    p.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, default_allow ? 1 : 0));
    p.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    return p;
}

static long bpf(int cmd, bpf_attr& attr) { return ::syscall(SYS_bpf, cmd, &attr, sizeof attr); }

Status attach_device_program(int cgroup_fd, const std::vector<DeviceRule>& rules) {
    std::vector<bpf_insn> prog = device_program(rules);
    char log[4096] = {};
    bpf_attr load{};
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = reinterpret_cast<uint64_t>(prog.data());
    load.insn_cnt = static_cast<uint32_t>(prog.size());
    static const char license[] = "Apache";
    load.license = reinterpret_cast<uint64_t>(license);
    load.log_buf = reinterpret_cast<uint64_t>(log);
    load.log_size = sizeof log;
    load.log_level = 1;
    int fd = static_cast<int>(bpf(BPF_PROG_LOAD, load));
    if (fd < 0) {
        // Retry without the log: some kernels refuse a log for a valid program.
        load.log_buf = 0;
        load.log_size = 0;
        load.log_level = 0;
        fd = static_cast<int>(bpf(BPF_PROG_LOAD, load));
        if (fd < 0) return sys_error(std::string("load the device cgroup program") + (log[0] ? ": " + std::string(log) : ""));
    }
    unique_fd prog_fd(fd);

    // Programs attached before (by an earlier create or update) are replaced.
    uint32_t ids[64] = {};
    bpf_attr query{};
    query.query.target_fd = static_cast<uint32_t>(cgroup_fd);
    query.query.attach_type = BPF_CGROUP_DEVICE;
    query.query.prog_ids = reinterpret_cast<uint64_t>(ids);
    query.query.prog_cnt = 64;
    uint32_t old_count = bpf(BPF_PROG_QUERY, query) == 0 ? query.query.prog_cnt : 0;

    bpf_attr attach{};
    attach.target_fd = static_cast<uint32_t>(cgroup_fd);
    attach.attach_bpf_fd = static_cast<uint32_t>(prog_fd.get());
    attach.attach_type = BPF_CGROUP_DEVICE;
    attach.attach_flags = BPF_F_ALLOW_MULTI;
    if (bpf(BPF_PROG_ATTACH, attach) < 0) return sys_error("attach the device cgroup program");

    for (uint32_t i = 0; i < old_count && i < 64; ++i) {
        bpf_attr get{};
        get.prog_id = ids[i];
        int old = static_cast<int>(bpf(BPF_PROG_GET_FD_BY_ID, get));
        if (old < 0) continue;
        unique_fd old_fd(old);
        bpf_attr detach{};
        detach.target_fd = static_cast<uint32_t>(cgroup_fd);
        detach.attach_bpf_fd = static_cast<uint32_t>(old);
        detach.attach_type = BPF_CGROUP_DEVICE;
        (void)bpf(BPF_PROG_DETACH, detach);
    }
    return {};
}

}  // namespace kapsel::cgroups::v2
