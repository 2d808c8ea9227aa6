// procfs/files.cpp: the server's tree and what each file answers for a caller, with a
// fake host (fixed host files, limits and ages per pid).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "procfs/files.hpp"

namespace kapsel::procfs {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class FakeHost : public Host {
  public:
    std::map<std::string, std::string> files = {
        {"/proc/meminfo",
         "MemTotal:       24683748 kB\n"
         "MemFree:        21764612 kB\n"
         "SwapTotal:             0 kB\n"},
        {"/proc/cpuinfo",
         "processor\t: 0\nmodel name\t: A\n\nprocessor\t: 1\nmodel name\t: B\n\n"
         "processor\t: 2\nmodel name\t: C\n\nprocessor\t: 3\nmodel name\t: D\n\n"},
        {"/proc/stat",
         "cpu  4 0 4 4\ncpu0 1 0 1 1\ncpu1 1 0 1 1\ncpu2 1 0 1 1\ncpu3 1 0 1 1\n"
         "ctxt 42\n"},
        {"/proc/uptime", "1000.00 3600.00\n"},
        {"/proc/loadavg", "0.50 0.40 0.30 1/200 4242\n"},
        {"/sys/devices/system/cpu/online", "0-3\n"},
        {"/proc/diskstats", " 254       0 vda 827824 41815 26577842 1399151 736871 1720431 "
                            "357186976 3797983 0 436316 5547088\n"},
        {"/proc/pressure/cpu", "some avg10=2.81 avg60=8.83 avg300=15.67 total=9297248708\n"},
    };
    std::map<pid_t, Limits> limits_by_pid;
    std::map<pid_t, double> ages;

    Result<std::string> read(const std::string& path) override {
        auto it = files.find(path);
        if (it == files.end()) return make_error("open " + path + ": no such file");
        return it->second;
    }
    Result<Limits> limits(pid_t caller) override {
        auto it = limits_by_pid.find(caller);
        if (it == limits_by_pid.end()) return make_error("process is gone");
        return it->second;
    }
    Result<double> age(pid_t caller) override {
        auto it = ages.find(caller);
        if (it == ages.end()) return make_error("process is gone");
        return it->second;
    }
    std::map<pid_t, Load> loads;  // none for a pid: the default, the host's
    Result<Load> load(pid_t caller) override {
        auto it = loads.find(caller);
        if (it == loads.end()) return Host::load(caller);
        return it->second;
    }
};

const Node& at(std::string_view path) {
    uint64_t ino = kRootIno;
    const Node* n = find_node(ino);
    size_t start = 0;
    while (start < path.size()) {
        size_t slash = path.find('/', start);
        auto name = path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
        n = find_child(n->ino, name);
        if (!n) throw std::runtime_error("no " + std::string(path));
        start = slash == std::string_view::npos ? path.size() : slash + 1;
    }
    return *n;
}

std::string read(FakeHost& host, std::string_view path, pid_t pid) {
    auto r = answer(at(path), host, pid);
    if (!r) return "error: " + r.error().message;
    return *r;
}

TEST(ProcfsTree, HasTheProcFilesAndTheCpuListsBelowSys) {
    for (auto* f : {"meminfo", "cpuinfo", "stat", "uptime", "swaps", "loadavg", "diskstats",
                    "pressure/cpu", "pressure/memory", "pressure/io",
                    "sys/devices/system/cpu/online", "sys/devices/system/cpu/possible",
                    "sys/devices/system/cpu/present"})
        EXPECT_NO_THROW(EXPECT_NE(nullptr, at(f).render) << f << " is a file");
    for (auto* d :
         {"pressure", "sys", "sys/devices", "sys/devices/system", "sys/devices/system/cpu"})
        EXPECT_EQ(nullptr, at(d).render) << d << " is a directory";
    EXPECT_EQ(nullptr, find_child(kRootIno, "mounts")) << "nothing else";
    EXPECT_EQ(nullptr, find_child(kRootIno, "")) << "the root is nobody's child";
    EXPECT_EQ(nullptr, find_child(at("meminfo").ino, "x")) << "a file has no entries";
    EXPECT_EQ(nullptr, find_node(0));
    EXPECT_EQ(nullptr, find_node(999));
}

TEST(ProcfsTree, InodesAreUniqueAndEveryParentIsADirectory) {
    std::set<uint64_t> seen;
    for (auto& n : tree()) {
        EXPECT_TRUE(seen.insert(n.ino).second) << n.name;
        const Node* p = find_node(n.parent);
        ASSERT_NE(nullptr, p) << n.name;
        EXPECT_EQ(nullptr, p->render) << n.name << "'s parent is a directory";
        EXPECT_EQ(p, find_node(n.ino == kRootIno ? kRootIno : n.parent));
    }
    EXPECT_EQ(kRootIno, tree().front().ino);
}

TEST(ProcfsFiles, MeminfoSaysTheCallersMemoryLimit) {
    FakeHost host;
    host.limits_by_pid[10] = Limits{.memory_limit = 256ull << 20};
    host.limits_by_pid[20] = Limits{};
    EXPECT_THAT(read(host, "meminfo", 10), HasSubstr("MemTotal:         262144 kB\n"));
    EXPECT_THAT(read(host, "meminfo", 20), HasSubstr("MemTotal:       24683748 kB\n"))
        << "no limit: the host's";
}

TEST(ProcfsFiles, CpuFilesSayTheCallersCpus) {
    FakeHost host;
    host.limits_by_pid[10] = Limits{.cpu_quota = 1.0};
    host.limits_by_pid[20] = Limits{.cpuset = {1, 3}};
    host.limits_by_pid[30] = Limits{};
    for (auto* f : {"online", "possible", "present"}) {
        std::string path = std::string("sys/devices/system/cpu/") + f;
        EXPECT_EQ("0\n", read(host, path, 10)) << f;
        EXPECT_EQ("0-1\n", read(host, path, 20)) << f;
        EXPECT_EQ("0-3\n", read(host, path, 30)) << f;
    }
    std::string one = read(host, "cpuinfo", 10);
    EXPECT_THAT(one, HasSubstr("processor\t: 0\nmodel name\t: A\n"));
    EXPECT_THAT(one, Not(HasSubstr("processor\t: 1")));
    std::string pinned = read(host, "cpuinfo", 20);
    EXPECT_THAT(pinned, HasSubstr("processor\t: 0\nmodel name\t: B\n"));
    EXPECT_THAT(pinned, HasSubstr("processor\t: 1\nmodel name\t: D\n"));
    EXPECT_EQ("cpu  1 0 1 1\ncpu0 1 0 1 1\nctxt 42\n", read(host, "stat", 10));
}

TEST(ProcfsFiles, UptimeIsTheContainersAgeAndLoadavgItsLoad) {
    FakeHost host;
    host.limits_by_pid[10] = Limits{.cpu_quota = 1.0};
    host.ages[10] = 12.5;
    // Idle: one CPU's share of the host's 3600 s over four, bounded by the age.
    EXPECT_EQ("12.50 12.50\n", read(host, "uptime", 10));
    host.loads[10] = Load{.one = 1.5, .five = 0.25, .fifteen = 0.125, .running = 2, .total = 7};
    EXPECT_EQ("1.50 0.25 0.12 2/7 0\n", read(host, "loadavg", 10));
}

TEST(ProcfsFiles, AHostWithoutASamplerAnswersLoadavgWithItsOwnLoadButNoHostPid) {
    FakeHost host;
    EXPECT_EQ("0.50 0.40 0.30 1/200 0\n", read(host, "loadavg", 10));
    host.files["/proc/loadavg"] = "0.50 0.40\n";
    EXPECT_THAT(read(host, "loadavg", 10), HasSubstr("not five fields"));
}

TEST(ProcfsFiles, DiskstatsAndPressureAreTheCallersCgroups) {
    FakeHost host;
    // The fake has no I/O counters: every device of the host's reads zeros.
    EXPECT_EQ(" 254       0 vda 0 0 0 0 0 0 0 0 0 0 0\n", read(host, "diskstats", 10));
    // The default pressure is the host's file, which a SystemHost replaces by the cgroup's.
    EXPECT_EQ(host.files["/proc/pressure/cpu"], read(host, "pressure/cpu", 10));
    EXPECT_THAT(read(host, "pressure/io", 10), HasSubstr("error: open /proc/pressure/io"));
}

TEST(ProcfsFiles, SwapsListsSwapOnlyWhenTheCallerMaySwap) {
    FakeHost host;
    host.limits_by_pid[10] = Limits{.swap_limit = 64ull << 20};
    host.limits_by_pid[20] = Limits{};
    EXPECT_THAT(read(host, "swaps", 10), HasSubstr("65536"));
    std::string none = read(host, "swaps", 20);
    EXPECT_EQ(1, std::count(none.begin(), none.end(), '\n')) << "the header only: " << none;
}

TEST(ProcfsFiles, ACallerThatIsGoneGetsAnErrorNotTheHostsNumbers) {
    FakeHost host;
    for (auto* f :
         {"meminfo", "cpuinfo", "stat", "uptime", "swaps", "sys/devices/system/cpu/online"})
        EXPECT_THAT(read(host, f, 99), HasSubstr("error: process is gone")) << f;
}

TEST(ProcfsFiles, AHostFileThatIsMissingOrNotAListIsAnError) {
    FakeHost host;
    host.limits_by_pid[10] = Limits{};
    host.files["/sys/devices/system/cpu/online"] = "garbage";
    EXPECT_THAT(read(host, "sys/devices/system/cpu/online", 10), HasSubstr("not a cpu list"));
    host.files.erase("/proc/meminfo");
    EXPECT_THAT(read(host, "meminfo", 10), HasSubstr("error: open /proc/meminfo"));
    host.files["/proc/uptime"] = "12\n";
    host.ages[10] = 1;
    host.files["/sys/devices/system/cpu/online"] = "0\n";
    EXPECT_THAT(read(host, "uptime", 10), HasSubstr("not two numbers"));
}

TEST(ProcfsFiles, AnAnswerIsAtMostOneMebibyte) {
    FakeHost host;
    host.limits_by_pid[10] = Limits{};
    // Without a memory limit meminfo is the host's text as it is.
    host.files["/proc/meminfo"] = std::string(kMaxAnswer, 'x');
    EXPECT_EQ(kMaxAnswer, read(host, "meminfo", 10).size()) << "the bound itself is fine";
    host.files["/proc/meminfo"] += "x";
    EXPECT_THAT(read(host, "meminfo", 10), HasSubstr("larger than 1 MiB"));
}

TEST(ProcfsFiles, ADirectoryHasNoAnswer) {
    FakeHost host;
    EXPECT_FALSE(answer(at("sys"), host, 10));
}

}  // namespace
}  // namespace kapsel::procfs
