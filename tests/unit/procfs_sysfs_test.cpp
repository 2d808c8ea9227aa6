// procfs/sysfs.cpp and files.cpp's passthrough: /sys/devices/system/cpu as a container
// sees it, with a fake host whose cpu/ directory has four CPUs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "procfs/files.hpp"
#include "util/strings.hpp"

namespace kapsel::procfs {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class FakeHost : public Host {
  public:
    // The host's cpu/ below /sys/devices/system: path -> (kind, text or target).
    std::map<std::string, std::pair<Kind, std::string>> sys = {
        {"", {Kind::directory, ""}},
        {"online", {Kind::file, "0-3\n"}},
        {"possible", {Kind::file, "0-3\n"}},
        {"kernel_max", {Kind::file, "8191\n"}},
        {"vulnerabilities", {Kind::directory, ""}},
        {"vulnerabilities/meltdown", {Kind::file, "Not affected\n"}},
        {"cpufreq", {Kind::directory, ""}},
    };
    std::map<pid_t, Limits> limits_by_pid;
    size_t limit_reads = 0;

    FakeHost() {
        for (int c = 0; c < 4; ++c) {
            std::string d = "cpu" + std::to_string(c);
            sys[d] = {Kind::directory, ""};
            sys[d + "/topology"] = {Kind::directory, ""};
            sys[d + "/topology/core_id"] = {Kind::file, std::to_string(c) + "\n"};
            sys[d + "/cpufreq"] = {Kind::symlink, "../cpufreq/policy" + std::to_string(c)};
            sys["cpufreq/policy" + std::to_string(c)] = {Kind::directory, ""};
        }
    }
    Result<std::string> read(const std::string& path) override {
        if (path == "/sys/devices/system/cpu/online") return sys["online"].second;
        return sys_error("open " + path, ENOENT);
    }
    Result<Limits> limits(pid_t caller) override {
        ++limit_reads;
        auto it = limits_by_pid.find(caller);
        if (it == limits_by_pid.end()) return make_error("process is gone");
        return it->second;
    }
    Result<double> age(pid_t) override { return 1.0; }
    Result<SysEntry> sys_stat(const std::string& path) override {
        auto it = sys.find(path);
        if (it == sys.end()) return sys_error("stat " + path, ENOENT);
        unsigned perm = it->second.first == Kind::directory ? 0755 : 0644;
        return SysEntry{
            .name = path.substr(path.rfind('/') + 1), .kind = it->second.first, .perm = perm};
    }
    Result<std::vector<SysEntry>> sys_list(const std::string& path) override {
        std::vector<SysEntry> out;
        std::string prefix = path.empty() ? "" : path + "/";
        for (auto& [p, e] : sys) {
            if (p.empty() || p.rfind(prefix, 0) != 0) continue;
            std::string rest = p.substr(prefix.size());
            if (rest.empty() || rest.find('/') != std::string::npos) continue;
            out.push_back(SysEntry{.name = rest, .kind = e.first});
        }
        return out;
    }
    Result<std::string> sys_read(const std::string& path) override {
        auto it = sys.find(path);
        if (it == sys.end()) return sys_error("open " + path, ENOENT);
        return it->second.second;
    }
    Result<std::string> sys_readlink(const std::string& path) override {
        auto it = sys.find(path);
        if (it == sys.end() || it->second.first != Kind::symlink)
            return sys_error("readlink " + path, EINVAL);
        return it->second.second;
    }
};

std::vector<std::string> names(const std::vector<DirEntry>& entries) {
    std::vector<std::string> out;
    for (auto& e : entries) out.push_back(e.name);
    return out;
}

// The entry at `path` below cpu/, looked up component by component as the kernel does.
Result<Entry> walk(FakeHost& host, const std::string& path, pid_t caller) {
    Entry at{.ino = kCpuDirIno, .kind = Kind::directory};
    for (auto& part : split(path, '/')) at = KAPSEL_TRY(lookup(host, at.ino, part, caller));
    return at;
}

TEST(ProcfsSysfs, CpuDirectoryNamesAreCpuAndADecimalNumber) {
    EXPECT_EQ(12u, cpu_dir_number("cpu12"));
    EXPECT_EQ(0u, cpu_dir_number("cpu0"));
    for (auto* n : {"cpu", "cpufreq", "cpuidle", "cpu01", "cpu-1", "cpu1x", "cpu123456"})
        EXPECT_EQ(std::nullopt, cpu_dir_number(n)) << n;
}

TEST(ProcfsSysfs, AContainersCpuNIsTheHostsCpuItStandsFor) {
    std::vector<unsigned> visible = {2, 3};
    EXPECT_EQ("cpu2/topology/core_id", host_cpu_path("cpu0/topology/core_id", visible));
    EXPECT_EQ("cpu3", host_cpu_path("cpu1", visible));
    EXPECT_EQ(std::nullopt, host_cpu_path("cpu2", visible)) << "not the container's";
    EXPECT_EQ("vulnerabilities/meltdown", host_cpu_path("vulnerabilities/meltdown", visible));
    for (auto* bad : {"", "cpu0/../cpu3", "./online", "cpu0//topology", "cpu0/."})
        EXPECT_EQ(std::nullopt, host_cpu_path(bad, visible)) << bad;
}

TEST(ProcfsSysfs, TheCpuDirectoryListsTheCallersCpusAndTheHostsOtherEntries) {
    FakeHost host;
    host.limits_by_pid[10] = Limits{.cpuset = {1, 3}};
    auto entries = list(host, kCpuDirIno, 10);
    ASSERT_TRUE(entries) << entries.error().message;
    auto n = names(*entries);
    EXPECT_THAT(n, ElementsAre(".", "..", "online", "possible", "present", "cpu0", "cpu1",
                               "cpufreq", "kernel_max", "vulnerabilities"))
        << "the host's cpu2 and cpu3 are not there; online and possible are the fixed nodes";
}

TEST(ProcfsSysfs, ACallersCpuNReadsTheHostsCpuItStandsFor) {
    FakeHost host;
    host.limits_by_pid[10] = Limits{.cpuset = {1, 3}};
    auto core = walk(host, "cpu1/topology/core_id", 10);
    ASSERT_TRUE(core) << core.error().message;
    EXPECT_TRUE(core->per_caller);
    EXPECT_EQ(0444u, core->perm) << "read-only, whatever the host's mode";
    auto text = read(host, core->ino, 10);
    ASSERT_TRUE(text);
    EXPECT_EQ("3\n", *text) << "cpu1 is the host's cpu3";

    auto missing = walk(host, "cpu2", 10);
    ASSERT_FALSE(missing);
    EXPECT_EQ(ENOENT, missing.error().code) << "a CPU the caller does not have";

    // Another caller with other CPUs reads its own through the same inode (the kernel
    // may have kept the entry, though the glue asks it not to for per-caller ones).
    host.limits_by_pid[20] = Limits{.cpuset = {0, 2}};
    auto other = read(host, core->ino, 20);
    ASSERT_TRUE(other);
    EXPECT_EQ("2\n", *other);
    host.limits_by_pid[30] = Limits{.cpuset = {0}};
    auto fewer = read(host, core->ino, 30);
    ASSERT_FALSE(fewer);
    EXPECT_EQ(ENOENT, fewer.error().code) << "a caller with one CPU has no cpu1";
}

TEST(ProcfsSysfs, OtherEntriesPassThroughUnchangedAndAreTheSameForEveryCaller) {
    FakeHost host;
    host.limits_by_pid[10] = Limits{.cpuset = {1}};
    auto m = walk(host, "vulnerabilities/meltdown", 10);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_FALSE(m->per_caller);
    EXPECT_EQ("Not affected\n", *read(host, m->ino, 10));
    EXPECT_EQ(0u, host.limit_reads) << "no cgroup read for an entry that is not a cpuN's";
    auto km = walk(host, "kernel_max", 10);
    ASSERT_TRUE(km);
    EXPECT_EQ("8191\n", *read(host, km->ino, 10));
}

TEST(ProcfsSysfs, SymlinksAreReturnedAsSymlinksNeverFollowed) {
    FakeHost host;
    host.limits_by_pid[10] = Limits{.cpuset = {2, 3}};
    auto link = walk(host, "cpu1/cpufreq", 10);
    ASSERT_TRUE(link) << link.error().message;
    EXPECT_EQ(Kind::symlink, link->kind);
    auto target = readlink(host, link->ino, 10);
    ASSERT_TRUE(target);
    EXPECT_EQ("../cpufreq/policy3", *target) << "the host's link of the cpu it stands for";
    auto through = read(host, link->ino, 10);
    ASSERT_FALSE(through);
    EXPECT_EQ(ELOOP, through.error().code);
    auto below = lookup(host, link->ino, "scaling_cur_freq", 10);
    EXPECT_FALSE(below) << "nothing is looked up through a symlink";
}

TEST(ProcfsSysfs, NamesThatLeaveTheDirectoryAreRefused) {
    FakeHost host;
    host.limits_by_pid[10] = Limits{};
    for (std::string_view bad :
         {std::string_view(".."), std::string_view("."), std::string_view(""),
          std::string_view("a/b"), std::string_view("x\0y", 3)}) {
        auto r = lookup(host, kCpuDirIno, bad, 10);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(ENOENT, r.error().code) << bad;
    }
    auto cpu = walk(host, "cpu0", 10);
    ASSERT_TRUE(cpu);
    EXPECT_FALSE(lookup(host, cpu->ino, "..", 10));
}

TEST(ProcfsSysfs, APassedThroughDirectoryListsTheHostsEntries) {
    FakeHost host;
    host.limits_by_pid[10] = Limits{.cpuset = {3}};
    auto cpu = walk(host, "cpu0", 10);
    ASSERT_TRUE(cpu);
    auto entries = list(host, cpu->ino, 10);
    ASSERT_TRUE(entries) << entries.error().message;
    EXPECT_THAT(names(*entries), ElementsAre(".", "..", "cpufreq", "topology"));
    EXPECT_EQ(kCpuDirIno, (*entries)[1].entry.ino) << "cpu0's parent is cpu/";
    auto again = walk(host, "cpu0/topology", 10);
    ASSERT_TRUE(again);
    EXPECT_EQ((*entries)[3].entry.ino, again->ino) << "one path, one inode number";
}

TEST(ProcfsSysfs, InodeNumbersAreStableAndBounded) {
    PassthroughInodes inodes;
    auto a = inodes.ino("cpu0");
    ASSERT_TRUE(a);
    EXPECT_GE(*a, PassthroughInodes::kFirst);
    EXPECT_EQ(*a, *inodes.ino("cpu0"));
    EXPECT_EQ("cpu0", inodes.path(*a));
    EXPECT_EQ(std::nullopt, inodes.path(*a + 1));
    EXPECT_EQ(std::nullopt, inodes.path(5)) << "a fixed node's number is not a passthrough's";
    for (size_t i = 1; i < PassthroughInodes::kMaxEntries; ++i)
        ASSERT_TRUE(inodes.ino("p" + std::to_string(i)));
    auto full = inodes.ino("one more");
    ASSERT_FALSE(full);
    EXPECT_EQ(ENOSPC, full.error().code);
    EXPECT_TRUE(inodes.ino("cpu0")) << "known paths still answer";
}

}  // namespace
}  // namespace kapsel::procfs
