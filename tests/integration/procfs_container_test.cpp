// The container-aware /proc and /sys in containers (issue 14): `kapsel run IMAGE` shows a
// container its own limits in the files and system calls that programs size themselves
// by (free, nproc, /proc/cpuinfo, /sys/devices/system/cpu/online, uptime), each container
// its own, and the service behind them survives a kill -9 of its server without the
// containers noticing more than a moment.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace kapsel::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class ProcfsContainer : public ImageStoreTest {
  protected:
    void SetUp() override {
        ImageStoreTest::SetUp();
        REQUIRE_PATH("/dev/fuse", "the procfs service needs FUSE");
    }
    std::string service_dir() { return root() + "/state/procfs"; }
    std::string service_log() {
        std::ifstream f(service_dir() + "/log");
        return std::string(std::istreambuf_iterator<char>(f), {});
    }
    pid_t keeper() {
        std::ifstream f(service_dir() + "/keeper.pid");
        pid_t pid = 0;
        f >> pid;
        return pid;
    }
    // The server is the keeper's only child.
    pid_t server() {
        pid_t k = keeper();
        std::ifstream f("/proc/" + std::to_string(k) + "/task/" + std::to_string(k) + "/children");
        pid_t pid = 0;
        f >> pid;
        return pid;
    }
    static long rss_kb(pid_t pid) {
        std::ifstream f("/proc/" + std::to_string(pid) + "/status");
        for (std::string line; std::getline(f, line);)
            if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
        return -1;
    }
    static bool mounted(const std::string& path) {
        std::ifstream mi("/proc/self/mountinfo");
        for (std::string line; std::getline(mi, line);) {
            std::istringstream is(line);
            std::string f[5];
            for (auto& x : f) is >> x;
            if (f[4] == path) return true;
        }
        return false;
    }
    static std::string field(const std::string& text, const std::string& key) {
        std::istringstream is(text);
        for (std::string line; std::getline(is, line);)
            if (line.rfind(key, 0) == 0) return line;
        return "";
    }
};

TEST_F(ProcfsContainer, ALimitedContainerSeesItsMemoryCpusAndAge) {
    std::string out = sh(
        "free -m | grep Mem: ; grep MemTotal /proc/meminfo; nproc; grep -c ^processor "
        "/proc/cpuinfo; cat /sys/devices/system/cpu/online; ls /sys/devices/system/cpu | grep -c "
        "'^cpu[0-9]'; cut -d' ' -f1 /proc/uptime; uptime",
        {"--memory", "256m", "--cpus", "1"});
    std::istringstream is(out);
    std::string free_line, meminfo, nproc, processors, online, cpu_dirs, uptime, uptime_cmd;
    std::getline(is, free_line);
    std::getline(is, meminfo);
    std::getline(is, nproc);
    std::getline(is, processors);
    std::getline(is, online);
    std::getline(is, cpu_dirs);
    std::getline(is, uptime);
    std::getline(is, uptime_cmd);
    std::istringstream fl(free_line);
    std::string label;
    long total = 0;
    fl >> label >> total;
    EXPECT_EQ(256, total) << "free -m (sysinfo): " << out;
    EXPECT_EQ("MemTotal:         262144 kB", meminfo) << "/proc/meminfo agrees with free";
    EXPECT_EQ("1", nproc) << "nproc (sched_getaffinity)";
    EXPECT_EQ("1", processors) << "/proc/cpuinfo";
    EXPECT_EQ("0", online);
    EXPECT_EQ("1", cpu_dirs) << "the cpuN entries are the container's";
    EXPECT_LT(std::stod(uptime), 5.0) << "uptime counts from the container's start";
    EXPECT_NE(std::string::npos, uptime_cmd.find("up 0 min")) << uptime_cmd;
}

TEST_F(ProcfsContainer, ProcfsFalseShowsTheHostsNumbers) {
    std::ifstream host("/proc/meminfo");
    std::string host_total;
    std::getline(host, host_total);
    std::string out = sh("grep MemTotal /proc/meminfo; grep -c ^processor /proc/cpuinfo",
                         {"--procfs=false", "--memory", "256m"});
    EXPECT_EQ(host_total + "\n" + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + "\n", out);
    EXPECT_EQ(0, k({"run", "--rm", "--procfs=false", kImage, "true"}).code);
}

TEST_F(ProcfsContainer, WithoutItsServerRunWarnsAndShowsTheHostsFilesUnlessAskedFor) {
    // A kapsel installed without kapsel-procfs beside it (nor in its libexec directory).
    TempDir bin;
    std::string lone = bin.path() + "/kapsel";
    ASSERT_EQ(0, run_program({"/bin/cp", kapsel_binary(), lone}).code);
    if (access(KAPSEL_LIBEXEC_PROCFS, X_OK) == 0) GTEST_SKIP() << "skipped: kapsel-procfs is installed";
    auto run = [&](std::vector<std::string> args) {
        std::vector<std::string> argv = {lone, "--root", root() + "/state", "--storage-root", store()};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_program(argv, "", 30000);
    };
    Output plain = run({"run", "--rm", "--memory", "256m", kImage, "grep", "MemTotal", "/proc/meminfo"});
    EXPECT_EQ(0, plain.code) << plain.err;
    EXPECT_NE("MemTotal:         262144 kB\n", plain.out) << "the host's file";
    EXPECT_NE(std::string::npos, plain.err.find("warning: the container sees the host's /proc"))
        << plain.err;
    Output asked = run({"run", "--rm", "--procfs", kImage, "true"});
    EXPECT_NE(0, asked.code);
    EXPECT_NE(std::string::npos, asked.err.find("kapsel-procfs")) << asked.err;
    EXPECT_TRUE(containers().empty()) << "a refused run leaves nothing: " << containers().dump();
}

TEST_F(ProcfsContainer, InspectAndFeaturesSayWhetherItIsOn) {
    ASSERT_EQ(0, k({"run", "-d", "--name", "on", kImage, "sleep", "60"}).code);
    ASSERT_EQ(0, k({"run", "-d", "--name", "off", "--procfs=false", kImage, "sleep", "60"}).code);
    auto on = json::parse(k({"inspect", "on"}).out);
    auto off = json::parse(k({"inspect", "off"}).out);
    auto first = [](const json& j) { return j.is_array() ? j[0] : j; };
    EXPECT_EQ(true, first(on)["Procfs"]["Enabled"]) << on.dump();
    EXPECT_EQ(true, first(on)["Procfs"]["ServiceRunning"]);
    EXPECT_EQ(false, first(off)["Procfs"]["Enabled"]);
    auto features = json::parse(kapsel({"features"}).out);
    EXPECT_EQ("true", features["annotations"]["run.kapsel.procfs.available"]);
    EXPECT_EQ("true", features["annotations"]["run.kapsel.procfs.running"]);
}

TEST_F(ProcfsContainer, TenContainersWithDifferentLimitsEachSeeTheirOwn) {
    // Ten at once, each reading its files in a loop for a while, so that their reads
    // reach the one server interleaved.
    for (int i = 1; i <= 10; ++i) {
        std::string n = std::to_string(i);
        Output o = k({"run", "-d", "--name", "c" + n, "--memory", std::to_string(32 * i) + "m", kImage,
                      "sh", "-c",
                      "for r in 1 2 3 4 5 6 7 8 9 10; do grep MemTotal /proc/meminfo; free -k | "
                      "grep Mem: ; done; sleep 60"});
        ASSERT_EQ(0, o.code) << o.err;
    }
    for (int i = 1; i <= 10; ++i) {
        std::string name = "c" + std::to_string(i);
        std::string want_kb = std::to_string(32 * 1024 * i);
        std::string log;
        for (auto until = Clock::now() + 20s; Clock::now() < until; std::this_thread::sleep_for(50ms)) {
            log = k({"logs", name}).out;
            if (std::count(log.begin(), log.end(), '\n') >= 20) break;
        }
        std::istringstream is(log);
        int lines = 0;
        for (std::string line; std::getline(is, line); ++lines) {
            std::istringstream ls(line);
            std::string key, value;
            ls >> key >> value;
            EXPECT_EQ(want_kb, value) << name << ": " << line;
        }
        EXPECT_EQ(20, lines) << name << ": " << log;
    }
}

TEST_F(ProcfsContainer, ACpusetLimitedContainerSeesItsCpus) {
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) GTEST_SKIP() << "skipped: needs two CPUs";
    // A low-level container pinned to the host's CPU 1 with the annotation: one CPU,
    // numbered 0 inside, whose cpuinfo block is the host's CPU 1's.
    Bundle b("nproc; grep -c ^processor /proc/cpuinfo; cat /sys/devices/system/cpu/online; "
             "grep -m1 '^core id' /proc/cpuinfo || true");
    b.config["annotations"]["run.kapsel.procfs"] = "true";
    b.config["linux"]["resources"]["cpu"]["cpus"] = "1";
    b.config["linux"]["resources"]["cpu"]["mems"] = "0";
    Output o = run(b, "pinned");
    ASSERT_EQ(0, o.code) << o.err;
    std::istringstream is(o.out);
    std::string nproc, processors, online;
    std::getline(is, nproc);
    std::getline(is, processors);
    std::getline(is, online);
    EXPECT_EQ("1", nproc);
    EXPECT_EQ("1", processors);
    EXPECT_EQ("0", online);
}

TEST_F(ProcfsContainer, TheAnnotationTurnsItOnForALowLevelContainer) {
    Bundle b("grep MemTotal /proc/meminfo");
    b.config["annotations"]["run.kapsel.procfs"] = "true";
    b.config["linux"]["resources"]["memory"]["limit"] = 128 << 20;
    Output o = run(b, "annotated");
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_EQ("MemTotal:         131072 kB\n", o.out);
    Bundle bad("true");
    bad.config["annotations"]["run.kapsel.procfs"] = "yes";
    Output refused = run(bad, "bad");
    EXPECT_NE(0, refused.code);
    EXPECT_NE(std::string::npos, refused.err.find("run.kapsel.procfs")) << refused.err;
}

TEST_F(ProcfsContainer, AKilledServerIsReplacedAndReadsWorkAgainWithinASecond) {
    // Five containers read their files in a tight loop, each line saying whether the
    // read worked; the server is killed with SIGKILL under them.
    for (int i = 1; i <= 5; ++i) {
        Output o = k({"run", "-d", "--name", "r" + std::to_string(i), "--memory", "128m", kImage,
                      "sh", "-c",
                      "while true; do if grep -q MemTotal /proc/meminfo 2>/dev/null; then echo "
                      "ok; else echo failed; fi; done"});
        ASSERT_EQ(0, o.code) << o.err;
    }
    pid_t old_server = server();
    ASSERT_GT(old_server, 0);
    std::this_thread::sleep_for(300ms);
    ASSERT_EQ(0, kill(old_server, SIGKILL));
    auto killed = Clock::now();
    // Each container reads again: an exec in each, all five at once, sees its own file
    // within a second.
    std::vector<std::future<bool>> reads;
    for (int i = 1; i <= 5; ++i) {
        reads.push_back(std::async(std::launch::async, [this, killed, i] {
            while (Clock::now() - killed < 1s) {
                Output o = k({"exec", "r" + std::to_string(i), "grep", "MemTotal", "/proc/meminfo"});
                if (o.code == 0 && o.out == "MemTotal:         131072 kB\n") return true;
                std::this_thread::sleep_for(20ms);
            }
            return false;
        }));
    }
    for (int i = 1; i <= 5; ++i)
        EXPECT_TRUE(reads[i - 1].get()) << "r" << i << " could not read its meminfo within 1 s "
                                        << "of the kill; the service said: " << service_log();
    EXPECT_GT(server(), 0);
    EXPECT_NE(old_server, server()) << "a new server serves";
    // The loops went on: each has read successfully since (no reader hung).
    std::this_thread::sleep_for(500ms);
    for (int i = 1; i <= 5; ++i) {
        std::string name = "r" + std::to_string(i);
        std::string before = k({"logs", name}).out;
        std::this_thread::sleep_for(300ms);
        std::string after = k({"logs", name}).out;
        EXPECT_GT(after.size(), before.size()) << name << "'s reads stopped";
        EXPECT_EQ("ok\n", after.substr(after.size() - 3)) << name;
    }
}

TEST_F(ProcfsContainer, TheServiceEndsAfterTheLastContainerAndLeavesNoMount) {
    std::vector<std::string> env = {"KAPSEL_PROCFS_LINGER=0"};
    ASSERT_EQ(0, k({"run", "-d", "--name", "a", kImage, "sleep", "60"}, env).code);
    ASSERT_EQ(0, k({"run", "-d", "--name", "b", kImage, "sleep", "60"}, env).code);
    std::string mnt = service_dir() + "/mnt";
    pid_t kp = keeper();
    ASSERT_GT(kp, 0);
    EXPECT_TRUE(mounted(mnt));
    ASSERT_EQ(0, k({"rm", "-f", "a"}, env).code);
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(0, kill(kp, 0)) << "b still uses the service";
    ASSERT_EQ(0, k({"rm", "-f", "b"}, env).code);
    bool gone = false;
    for (auto until = Clock::now() + 5s; Clock::now() < until && !gone; std::this_thread::sleep_for(50ms))
        gone = kill(kp, 0) != 0 && !mounted(mnt);
    EXPECT_TRUE(gone) << "the service still runs or its mount is left";
    // And a new container starts it again.
    EXPECT_EQ("MemTotal:          65536 kB\n",
              sh("grep MemTotal /proc/meminfo", {"--memory", "64m"}));
}

TEST_F(ProcfsContainer, TwoHundredContainersLeaveTheServersMemoryFlat) {
    // The first cycles settle the server's arenas and caches; after them 200 more
    // containers, each reading every file once, must not make it grow.
    const std::string script =
        "cat /proc/meminfo /proc/cpuinfo /proc/stat /proc/uptime /proc/loadavg /proc/swaps "
        "/proc/diskstats /sys/devices/system/cpu/online >/dev/null; free >/dev/null; nproc "
        ">/dev/null";
    // Each measure after a load sample (every 5 s), which drops the containers that are
    // gone and gives their memory back.
    for (int i = 0; i < 20; ++i) sh(script, {"--memory", std::to_string(64 + i) + "m"});
    pid_t s = server();
    ASSERT_GT(s, 0);
    std::this_thread::sleep_for(6s);
    long before = rss_kb(s);
    for (int i = 0; i < 200; ++i) sh(script, {"--memory", std::to_string(64 + i) + "m"});
    ASSERT_EQ(s, server()) << "the server was restarted";
    std::this_thread::sleep_for(6s);
    long after = rss_kb(s);
    EXPECT_LE(after, before + 256) << "RSS " << before << " kB -> " << after << " kB";
}

}  // namespace
}  // namespace kapsel::test
