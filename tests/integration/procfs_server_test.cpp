// kapsel-procfs on the real kernel (issue 14): mounted on a temporary directory, its files
// say the limits of the process that reads them: a process in a cgroup of its own with a
// memory and a CPU limit sees those, the test's own processes see the host's. The
// readers are child processes run with a timeout, so a server that hangs fails the test
// instead of stopping it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "cgroups/layout.hpp"
#include "harness.hpp"
#include "limited_cgroups.hpp"
#include "procfs/answers.hpp"
#include "procfs/limits.hpp"
#include "util/fd.hpp"

namespace kapsel::test {
namespace {

using namespace std::chrono_literals;

bool is_mounted(const std::string& path) {
    std::ifstream mi("/proc/self/mountinfo");
    std::string line;
    while (std::getline(mi, line)) {
        std::istringstream is(line);
        std::string f[5];
        for (auto& x : f) is >> x;
        if (f[4] == path) return true;
    }
    return false;
}

// One kapsel-procfs serving a temporary mount point; stopped (and the mount removed by
// TempDir) at the end.
class Server {
  public:
    Server() {
        pid_ = fork();
        if (pid_ == 0) {
            // Its output goes to a file the failure messages show; no fd of the test's
            // (the integration lock among them) stays open in it.
            int log = open(log_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            dup2(log, 1);
            dup2(log, 2);
            syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
            setpgid(0, 0);
            exec_argv({KAPSEL_TEST_PROCFS_BINARY, mountpoint()});
        }
        for (auto until = std::chrono::steady_clock::now() + 10s;
             std::chrono::steady_clock::now() < until && running();
             std::this_thread::sleep_for(20ms))
            if (is_mounted(mountpoint())) return;
    }
    ~Server() {
        if (pid_ > 0) stop(SIGKILL);
    }
    std::string mountpoint() const { return dir_.path(); }
    std::string path(const std::string& file) const { return dir_.path() + "/" + file; }
    std::string log() const {
        std::ifstream f(log_path());
        return std::string(std::istreambuf_iterator<char>(f), {});
    }
    bool running() {
        if (pid_ <= 0) return false;
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == 0) return true;
        pid_ = -1;
        status_ = status;
        return false;
    }
    // Sends `sig` and waits up to 10 s for the exit: the wait status, -1 if it did not end.
    int stop(int sig) {
        if (pid_ <= 0) return status_;
        kill(pid_, sig);
        for (auto until = std::chrono::steady_clock::now() + 10s;
             std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(20ms))
            if (!running()) return status_;
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
        return -1;
    }

  private:
    std::string log_path() const { return log_dir_.path() + "/kapsel-procfs.log"; }
    TempDir dir_;
    TempDir log_dir_;
    pid_t pid_ = -1;
    int status_ = -1;
};

std::string host_file(const std::string& path) {
    std::ifstream f(path);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string line_of(const std::string& text, const std::string& key) {
    std::istringstream is(text);
    std::string line;
    while (std::getline(is, line))
        if (line.rfind(key, 0) == 0) return line;
    return "";
}

// "MemTotal:       24683748 kB" -> "24683748 kB"
std::string value_of(const std::string& line) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) return "";
    size_t start = line.find_first_not_of(' ', colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
}

size_t processors(const std::string& cpuinfo) {
    size_t n = 0;
    std::istringstream is(cpuinfo);
    std::string line;
    while (std::getline(is, line)) n += line.rfind("processor", 0) == 0;
    return n;
}

#define REQUIRE_FUSE() \
    REQUIRE_ROOT();    \
    REQUIRE_PATH("/dev/fuse", "needs FUSE")

TEST(ProcfsServer, TheTestsOwnProcessesSeeTheHostsMemoryAndCpus) {
    REQUIRE_FUSE();
    Server server;
    ASSERT_TRUE(is_mounted(server.mountpoint())) << server.log();

    // What the server should say for a process of this test's cgroups: the host's memory
    // unless the test itself runs under a limit (it does not on the CI machines).
    auto own = procfs::limits_of(getpid());
    ASSERT_TRUE(own) << own.error().message;
    auto online = procfs::parse_cpu_list(host_file("/sys/devices/system/cpu/online"));
    ASSERT_TRUE(online && !online->empty());
    size_t cpus = procfs::visible_cpus(*own, *online).size();
    std::string host_total = value_of(line_of(host_file("/proc/meminfo"), "MemTotal:"));

    Output mem = run_program({"/bin/cat", server.path("meminfo")}, "", 5000);
    ASSERT_EQ(0, mem.code) << mem.err << server.log();
    if (!own->memory_limit) {
        EXPECT_EQ(host_total, value_of(line_of(mem.out, "MemTotal:"))) << mem.out;
    }
    Output cpuinfo = run_program({"/bin/cat", server.path("cpuinfo")}, "", 5000);
    ASSERT_EQ(0, cpuinfo.code) << cpuinfo.err;
    EXPECT_EQ(cpus, processors(cpuinfo.out));
    Output list = run_program({"/bin/cat", server.path("sys/devices/system/cpu/online")}, "", 5000);
    ASSERT_EQ(0, list.code) << list.err;
    EXPECT_EQ(procfs::cpu_list(cpus) + "\n", list.out);
    Output loadavg = run_program({"/bin/cat", server.path("loadavg")}, "", 5000);
    EXPECT_EQ(0, loadavg.code) << loadavg.err;
    EXPECT_FALSE(loadavg.out.empty());
    Output up = run_program({"/bin/cat", server.path("uptime")}, "", 5000);
    ASSERT_EQ(0, up.code) << up.err;
    // The reader shares the server's pid namespace: its cgroup's oldest process says
    // (the test itself or older, at most the host's uptime).
    auto test_age = procfs::process_age(getpid());
    ASSERT_TRUE(test_age);
    double host_up = std::stod(host_file("/proc/uptime"));
    EXPECT_GE(std::stod(up.out), *test_age - 0.1) << up.out;
    EXPECT_LE(std::stod(up.out), host_up + 1.0) << up.out;

    Output write = run_program({"/bin/sh", "-c", "echo x > " + server.path("meminfo")}, "", 5000);
    EXPECT_NE(0, write.code) << "read-only";
    Output ls = run_program({"/bin/ls", server.mountpoint(), server.path("sys/devices/system/cpu")},
                            "", 5000);
    ASSERT_EQ(0, ls.code) << ls.err;
    for (auto* name : {"cpuinfo", "loadavg", "meminfo", "stat", "swaps", "sys", "uptime", "online",
                       "possible", "present"})
        EXPECT_NE(std::string::npos, ls.out.find(name)) << ls.out;
}

TEST(ProcfsServer, AProcessInAMemoryLimitedCgroupSeesItsLimit) {
    REQUIRE_FUSE();
    Server server;
    ASSERT_TRUE(is_mounted(server.mountpoint())) << server.log();
    LimitedCgroups cg;
    ASSERT_EQ("", cg.error());

    // The shell moves itself into the cgroups first; the cats it then starts are in them.
    Output out =
        run_program({"/bin/sh", "-c",
                     cg.enter_command() + "cat " + server.path("meminfo") + " && echo --- && cat " +
                         server.path("cpuinfo") + " && echo --- && cat " +
                         server.path("sys/devices/system/cpu/online")},
                    "", 10000);
    ASSERT_EQ(0, out.code) << out.err << server.log();
    size_t first = out.out.find("---\n"), second = out.out.find("---\n", first + 4);
    ASSERT_NE(std::string::npos, second) << out.out;
    std::string meminfo = out.out.substr(0, first);
    std::string cpuinfo = out.out.substr(first + 4, second - first - 4);
    std::string online = out.out.substr(second + 4);
    EXPECT_EQ("262144 kB", value_of(line_of(meminfo, "MemTotal:"))) << meminfo;
    EXPECT_EQ(1u, processors(cpuinfo)) << "a quota of one CPU";
    EXPECT_EQ("0\n", online);
}

// The server keeps a cgroup's limits for procfs::kCacheTtl (100 ms): a limit that
// changes while the container runs (kapsel update) shows no later than that.
TEST(ProcfsServer, AChangedMemoryLimitShowsWithinTheCacheTime) {
    REQUIRE_FUSE();
    Server server;
    ASSERT_TRUE(is_mounted(server.mountpoint())) << server.log();
    LimitedCgroups cg;
    ASSERT_EQ("", cg.error());

    std::string meminfo = server.path("meminfo");
    Output out = run_program({"/bin/sh", "-c",
                              cg.enter_command() + "grep MemTotal " + meminfo + " && echo 134217728 > " +
                                  cg.memory_limit_file() + " && sleep 0.2 && grep MemTotal " +
                                  meminfo},
                             "", 10000);
    ASSERT_EQ(0, out.code) << out.err << server.log();
    std::istringstream lines(out.out);
    std::string before, after;
    std::getline(lines, before);
    std::getline(lines, after);
    EXPECT_EQ("262144 kB", value_of(before)) << out.out;
    EXPECT_EQ("131072 kB", value_of(after)) << "the new limit, 200 ms later: " << out.out;
}

// uptime is the container's age, not the reader's: from the start of the reader's pid
// namespace's init, or, without a pid namespace of its own, of its cgroup's oldest process.
TEST(ProcfsServer, UptimeCountsFromTheContainersStart) {
    REQUIRE_FUSE();
    Server server;
    ASSERT_TRUE(is_mounted(server.mountpoint())) << server.log();
    LimitedCgroups cg;
    ASSERT_EQ("", cg.error());
    std::string uptime = server.path("uptime");

    // A cgroup without a pid namespace: the shell came first, the cat 1.5 s later.
    Output in_cgroup = run_program(
        {"/bin/sh", "-c", cg.enter_command() + "sleep 1.5 && cat " + uptime}, "", 10000);
    ASSERT_EQ(0, in_cgroup.code) << in_cgroup.err << server.log();
    double age = std::stod(in_cgroup.out);
    EXPECT_GE(age, 1.4) << "the shell's age, not the cat's: " << in_cgroup.out;
    EXPECT_LT(age, 5.0) << in_cgroup.out;

    // A pid namespace: its init is the shell, two processes up from the cat.
    Output in_ns = run_program({"/usr/bin/unshare", "--pid", "--fork", "/bin/sh", "-c",
                                "sleep 1.5 && sh -c 'cat " + uptime + "'"},
                               "", 10000);
    ASSERT_EQ(0, in_ns.code) << in_ns.err << server.log();
    age = std::stod(in_ns.out);
    EXPECT_GE(age, 1.4) << "the namespace init's age: " << in_ns.out;
    EXPECT_LT(age, 5.0) << in_ns.out;
}

// loadavg is the reader's container's: its cgroup's runnable tasks, sampled every 5 s
// from the first read on. A cgroup with two busy loops shows 2 running and a rising
// 1-minute average; the last field is never a host pid.
TEST(ProcfsServer, LoadavgCountsTheContainersOwnTasks) {
    REQUIRE_FUSE();
    Server server;
    ASSERT_TRUE(is_mounted(server.mountpoint())) << server.log();
    LimitedCgroups cg;
    ASSERT_EQ("", cg.error());
    std::string loadavg = server.path("loadavg");

    // Two loops under a one-CPU quota: both runnable (R) most of the time.
    Output out = run_program(
        {"/bin/sh", "-c",
         // "true;": enter_command()'s list ends in "&&", which must not take the "&" below.
         cg.enter_command() + "true; (while :; do :; done) & a=$!; (while :; do :; done) & b=$!; sleep 0.3; "
                      "cat " + loadavg + "; sleep 5.5; cat " + loadavg + "; kill $a $b"},
        "", 20000);
    ASSERT_EQ(0, out.code) << out.err << server.log();
    std::istringstream lines(out.out);
    std::string first, second;
    std::getline(lines, first);
    std::getline(lines, second);
    auto fields = [](const std::string& line) {
        std::istringstream is(line);
        std::vector<std::string> f;
        for (std::string w; is >> w;) f.push_back(w);
        return f;
    };
    auto f1 = fields(first), f2 = fields(second);
    ASSERT_EQ(5u, f1.size()) << out.out;
    ASSERT_EQ(5u, f2.size()) << out.out;
    EXPECT_EQ("0.00", f1[0]) << "sampled from the first read on: " << out.out;
    // The shell, two loops and the cat: four tasks, the loops (and the cat) running.
    size_t slash = f2[3].find('/');
    ASSERT_NE(std::string::npos, slash) << out.out;
    int running = std::stoi(f2[3].substr(0, slash)), total = std::stoi(f2[3].substr(slash + 1));
    EXPECT_GE(running, 1) << out.out;
    EXPECT_LE(total, 6) << "the cgroup's tasks, not the host's: " << out.out;
    EXPECT_GT(std::stod(f2[0]), 0.05) << "one 5 s step with two busy tasks: " << out.out;
    EXPECT_LT(std::stod(f2[0]), 1.0) << out.out;
    EXPECT_EQ("0", f2[4]);
}

// A cgroup of the test's own in the hierarchy with io (v2) or blkio (v1), and, on a host
// with a cgroup2 mount, one there too (pressure files are in every cgroup2 directory).
class IoCgroups {
  public:
    IoCgroups() {
        auto layout = cgroups::detect();
        if (!layout) return;
        std::string name = "kapsel-test-procfs-io-" + std::to_string(getpid());
        const cgroups::Hierarchy* io = layout->find("io");
        if (!io || !io->v2) io = layout->find("blkio");
        for (auto& h : layout->hierarchies)
            if (h.v2 || &h == io) {
                if (h.v2 && io && io->v2)
                    std::ofstream(h.mount_point + "/cgroup.subtree_control") << "+io";
                std::string dir = h.mount_point + "/" + name;
                if (mkdir(dir.c_str(), 0755) == 0) dirs_.push_back(dir);
                if (h.v2) unified_ = dir;
            }
    }
    ~IoCgroups() {
        for (auto& d : dirs_)
            for (int i = 0; i < 50 && rmdir(d.c_str()) != 0 && errno == EBUSY; ++i)
                std::this_thread::sleep_for(20ms);
    }
    std::string enter_command() const {
        std::string s;
        for (auto& d : dirs_) s += "echo $$ > " + d + "/cgroup.procs && ";
        return s;
    }
    const std::string& unified() const { return unified_; }

  private:
    std::vector<std::string> dirs_;
    std::string unified_;
};

std::vector<std::string> words_of(const std::string& line) {
    std::istringstream is(line);
    std::vector<std::string> w;
    for (std::string x; is >> x;) w.push_back(x);
    return w;
}

// diskstats: the host's devices, each with the reader's cgroup's counters; a cgroup
// that did no I/O reads zeros everywhere, whatever the host's disks did.
TEST(ProcfsServer, DiskstatsShowsTheHostsDevicesWithTheContainersCounters) {
    REQUIRE_FUSE();
    Server server;
    ASSERT_TRUE(is_mounted(server.mountpoint())) << server.log();
    IoCgroups cg;
    Output out =
        run_program({"/bin/sh", "-c", cg.enter_command() + "cat " + server.path("diskstats")}, "", 10000);
    ASSERT_EQ(0, out.code) << out.err << server.log();

    std::istringstream host(host_file("/proc/diskstats")), mine(out.out);
    std::string h, m;
    size_t lines = 0;
    while (std::getline(host, h)) {
        ASSERT_TRUE(std::getline(mine, m)) << out.out;
        auto hw = words_of(h), mw = words_of(m);
        ASSERT_EQ(hw.size(), mw.size()) << m;
        for (size_t i = 0; i < 3; ++i) EXPECT_EQ(hw[i], mw[i]) << "the host's device: " << m;
        for (size_t i = 3; i < mw.size(); ++i) EXPECT_EQ("0", mw[i]) << "no I/O yet: " << m;
        ++lines;
    }
    EXPECT_GT(lines, 0u);
}

// pressure/cpu is the reader's cgroup2 directory's cpu.pressure where the host has PSI.
TEST(ProcfsServer, PressureIsTheContainersCgroups) {
    REQUIRE_FUSE();
    REQUIRE_PATH("/proc/pressure/cpu", "needs PSI");
    Server server;
    ASSERT_TRUE(is_mounted(server.mountpoint())) << server.log();
    IoCgroups cg;
    if (cg.unified().empty()) GTEST_SKIP() << "skipped: no cgroup2 hierarchy";
    // A new cgroup whose only task sleeps has had no cpu pressure: all its totals are 0.
    Output out = run_program(
        {"/bin/sh", "-c", cg.enter_command() + "cat " + server.path("pressure/memory")}, "", 10000);
    ASSERT_EQ(0, out.code) << out.err << server.log();
    EXPECT_EQ(0u, out.out.find("some avg10=")) << out.out;
    EXPECT_EQ(host_file(cg.unified() + "/memory.pressure").substr(0, 20), out.out.substr(0, 20));
    EXPECT_NE(std::string::npos, out.out.find("total=0\n")) << "the new cgroup's: " << out.out;
}

// sys/devices/system/cpu lists the reader's CPUs as cpu0..cpuK-1, each the host's
// directory of the CPU it stands for, and the host's other entries as they are;
// symlinks stay symlinks.
TEST(ProcfsServer, TheCpuDirectoryListsTheReadersCpusAndPassesTheRestThrough) {
    REQUIRE_FUSE();
    Server server;
    ASSERT_TRUE(is_mounted(server.mountpoint())) << server.log();
    LimitedCgroups cg;
    ASSERT_EQ("", cg.error());
    std::string cpu = server.path("sys/devices/system/cpu");
    auto host = procfs::parse_cpu_list(host_file("/sys/devices/system/cpu/online"));
    ASSERT_TRUE(host && !host->empty());

    Output out = run_program(
        {"/bin/sh", "-c",
         cg.enter_command() + "ls " + cpu + " | grep -c 'cpu[0-9]'; cat " + cpu +
             "/cpu0/topology/core_id; readlink " + cpu + "/cpu0/subsystem; ls " + cpu +
             "/cpu1 2>&1; cat " + cpu + "/kernel_max"},
        "", 10000);
    ASSERT_EQ(0, out.code) << out.err << server.log();
    std::istringstream lines(out.out);
    std::string count, core, link, cpu1, kernel_max;
    std::getline(lines, count);
    std::getline(lines, core);
    std::getline(lines, link);
    std::getline(lines, cpu1);
    std::getline(lines, kernel_max);
    EXPECT_EQ("1", count) << "a one-CPU quota: cpu0 alone: " << out.out;
    std::string host_cpu = "/sys/devices/system/cpu/cpu" + std::to_string(host->front());
    EXPECT_EQ(host_file(host_cpu + "/topology/core_id"), core + "\n");
    std::vector<char> target(4096);
    ssize_t n = ::readlink((host_cpu + "/subsystem").c_str(), target.data(), target.size());
    ASSERT_GT(n, 0);
    EXPECT_EQ(std::string(target.data(), n), link) << "the host's link, as a link";
    EXPECT_NE(std::string::npos, cpu1.find("No such file")) << out.out;
    EXPECT_EQ(host_file("/sys/devices/system/cpu/kernel_max"), kernel_max + "\n");

    // The test's own processes see every CPU the host has online (unless limited).
    auto own = procfs::limits_of(getpid());
    ASSERT_TRUE(own);
    Output all = run_program({"/bin/sh", "-c", "ls " + cpu + " | grep -c 'cpu[0-9]'"}, "", 5000);
    ASSERT_EQ(0, all.code) << all.err;
    EXPECT_EQ(std::to_string(procfs::visible_cpus(*own, *host).size()) + "\n", all.out);
}

// A reader gets the whole of its own answer however it reads (read, sendfile, or by the
// file's size, as GNU wc -c and tail do), also when the file's previous answer was
// longer: the answer goes through the page cache (procfs/instances.hpp) and the size
// the kernel keeps must be this one's. Here a host process reads a container's copy of
// cpuinfo (two or more CPUs), then one in a one-CPU cgroup (shorter), then the host's
// again (longer).
TEST(ProcfsServer, EachReaderGetsItsWholeAnswerAfterALongerOrShorterOne) {
    REQUIRE_FUSE();
    Server server;
    ASSERT_TRUE(is_mounted(server.mountpoint())) << server.log();
    auto online = procfs::parse_cpu_list(host_file("/sys/devices/system/cpu/online"));
    if (!online || online->size() < 2) GTEST_SKIP() << "skipped: needs two CPUs for a longer answer";
    LimitedCgroups cg;
    ASSERT_EQ("", cg.error());
    std::string f = server.path("ct-readers/cpuinfo");
    // Four ways, one line each: processors by read(), bytes by read(), bytes by the
    // size, processors and bytes by sendfile.
    std::string ways = "grep -c ^processor " + f + "; cat " + f + " | wc -c; wc -c < " + f +
                       "; busybox cat " + f + " | grep -c ^processor; busybox cat " + f +
                       " | wc -c; ";
    // The middle round in a shell of its own ($$ of a subshell would be the outer one).
    std::string limited = "/bin/sh -c '" + cg.enter_command() + ways + "'";
    Output out = run_program({"/bin/sh", "-c", ways + "echo ---; " + limited + "; echo ---; " + ways},
                             "", 10000);
    ASSERT_EQ(0, out.code) << out.err << server.log();
    std::vector<std::vector<long>> rounds(1);
    std::istringstream lines(out.out);
    for (std::string line; std::getline(lines, line);) {
        if (line == "---") rounds.emplace_back();
        else rounds.back().push_back(std::stol(line));
    }
    ASSERT_EQ(3u, rounds.size()) << out.out;
    for (size_t i = 0; i < 3; ++i) {
        auto& r = rounds[i];
        ASSERT_EQ(5u, r.size()) << out.out;
        long cpus = i == 1 ? 1 : static_cast<long>(online->size());
        EXPECT_EQ(cpus, r[0]) << "round " << i << ": " << out.out;
        EXPECT_EQ(r[1], r[2]) << "round " << i << ": the size is the answer's: " << out.out;
        EXPECT_EQ(cpus, r[3]) << "round " << i << ": sendfile: " << out.out;
        EXPECT_EQ(r[1], r[4]) << "round " << i << ": sendfile: " << out.out;
    }
    EXPECT_LT(rounds[1][1], rounds[0][1]) << out.out;
}

// Each container binds its own copy of the tree ("ct-<id>"): its files are inodes no
// other container's are, so what one open leaves in the page cache is never another
// container's to read. Within one copy, a file opened while another open of it is
// still reading gets its own answer from the server.
TEST(ProcfsServer, ContainersCopiesAreSeparateAndAConcurrentOpenGetsItsOwnAnswer) {
    REQUIRE_FUSE();
    Server server;
    ASSERT_TRUE(is_mounted(server.mountpoint())) << server.log();
    auto online = procfs::parse_cpu_list(host_file("/sys/devices/system/cpu/online"));
    if (!online || online->size() < 2) GTEST_SKIP() << "skipped: needs two CPUs to tell answers apart";
    LimitedCgroups cg;
    ASSERT_EQ("", cg.error());
    struct stat a {}, b {};
    ASSERT_EQ(0, ::stat(server.path("ct-a/cpuinfo").c_str(), &a)) << server.log();
    ASSERT_EQ(0, ::stat(server.path("ct-b/cpuinfo").c_str(), &b));
    EXPECT_NE(a.st_ino, b.st_ino);
    EXPECT_NE(0, ::stat(server.path("ct-a/nothing").c_str(), &b));
    EXPECT_NE(0, ::stat(server.path("ct-a b/cpuinfo").c_str(), &b)) << "not a container id";

    // This process (the host's CPUs) holds container a's cpuinfo open, its answer in the
    // page cache, and reads only part of it.
    unique_fd held(::open(server.path("ct-a/cpuinfo").c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(held) << strerror(errno);
    char part[64];
    ASSERT_EQ(ssize_t(sizeof part), ::read(held.get(), part, sizeof part));

    // A one-CPU reader: container b's copy by sendfile, a's by read() and by sendfile.
    std::string ours = server.path("ct-a/cpuinfo"), theirs = server.path("ct-b/cpuinfo");
    Output out = run_program({"/bin/sh", "-c",
                              cg.enter_command() + "busybox cat " + theirs +
                                  " | grep -c ^processor; grep -c ^processor " + ours},
                             "", 10000);
    ASSERT_EQ(0, out.code) << out.err << server.log();
    EXPECT_EQ("1\n1\n", out.out) << "each reader its own CPUs";

    std::string rest(part, sizeof part);
    char buf[4096];
    for (ssize_t n; (n = ::read(held.get(), buf, sizeof buf)) > 0;) rest.append(buf, size_t(n));
    EXPECT_EQ(online->size(), processors(rest)) << "the held open still reads its own answer";
}

TEST(ProcfsServer, SigtermUnmountsAndExits) {
    REQUIRE_FUSE();
    Server server;
    ASSERT_TRUE(is_mounted(server.mountpoint())) << server.log();
    int status = server.stop(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << server.log();
    EXPECT_FALSE(is_mounted(server.mountpoint()));
}

TEST(ProcfsServer, AfterTheServerIsKilledReadsFailFastInsteadOfHanging) {
    REQUIRE_FUSE();
    Server server;
    ASSERT_TRUE(is_mounted(server.mountpoint())) << server.log();
    ASSERT_EQ(0, run_program({"/bin/cat", server.path("meminfo")}, "", 5000).code);
    server.stop(SIGKILL);

    auto start = std::chrono::steady_clock::now();
    Output out = run_program({"/bin/cat", server.path("meminfo")}, "", 5000);
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_NE(0, out.code);
    EXPECT_NE(std::string::npos, out.err.find("Transport endpoint is not connected")) << out.err;
    EXPECT_LT(took, 2s) << "a read of a dead server's file must not wait";
}

}  // namespace
}  // namespace kapsel::test
