// linux.resources -> cgroup writes, for v1, v2 and a hybrid host; and the v2
// device program, run through a small interpreter.
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include "cgroups/resources.hpp"
#include "cgroups/v2/devices.hpp"

namespace kapsel::cgroups {
namespace {

Layout v1_layout() {
    Layout l;
    for (const char* c : {"memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "devices", "freezer"})
        l.hierarchies.push_back({std::string("/sys/fs/cgroup/") + c, {c}, false, c});
    // Hybrid: cgroup2 offers what v1 does not bind (hugetlb here).
    l.hierarchies.push_back({"/sys/fs/cgroup/unified", {"hugetlb"}, true, "unified"});
    l.own_paths.resize(l.hierarchies.size(), "/");
    return l;
}

Layout v2_layout() {
    Layout l;
    l.unified = true;
    l.hierarchies.push_back({"/sys/fs/cgroup", {"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma"}, true, "unified"});
    l.own_paths = {"/"};
    return l;
}

// "hierarchy-name:file=value" for each write, to compare as text.
std::vector<std::string> writes(const ResourcePlan& p, const Layout& l) {
    std::vector<std::string> out;
    for (auto& w : p.writes)
        out.push_back(l.hierarchies[w.hierarchy].name + ":" + w.file + "=" + w.value +
                      (w.again_later ? " (EINVAL: again later)" : ""));
    return out;
}

oci::Resources parse(const std::string& json) {
    auto r = oci::parse_resources(json, "test");
    EXPECT_TRUE(r) << r.error().message;
    return *r;
}

TEST(CgroupPlan, MemoryOnV1LiftsMemswBeforeTheLimit) {
    auto l = v1_layout();
    auto p = plan_resources(parse(R"({"memory": {"limit": 100, "swap": 200, "reservation": 50}})"), l, PlanMode::update);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ((std::vector<std::string>{"memory:memory.memsw.limit_in_bytes=-1", "memory:memory.limit_in_bytes=100",
                                        "memory:memory.memsw.limit_in_bytes=200", "memory:memory.soft_limit_in_bytes=50"}),
              writes(*p, l));
}

TEST(CgroupPlan, MemoryOnV2LimitsSwapAlone) {
    auto l = v2_layout();
    auto p = plan_resources(parse(R"({"memory": {"limit": 100, "swap": 250, "swappiness": 10}})"), l, PlanMode::update);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ((std::vector<std::string>{"unified:memory.max=100", "unified:memory.swap.max=150"}), writes(*p, l));
    ASSERT_EQ(1u, p->warnings.size()) << "swappiness has no v2 file: warned, not silently dropped";
    EXPECT_NE(std::string::npos, p->warnings[0].find("swappiness"));
    EXPECT_EQ(std::vector<std::string>{"memory"}, p->v2_controllers);
}

TEST(CgroupPlan, CpuOnBothDrivers) {
    auto r = parse(R"({"cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1"}})");
    auto l1 = v1_layout();
    auto p1 = plan_resources(r, l1, PlanMode::update);
    ASSERT_TRUE(p1);
    EXPECT_EQ((std::vector<std::string>{"cpu:cpu.shares=1024",
                                        "cpu:cpu.cfs_period_us=100000 (EINVAL: again later)",
                                        "cpu:cpu.cfs_quota_us=50000",
                                        "cpu:cpu.cfs_period_us=100000", "cpuset:cpuset.cpus=0-1"}),
              writes(*p1, l1));
    auto l2 = v2_layout();
    auto p2 = plan_resources(r, l2, PlanMode::update);
    ASSERT_TRUE(p2);
    EXPECT_EQ((std::vector<std::string>{"unified:cpu.weight=39", "unified:cpu.max=50000 100000", "unified:cpuset.cpus=0-1"}),
              writes(*p2, l2));
}

// Inside a parent with its own quota, v1 refuses a period write whose old quota
// would then exceed the parent's ratio; the quota first would pass, and the
// other way round. The plan tries the period, then the quota and the period again.
TEST(CgroupPlan, V1PeriodAndQuotaPassWhicheverWayTheyMoveUnderAParentQuota) {
    auto l = v1_layout();
    auto both =
        plan_resources(parse(R"({"cpu": {"quota": 20000, "period": 50000}})"), l, PlanMode::update);
    ASSERT_TRUE(both);
    EXPECT_EQ(
        (std::vector<std::string>{"cpu:cpu.cfs_period_us=50000 (EINVAL: again later)",
                                  "cpu:cpu.cfs_quota_us=20000", "cpu:cpu.cfs_period_us=50000"}),
        writes(*both, l));
    auto period = plan_resources(parse(R"({"cpu": {"period": 50000}})"), l, PlanMode::update);
    ASSERT_TRUE(period);
    EXPECT_EQ(std::vector<std::string>{"cpu:cpu.cfs_period_us=50000"}, writes(*period, l))
        << "a period alone has no later write to wait for: its refusal is the error";
}

// v2 writes quota and period at once (and clamps a child to its parent rather
// than refusing it): one cpu.max write, no order to get wrong.
TEST(CgroupPlan, V2PeriodAndQuotaAreOneWrite) {
    auto l = v2_layout();
    auto p =
        plan_resources(parse(R"({"cpu": {"quota": 20000, "period": 50000}})"), l, PlanMode::update);
    ASSERT_TRUE(p);
    EXPECT_EQ(std::vector<std::string>{"unified:cpu.max=20000 50000"}, writes(*p, l));
}

TEST(CgroupUpdate, LiftingTheMemoryLimitLiftsSwapTooAndANewLimitKeepsTheOldSwap) {
    auto before = parse(R"({"memory": {"limit": 67108864, "swap": 100663296}})");
    auto lifted = parse(R"({"memory": {"limit": -1}})");
    complete_update(lifted, before);
    EXPECT_EQ(-1, lifted.memory->swap.value_or(0))
        << "runc: memory -1 without swap means both unlimited";
    auto raised = parse(R"({"memory": {"limit": 83886080}})");
    complete_update(raised, before);
    EXPECT_EQ(100663296, raised.memory->swap.value_or(0));
    auto explicit_swap = parse(R"({"memory": {"limit": -1, "swap": 134217728}})");
    complete_update(explicit_swap, before);
    EXPECT_EQ(134217728, explicit_swap.memory->swap.value_or(0)) << "a given swap stays";
    auto no_swap_before = parse(R"({"memory": {"limit": -1}})");
    complete_update(no_swap_before, parse(R"({"memory": {"limit": 67108864}})"));
    EXPECT_FALSE(no_swap_before.memory->swap) << "no swap limit to lift: memsw is not touched";

    // Planned: v1 lifts memsw before the limit and leaves it lifted; v2 lifts both files.
    auto l1 = v1_layout();
    auto p1 = plan_resources(lifted, l1, PlanMode::update);
    ASSERT_TRUE(p1) << p1.error().message;
    EXPECT_EQ((std::vector<std::string>{"memory:memory.memsw.limit_in_bytes=-1",
                                        "memory:memory.limit_in_bytes=-1"}),
              writes(*p1, l1));
    auto l2 = v2_layout();
    auto p2 = plan_resources(lifted, l2, PlanMode::update);
    ASSERT_TRUE(p2) << p2.error().message;
    EXPECT_EQ((std::vector<std::string>{"unified:memory.max=max", "unified:memory.swap.max=max"}),
              writes(*p2, l2));
}

TEST(CgroupPlan, WeightConversionsMatchRunc) {
    EXPECT_EQ(1u, v2::cpu_weight_from_shares(2));
    EXPECT_EQ(39u, v2::cpu_weight_from_shares(1024));
    EXPECT_EQ(10000u, v2::cpu_weight_from_shares(262144));
    EXPECT_EQ(1u, v2::io_weight_from_blkio(10));
    EXPECT_EQ(10000u, v2::io_weight_from_blkio(1000));
}

TEST(CgroupPlan, APeriodAloneKeepsTheCurrentQuotaOnV2) {
    auto l = v2_layout();
    auto p = plan_resources(parse(R"({"cpu": {"period": 200000}})"), l, PlanMode::update);
    ASSERT_TRUE(p);
    EXPECT_EQ(std::vector<std::string>{"unified:cpu.max=$keep 200000"}, writes(*p, l));
}

TEST(CgroupPlan, PidsZeroMeansNoLimit) {
    auto l = v1_layout();
    EXPECT_EQ(std::vector<std::string>{"pids:pids.max=max"},
              writes(*plan_resources(parse(R"({"pids": {"limit": 0}})"), l, PlanMode::update), l));
    EXPECT_EQ(std::vector<std::string>{"pids:pids.max=42"},
              writes(*plan_resources(parse(R"({"pids": {"limit": 42}})"), l, PlanMode::update), l));
}

TEST(CgroupPlan, BlockIoOnV2) {
    auto l = v2_layout();
    auto p = plan_resources(
        parse(R"({"blockIO": {"weight": 500, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]}})"), l,
        PlanMode::update);
    ASSERT_TRUE(p);
    EXPECT_EQ((std::vector<std::string>{"unified:io.weight=default 4950", "unified:io.max=8:0 rbps=1048576"}), writes(*p, l));
}

TEST(CgroupPlan, HugetlbGoesToCgroup2OnAHybridHost) {
    auto l = v1_layout();
    auto p = plan_resources(parse(R"({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]})"), l, PlanMode::update);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(std::vector<std::string>{"unified:hugetlb.2MB.max=4194304"}, writes(*p, l));
    EXPECT_EQ(std::vector<std::string>{"hugetlb"}, p->v2_controllers);
    auto bad = plan_resources(parse(R"({"hugepageLimits": [{"pageSize": "2M", "limit": 1}]})"), l, PlanMode::update);
    ASSERT_FALSE(bad);
    EXPECT_NE(std::string::npos, bad.error().message.find("2M"));
}

TEST(CgroupPlan, AControllerTheHostLacksIsAnError) {
    auto l = v1_layout();
    auto p = plan_resources(parse(R"({"network": {"classID": 5}})"), l, PlanMode::update);
    ASSERT_FALSE(p);
    EXPECT_NE(std::string::npos, p.error().message.find("net_cls"));
    auto u = plan_resources(parse(R"({"unified": {"memory.high": "1G"}})"), l, PlanMode::update);
    ASSERT_FALSE(u);
    EXPECT_NE(std::string::npos, u.error().message.find("cgroup v2"));
}

TEST(CgroupPlan, UnifiedKeysAreFilesNotPaths) {
    auto l = v2_layout();
    auto p = plan_resources(parse(R"({"unified": {"memory.high": "1G"}})"), l, PlanMode::update);
    ASSERT_TRUE(p);
    EXPECT_EQ(std::vector<std::string>{"unified:memory.high=1G"}, writes(*p, l));
    EXPECT_FALSE(plan_resources(parse(R"({"unified": {"../../etc/passwd": "x"}})"), l, PlanMode::update));
    EXPECT_FALSE(plan_resources(parse(R"({"unified": {"cgroup.procs": "1"}})"), l, PlanMode::update));
}

TEST(CgroupPlan, V1DevicesKeepTheConfigOrderThenTheDefaults) {
    auto l = v1_layout();
    auto p = plan_resources(
        parse(R"({"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"}]})"),
        l, PlanMode::create);
    ASSERT_TRUE(p);
    auto w = writes(*p, l);
    ASSERT_GE(w.size(), 3u);
    EXPECT_EQ("devices:devices.deny=a", w[0]);
    EXPECT_EQ("devices:devices.allow=c 10:229 rwm", w[1]);
    EXPECT_EQ("devices:devices.allow=c *:* m", w[2]);
}

// A tiny interpreter for exactly the instructions device_program emits.
int run_program(const std::vector<bpf_insn>& prog, int type, int access, uint32_t major, uint32_t minor) {
    uint64_t r[11] = {};
    uint32_t ctx[3] = {static_cast<uint32_t>((access << 16) | type), major, minor};
    for (size_t pc = 0; pc < prog.size(); ++pc) {
        const bpf_insn& i = prog[pc];
        uint8_t cls = BPF_CLASS(i.code);
        if (cls == BPF_LDX) {
            r[i.dst_reg] = ctx[i.off / 4];
        } else if (cls == BPF_ALU || cls == BPF_ALU64) {
            uint64_t src = BPF_SRC(i.code) == BPF_X ? r[i.src_reg] : static_cast<uint64_t>(static_cast<int64_t>(i.imm));
            switch (BPF_OP(i.code)) {
                case BPF_MOV: r[i.dst_reg] = src; break;
                case BPF_AND: r[i.dst_reg] &= src; break;
                case BPF_RSH: r[i.dst_reg] >>= src; break;
                default: ADD_FAILURE() << "unexpected ALU op";
            }
            if (cls == BPF_ALU) r[i.dst_reg] &= 0xffffffff;
        } else if (cls == BPF_JMP) {
            if (BPF_OP(i.code) == BPF_EXIT) return static_cast<int>(r[0]);
            if (BPF_OP(i.code) == BPF_JNE && (r[i.dst_reg] & 0xffffffff) != static_cast<uint32_t>(i.imm)) pc += i.off;
        } else {
            ADD_FAILURE() << "unexpected instruction class";
        }
    }
    ADD_FAILURE() << "fell off the end of the program";
    return -1;
}

constexpr int kChar = BPF_DEVCG_DEV_CHAR, kBlock = BPF_DEVCG_DEV_BLOCK;
constexpr int kRead = BPF_DEVCG_ACC_READ, kWrite = BPF_DEVCG_ACC_WRITE, kMknod = BPF_DEVCG_ACC_MKNOD;

TEST(DeviceProgram, DenyAllThenAllowOneDevice) {
    auto prog = v2::device_program({{false, 'a', -1, -1, "rwm"}, {true, 'c', 10, 200, "rw"}});
    EXPECT_EQ(1, run_program(prog, kChar, kRead, 10, 200));
    EXPECT_EQ(1, run_program(prog, kChar, kRead | kWrite, 10, 200));
    EXPECT_EQ(0, run_program(prog, kChar, kMknod, 10, 200)) << "m was not granted";
    EXPECT_EQ(0, run_program(prog, kChar, kRead, 10, 201));
    EXPECT_EQ(0, run_program(prog, kBlock, kRead, 10, 200));
    EXPECT_EQ(0, run_program(prog, kChar, kRead, 1, 3));
}

TEST(DeviceProgram, LaterRulesWinAndWildcardsMatchAnyNumber) {
    auto prog = v2::device_program({{false, 'a', -1, -1, "rwm"},
                                    {true, 'c', 136, -1, "rwm"},
                                    {false, 'c', 136, 5, "rwm"},
                                    {true, 'b', -1, -1, "m"}});
    EXPECT_EQ(1, run_program(prog, kChar, kRead, 136, 0));
    EXPECT_EQ(0, run_program(prog, kChar, kRead, 136, 5)) << "the later deny wins";
    EXPECT_EQ(1, run_program(prog, kBlock, kMknod, 8, 0));
    EXPECT_EQ(0, run_program(prog, kBlock, kRead, 8, 0));
}

TEST(DeviceProgram, ALaterAllowAllResetsEverything) {
    auto prog = v2::device_program({{false, 'c', 1, 3, "rwm"}, {true, 'a', -1, -1, "rwm"}});
    EXPECT_EQ(1, run_program(prog, kChar, kRead, 1, 3));
    auto none = v2::device_program({});
    EXPECT_EQ(0, run_program(none, kChar, kRead, 1, 3)) << "no rules: deny";
}

}  // namespace
}  // namespace kapsel::cgroups
