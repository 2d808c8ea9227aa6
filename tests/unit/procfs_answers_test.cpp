// procfs/answers.cpp: what a container's /proc and /sys files say, from its limits.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "procfs/answers.hpp"

namespace kapsel::procfs {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const char* kHostMeminfo =
    "MemTotal:       24683748 kB\n"
    "MemFree:        21764612 kB\n"
    "MemAvailable:   24017424 kB\n"
    "Buffers:           18888 kB\n"
    "Cached:          2315672 kB\n"
    "SwapCached:            0 kB\n"
    "SwapTotal:       4194300 kB\n"
    "SwapFree:        4194300 kB\n"
    "Shmem:             10236 kB\n"
    "KReclaimable:     305772 kB\n"
    "Slab:             398412 kB\n"
    "SReclaimable:     305772 kB\n"
    "SUnreclaim:        92640 kB\n";

TEST(ProcfsCpus, QuotaAndCpusetBothLimitWhatIsSeen) {
    std::vector<unsigned> host = {0, 1, 2, 3, 4, 5, 6, 7};
    EXPECT_EQ(host, visible_cpus({}, host)) << "no limit: the host's";
    Limits one;
    one.cpu_quota = 1.0;
    EXPECT_THAT(visible_cpus(one, host), ElementsAre(0u));
    Limits half;
    half.cpu_quota = 0.5;
    EXPECT_THAT(visible_cpus(half, host), ElementsAre(0u)) << "never fewer than one";
    Limits one_and_a_half;
    one_and_a_half.cpu_quota = 1.5;
    EXPECT_THAT(visible_cpus(one_and_a_half, host), ElementsAre(0u, 1u)) << "ceil";
    Limits pinned;
    pinned.cpuset = {2, 5, 7};
    EXPECT_THAT(visible_cpus(pinned, host), ElementsAre(2u, 5u, 7u));
    pinned.cpu_quota = 2.0;
    EXPECT_THAT(visible_cpus(pinned, host), ElementsAre(2u, 5u)) << "min(cpuset, quota)";
}

TEST(ProcfsCpus, ListsInTheKernelsFormat) {
    EXPECT_EQ("0", cpu_list(1));
    EXPECT_EQ("0-3", cpu_list(4));
    EXPECT_THAT(*parse_cpu_list("0-2,5,7-8\n"), ElementsAre(0u, 1u, 2u, 5u, 7u, 8u));
    EXPECT_TRUE(parse_cpu_list("")->empty());
    EXPECT_FALSE(parse_cpu_list("3-1").has_value());
    EXPECT_FALSE(parse_cpu_list("0-99999999").has_value()) << "bounded";
    EXPECT_FALSE(parse_cpu_list("x").has_value());
}

TEST(ProcfsMeminfo, TotalIsTheLimitAndFreeWhatTheCgroupDoesNotUse) {
    Limits l;
    l.memory_limit = 256ull << 20;
    l.memory_usage = 56ull << 20;
    l.memory_cache = 16ull << 20;
    std::string m = meminfo(kHostMeminfo, l);
    EXPECT_THAT(m, HasSubstr("MemTotal:         262144 kB\n"));
    EXPECT_THAT(m, HasSubstr("MemFree:          204800 kB\n"));
    EXPECT_THAT(m, HasSubstr("MemAvailable:     221184 kB\n")) << "free + page cache";
    EXPECT_THAT(m, HasSubstr("Cached:            16384 kB\n"));
    EXPECT_THAT(m, HasSubstr("Shmem:                 0 kB\n")) << "the cgroup's, not the host's";
    EXPECT_THAT(m, HasSubstr("SwapTotal:       4194300 kB\n")) << "unlimited swap: the host's";
}

// procps and busybox `free` compute "used" as total - free - Cached - SReclaimable (and
// show Shmem): host figures there exceed a small limit and "used" wraps around.
TEST(ProcfsMeminfo, ShmemAndSlabAreTheCgroupsSoFreeAddsUp) {
    Limits l;
    l.memory_limit = 256ull << 20;
    l.memory_usage = 56ull << 20;
    l.memory_cache = 16ull << 20;
    l.memory_shmem = 4ull << 20;
    l.slab_reclaimable = 2ull << 20;
    l.slab_unreclaimable = 1ull << 20;
    std::string m = meminfo(kHostMeminfo, l);
    EXPECT_THAT(m, HasSubstr("Shmem:              4096 kB\n"));
    EXPECT_THAT(m, HasSubstr("SReclaimable:       2048 kB\n"));
    EXPECT_THAT(m, HasSubstr("SUnreclaim:         1024 kB\n"));
    EXPECT_THAT(m, HasSubstr("Slab:               3072 kB\n"));
}

TEST(ProcfsMeminfo, SwapIsTheSwapLimitAndNoLimitIsTheHostsFile) {
    Limits l;
    l.memory_limit = 1ull << 30;
    l.swap_limit = 512ull << 20;
    l.swap_usage = 12ull << 20;
    std::string m = meminfo(kHostMeminfo, l);
    EXPECT_THAT(m, HasSubstr("SwapTotal:        524288 kB\n"));
    EXPECT_THAT(m, HasSubstr("SwapFree:         512000 kB\n"));
    EXPECT_EQ(kHostMeminfo, meminfo(kHostMeminfo, {}));
    // A limit above the host's memory: the host's total.
    Limits huge;
    huge.memory_limit = 1ull << 50;
    EXPECT_THAT(meminfo(kHostMeminfo, huge), HasSubstr("MemTotal:       24683748 kB\n"));
}

TEST(ProcfsCpuinfo, OnlyTheVisibleCpusRenumberedFromZero) {
    std::string host;
    for (int i = 0; i < 4; ++i)
        host += "processor\t: " + std::to_string(i) + "\nmodel name\t: cpu" + std::to_string(i) +
                "\n\n";
    std::string c = cpuinfo(host, {1, 3});
    EXPECT_EQ("processor\t: 0\nmodel name\t: cpu1\n\nprocessor\t: 1\nmodel name\t: cpu3\n\n", c);
    EXPECT_EQ("garbage\n", cpuinfo("garbage\n", {0})) << "an unknown format passes as it is";
}

TEST(ProcfsStat, VisibleCpusRenumberedAndTheTotalTheirSum) {
    std::string host =
        "cpu  10 0 10 100 0 0 0 0 0 0\n"
        "cpu0 1 0 2 30 0 0 0 0 0 0\n"
        "cpu1 4 0 3 30 0 0 0 0 0 0\n"
        "cpu2 5 0 5 40 0 0 0 0 0 0\n"
        "intr 12345 1 2\n"
        "btime 1765000000\n";
    std::string s = stat(host, {1, 2});
    EXPECT_EQ(
        "cpu  9 0 8 70 0 0 0 0 0 0\n"
        "cpu0 4 0 3 30 0 0 0 0 0 0\n"
        "cpu1 5 0 5 40 0 0 0 0 0 0\n"
        "intr 12345 1 2\n"
        "btime 1765000000\n",
        s);
    EXPECT_THAT(stat("cpu99999999999999999999999 1\n", {0}), Not(HasSubstr("cpu0")))
        << "a number that does not fit is not a CPU";
}

TEST(ProcfsUptime, TheContainersAgeAndItsShareOfIdle) {
    EXPECT_EQ("12.50 12.50\n", uptime(12.5, 100, 8, 1)) << "a CPU's share of the host's idle";
    EXPECT_EQ("10.00 10.00\n", uptime(10, 800, 8, 1)) << "idle at most age x cpus";
    EXPECT_EQ("100.00 50.00\n", uptime(100, 200, 4, 1));
    EXPECT_EQ("0.00 0.00\n", uptime(-3, 5, 2, 2));
}

TEST(ProcfsSwaps, OneVirtualLineOnlyWhenTheContainerMaySwap) {
    EXPECT_EQ("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n", swaps({}));
    Limits l;
    l.swap_limit = 1ull << 20;
    l.swap_usage = 4096;
    EXPECT_THAT(swaps(l), HasSubstr("none\t\t\t\t\tvirtual\t\t1024\t\t4\t\t0\n"));
}

TEST(ProcfsSysinfo, MemorySwapAndUptimeAreTheContainersTheRestTheHosts) {
    struct sysinfo host {};
    host.uptime = 100000;
    host.loads[0] = 65536;
    host.totalram = 24ull << 30;
    host.freeram = 20ull << 30;
    host.bufferram = 1 << 20;
    host.totalswap = 4ull << 30;
    host.freeswap = 4ull << 30;
    host.procs = 300;
    host.mem_unit = 1;
    Limits l;
    l.memory_limit = 256ull << 20;
    l.memory_usage = 56ull << 20;
    l.swap_limit = 64ull << 20;
    l.swap_usage = 4ull << 20;
    l.memory_shmem = 3ull << 20;
    host.sharedram = 10ull << 20;
    struct sysinfo c = sysinfo_for(host, l, 42.7);
    EXPECT_EQ(42, c.uptime);
    EXPECT_EQ(3ull << 20, c.sharedram) << "the cgroup's shared memory, not the host's";
    EXPECT_EQ(256ull << 20, c.totalram);
    EXPECT_EQ(200ull << 20, c.freeram);
    EXPECT_EQ(0u, c.bufferram);
    EXPECT_EQ(64ull << 20, c.totalswap);
    EXPECT_EQ(60ull << 20, c.freeswap);
    EXPECT_EQ(65536u, c.loads[0]) << "the host's load";
    EXPECT_EQ(300, c.procs);
    // No limit: the host's memory; a mem_unit of 4096 divides the limit too.
    EXPECT_EQ(host.totalram, sysinfo_for(host, {}, 1).totalram);
    host.mem_unit = 4096;
    host.totalram = (24ull << 30) / 4096;
    EXPECT_EQ((256ull << 20) / 4096, sysinfo_for(host, l, 1).totalram);
}

}  // namespace
}  // namespace kapsel::procfs
