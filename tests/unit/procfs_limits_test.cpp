// procfs/limits.cpp: a container's limits from its cgroup files. The parsers on their
// own, then whole v1, v2 and hybrid hierarchies made of plain files in a temporary
// directory (the reading does not care that they are not cgroup file systems).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "procfs/limits.hpp"
#include "test_support.hpp"

namespace kapsel::procfs {
namespace {

using ::kapsel::testing::error_of;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace fsys = std::filesystem;

TEST(ProcfsLimitsParse, ByteLimitsMaxAndV1sHugeValueAreNoLimit) {
    EXPECT_EQ(268435456u, parse_byte_limit("268435456\n"));
    EXPECT_EQ(std::nullopt, parse_byte_limit("max\n"));
    EXPECT_EQ(std::nullopt, parse_byte_limit("9223372036854771712\n")) << "4 KiB pages";
    EXPECT_EQ(std::nullopt, parse_byte_limit("9223372036854710272\n")) << "64 KiB pages";
    EXPECT_EQ(0u, parse_byte_limit("0"));
}

TEST(ProcfsLimitsParse, BadTextIsNoLimitNeverAnException) {
    for (const char* bad :
         {"", "\n", "-1", "12abc", "99999999999999999999999", "1e9", "MAX", "256m", "1 2"})
        EXPECT_EQ(std::nullopt, parse_byte_limit(bad)) << bad;
    EXPECT_EQ(std::nullopt, parse_counter("junk"));
    EXPECT_EQ(std::nullopt, parse_cpu_max("junk"));
    EXPECT_EQ(std::nullopt, parse_cpu_max("100000 0")) << "a zero period divides nothing";
    EXPECT_EQ(std::nullopt, parse_cpu_max("50000 100000 7"));
    EXPECT_EQ(std::nullopt, parse_cfs_quota("x", "100000"));
    EXPECT_EQ(std::nullopt, parse_cfs_quota("50000", "0"));
}

TEST(ProcfsLimitsParse, CpuMaxIsQuotaOverPeriod) {
    EXPECT_EQ(1.0, parse_cpu_max("100000 100000\n"));
    EXPECT_EQ(1.5, parse_cpu_max("150000 100000\n"));
    EXPECT_EQ(std::nullopt, parse_cpu_max("max 100000\n"));
}

TEST(ProcfsLimitsParse, V1CfsQuotaMinusOneIsNoLimit) {
    EXPECT_EQ(0.5, parse_cfs_quota("50000\n", "100000\n"));
    EXPECT_EQ(std::nullopt, parse_cfs_quota("-1\n", "100000\n"));
}

TEST(ProcfsLimitsParse, MemoryStatValuesByKey) {
    const char* stat = "anon 100\nfile 4096\nfile_mapped 12\n";
    EXPECT_EQ(4096u, parse_stat_value(stat, "file"));
    EXPECT_EQ(12u, parse_stat_value(stat, "file_mapped"));
    EXPECT_EQ(std::nullopt, parse_stat_value(stat, "fil"));
    EXPECT_EQ(std::nullopt, parse_stat_value("file lots\n", "file"));
}

TEST(ProcfsLimitsParse, ProcCgroupLines) {
    auto lines = parse_proc_cgroup(
        "12:cpu,cpuacct:/kapsel/c1\n4:memory:/kapsel/c1\n1:name=systemd:/a:b\n0::/x\njunk\n");
    ASSERT_EQ(4u, lines.size());
    EXPECT_THAT(lines[0].controllers, ElementsAre("cpu", "cpuacct"));
    EXPECT_EQ("/kapsel/c1", lines[0].path);
    EXPECT_EQ("/a:b", lines[2].path) << "a path may hold a colon";
    EXPECT_TRUE(lines[3].controllers.empty());
    EXPECT_EQ("/x", lines[3].path);
}

TEST(ProcfsLimitsParse, CgroupPathsThatLeaveTheHierarchyAreRefused) {
    EXPECT_EQ("kapsel/c1", *relative_cgroup_path("/kapsel/c1"));
    EXPECT_EQ("", *relative_cgroup_path("/"));
    // What a cgroup namespace shows for a cgroup outside it, and made-up variants.
    for (const char* bad : {"/../../c2", "/a/../../b", "/a/./b", "kapsel/c1", "", "/.."})
        EXPECT_THAT(error_of(relative_cgroup_path(bad)), HasSubstr("cgroup path")) << bad;
    EXPECT_THAT(error_of(relative_cgroup_path("/" + std::string(5000, 'a'))),
                HasSubstr("too long"));
    EXPECT_THAT(error_of(relative_cgroup_path(std::string("/a\0b", 4))), HasSubstr("nul"));
}

// A fake host: hierarchies as directories under a temporary directory.
class ProcfsLimitsTree : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/kapsel-limits-XXXXXX";
        ASSERT_NE(nullptr, ::mkdtemp(tmpl));
        root_ = tmpl;
    }
    void TearDown() override { fsys::remove_all(root_); }
    // Writes mount/cgroup/file (making the directories).
    void put(const std::string& mount, const std::string& cgroup, const std::string& file,
             const std::string& text) {
        fsys::path dir = fsys::path(root_) / mount / cgroup;
        fsys::create_directories(dir);
        std::ofstream(dir / file) << text;
    }
    cgroups::Hierarchy v1(const std::string& mount, std::vector<std::string> controllers) {
        return {.mount_point = root_ + "/" + mount, .controllers = controllers};
    }
    cgroups::Hierarchy v2(const std::string& mount, std::vector<std::string> controllers) {
        fsys::create_directories(fsys::path(root_) / mount);
        return {.mount_point = root_ + "/" + mount, .controllers = controllers, .v2 = true};
    }
    std::string root_;
};

TEST_F(ProcfsLimitsTree, V2LimitsAreTheLowestUpToTheRoot) {
    cgroups::Layout layout{.unified = true, .hierarchies = {v2("cg", {"cpu", "cpuset", "memory"})}};
    put("cg", "", "cpuset.cpus.effective", "0-7\n");
    put("cg", "pod", "memory.max", "134217728\n");  // the parent's 128 MiB binds the child
    put("cg", "pod", "cpu.max", "50000 100000\n");
    put("cg", "pod/c1", "memory.max", "268435456\n");
    put("cg", "pod/c1", "memory.current", "1048576\n");
    put("cg", "pod/c1", "memory.stat", "anon 1\nfile 4096\n");
    put("cg", "pod/c1", "memory.swap.max", "max\n");
    put("cg", "pod/c1", "memory.swap.current", "0\n");
    put("cg", "pod/c1", "cpu.max", "200000 100000\n");
    put("cg", "pod/c1", "cpuset.cpus.effective", "2-3\n");
    auto l = limits_in(layout, "0::/pod/c1\n");
    ASSERT_TRUE(l) << l.error().message;
    EXPECT_EQ(134217728u, l->memory_limit);
    EXPECT_EQ(1048576u, l->memory_usage);
    EXPECT_EQ(4096u, l->memory_cache);
    EXPECT_EQ(std::nullopt, l->swap_limit);
    EXPECT_EQ(0.5, l->cpu_quota);
    EXPECT_THAT(l->cpuset, ElementsAre(2u, 3u));
}

TEST_F(ProcfsLimitsTree, V2WithoutLimitsIsNoLimitAndTheRootsCpuset) {
    cgroups::Layout layout{.unified = true, .hierarchies = {v2("cg", {"cpu", "cpuset", "memory"})}};
    put("cg", "", "cpuset.cpus.effective", "0-1\n");
    put("cg", "c1", "memory.max", "max\n");
    put("cg", "c1", "cpu.max", "max 100000\n");
    auto l = limits_in(layout, "0::/c1\n");
    ASSERT_TRUE(l) << l.error().message;
    EXPECT_EQ(std::nullopt, l->memory_limit);
    EXPECT_EQ(std::nullopt, l->cpu_quota);
    EXPECT_THAT(l->cpuset, ElementsAre(0u, 1u)) << "the nearest cgroup with a cpuset";
}

TEST_F(ProcfsLimitsTree, HybridReadsTheV1Controllers) {
    // This project's CI machines: v1 controllers, and a cgroup2 mount without them.
    cgroups::Layout layout{.hierarchies = {v1("memory", {"memory"}),
                                           v1("cpu,cpuacct", {"cpu", "cpuacct"}),
                                           v1("cpuset", {"cpuset"}), v2("unified", {})}};
    put("memory", "", "memory.limit_in_bytes", "9223372036854771712\n");
    put("memory", "kapsel/c1", "memory.limit_in_bytes", "268435456\n");
    put("memory", "kapsel/c1", "memory.memsw.limit_in_bytes", "402653184\n");
    put("memory", "kapsel/c1", "memory.usage_in_bytes", "2097152\n");
    put("memory", "kapsel/c1", "memory.memsw.usage_in_bytes", "3145728\n");
    put("memory", "kapsel/c1", "memory.stat", "cache 100\ntotal_cache 8192\n");
    put("cpu,cpuacct", "", "cpu.cfs_quota_us", "-1\n");
    put("cpu,cpuacct", "", "cpu.cfs_period_us", "100000\n");
    put("cpu,cpuacct", "kapsel/c1", "cpu.cfs_quota_us", "100000\n");
    put("cpu,cpuacct", "kapsel/c1", "cpu.cfs_period_us", "100000\n");
    put("cpuset", "kapsel/c1", "cpuset.cpus", "1\n");
    auto l = limits_in(layout,
                       "12:cpuset:/kapsel/c1\n7:cpu,cpuacct:/kapsel/c1\n4:memory:/kapsel/c1\n"
                       "1:name=systemd:/user.slice\n0::/user.slice\n");
    ASSERT_TRUE(l) << l.error().message;
    EXPECT_EQ(268435456u, l->memory_limit);
    EXPECT_EQ(2097152u, l->memory_usage);
    EXPECT_EQ(8192u, l->memory_cache) << "total_cache before cache";
    EXPECT_EQ(134217728u, l->swap_limit) << "memsw less the memory limit";
    EXPECT_EQ(1048576u, l->swap_usage);
    EXPECT_EQ(1.0, l->cpu_quota);
    EXPECT_THAT(l->cpuset, ElementsAre(1u));
}

TEST_F(ProcfsLimitsTree, AMissingControllerOrFileIsNoLimit) {
    cgroups::Layout layout{.hierarchies = {v1("memory", {"memory"})}};
    put("memory", "c1", "memory.stat", "junk\n");
    auto l = limits_in(layout, "4:memory:/c1\n0::/\n");
    ASSERT_TRUE(l) << l.error().message;
    EXPECT_EQ(std::nullopt, l->memory_limit);
    EXPECT_EQ(0u, l->memory_usage);
    EXPECT_EQ(std::nullopt, l->cpu_quota) << "no cpu hierarchy";
    EXPECT_TRUE(l->cpuset.empty());
}

TEST_F(ProcfsLimitsTree, OversizedOrUnparsableFilesAreNoLimit) {
    cgroups::Layout layout{.unified = true, .hierarchies = {v2("cg", {"memory", "cpuset"})}};
    put("cg", "c1", "memory.max", std::string(100000, '1'));
    put("cg", "c1", "cpuset.cpus.effective", "0-99999\n");
    auto l = limits_in(layout, "0::/c1\n");
    ASSERT_TRUE(l) << l.error().message;
    EXPECT_EQ(std::nullopt, l->memory_limit);
    EXPECT_TRUE(l->cpuset.empty());
}

TEST_F(ProcfsLimitsTree, APathOutOfTheHierarchyIsRefused) {
    cgroups::Layout layout{.unified = true, .hierarchies = {v2("cg", {"memory"})}};
    put("outside", "secret", "memory.max", "1\n");
    EXPECT_THAT(error_of(limits_in(layout, "0::/../outside/secret\n")),
                HasSubstr("leaves its hierarchy"));
    // A symlink below the mount point is not followed out of it either.
    fsys::create_directory_symlink(root_ + "/outside/secret", root_ + "/cg/link");
    EXPECT_THAT(error_of(limits_in(layout, "0::/link\n")), HasSubstr("open link"));
}

TEST_F(ProcfsLimitsTree, AGoneCgroupIsAnError) {
    cgroups::Layout layout{.unified = true, .hierarchies = {v2("cg", {"memory"})}};
    EXPECT_THAT(error_of(limits_in(layout, "0::/gone\n")), HasSubstr("open gone"));
}

TEST(ProcfsLimits, ThisProcessHasLimitsAndAnAge) {
    auto l = limits_of(::getpid());
    EXPECT_TRUE(l) << l.error().message;
    auto age = process_age(::getpid());
    ASSERT_TRUE(age) << age.error().message;
    EXPECT_GE(*age, 0.0);
    EXPECT_LT(*age, 3600.0);
    EXPECT_THAT(error_of(limits_of(999999999)), HasSubstr("/proc/999999999/cgroup"));
    EXPECT_THAT(error_of(process_age(999999999)), HasSubstr("gone"));
}

}  // namespace
}  // namespace kapsel::procfs
