// Resource limits through the container's cgroup, on whatever the host mounts:
// cgroup v1 or hybrid here, pure cgroup v2 in the qemu guest
// (scripts/qemu-cgroup2-tests runs the Cgroup* tests there).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "harness.hpp"

namespace kapsel::test {
namespace {

class Cgroup : public KapselTest {
protected:
    // The first of `files` that exists in one of the container's cgroup
    // directories, read and trimmed; "" if none does. Lets one test name the v1
    // and the v2 file for the same setting.
    std::string cg_read(const std::string& id, std::initializer_list<const char*> files) {
        for (auto* f : files)
            for (auto& d : cgroup_dirs(id)) {
                std::ifstream in(d + "/" + f);
                if (!in) continue;
                std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
                while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
                return s;
            }
        return "";
    }
    bool v2() { return access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0; }

    void create_started(Bundle& b, const std::string& id) {
        b.write();
        Output c = kapsel({"create", "--bundle", b.dir(), id});
        ASSERT_EQ(0, c.code) << c.err;
        ASSERT_EQ(0, kapsel({"start", id}).code);
    }
    void wait_stopped(const std::string& id, int ms = 10000) {
        for (int i = 0; i < ms / 20 && state(id)["status"] != "stopped"; ++i) usleep(20000);
    }
};

TEST_F(Cgroup, LimitsAreInPlaceBeforeTheProcessRuns) {
    Bundle b("sleep 30");
    b.config["linux"]["resources"] = {
        {"memory", {{"limit", 64 * 1024 * 1024}}},
        {"pids", {{"limit", 33}}},
        {"cpu", {{"shares", 512}, {"quota", 50000}, {"period", 100000}}},
    };
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "c1"}).code);
    EXPECT_EQ("67108864", cg_read("c1", {"memory.limit_in_bytes", "memory.max"}));
    EXPECT_EQ("33", cg_read("c1", {"pids.max"}));
    if (v2()) {
        EXPECT_EQ("50000 100000", cg_read("c1", {"cpu.max"}));
        EXPECT_EQ("20", cg_read("c1", {"cpu.weight"})) << "shares 512 -> weight 20";
    } else {
        EXPECT_EQ("50000", cg_read("c1", {"cpu.cfs_quota_us"}));
        EXPECT_EQ("512", cg_read("c1", {"cpu.shares"}));
    }
}

TEST_F(Cgroup, TheInitAndWhatItStartsAreInEveryHierarchy) {
    // The init joins the v1 hierarchies itself and is cloned into the v2 one; a created
    // container's init must already be in all of them, and its children follow it.
    Bundle b("sleep 30 & echo $! > /tmp/child; wait");
    b.config["mounts"].push_back({{"destination", "/tmp"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "c1"}).code);
    std::string init = std::to_string(state("c1")["pid"].get<int>());
    auto dirs = cgroup_dirs("c1");
    ASSERT_FALSE(dirs.empty());
    auto holds = [](const std::string& dir, const std::string& pid) {
        std::ifstream in(dir + "/cgroup.procs");
        for (std::string line; std::getline(in, line);)
            if (line == pid) return true;
        return false;
    };
    for (auto& d : dirs) EXPECT_TRUE(holds(d, init)) << "created: init " << init << " not in " << d;
    ASSERT_EQ(0, kapsel({"start", "c1"}).code);
    std::vector<std::string> pids;
    for (int i = 0; i < 250 && pids.size() < 2; ++i) {
        usleep(20000);
        std::ifstream in(dirs.front() + "/cgroup.procs");
        pids.clear();
        for (std::string line; std::getline(in, line);) pids.push_back(line);
    }
    ASSERT_EQ(2u, pids.size()) << "the init and its sleep";
    for (auto& d : dirs)
        for (auto& p : pids) EXPECT_TRUE(holds(d, p)) << "started: " << p << " not in " << d;
}

TEST_F(Cgroup, CpusetAndSwap) {
    Bundle b("true");
    b.config["linux"]["resources"] = {{"cpu", {{"cpus", "0"}, {"mems", "0"}}},
                                      {"memory", {{"limit", 64 << 20}, {"swap", 96 << 20}}}};
    b.write();
    Output o = kapsel({"create", "--bundle", b.dir(), "c1"});
    if (o.code != 0 && o.err.find("memsw") != std::string::npos) GTEST_SKIP() << "skipped: no swap accounting: " << o.err;
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_EQ("0", cg_read("c1", {"cpuset.cpus"}));
    if (v2())
        EXPECT_EQ(std::to_string(32 << 20), cg_read("c1", {"memory.swap.max"})) << "v2 limits swap alone";
    else
        EXPECT_EQ(std::to_string(96 << 20), cg_read("c1", {"memory.memsw.limit_in_bytes"}));
}

TEST_F(Cgroup, DevicesDenyWhatTheConfigDoesNotAllow) {
    // /dev/net/tun (10:200) is made in the container; opening it needs no
    // capability, so only the device cgroup decides.
    auto run_with = [&](bool allow) {
        Bundle b("(exec 3< /dev/net/tun) 2>/dev/null && echo readable || echo denied");
        b.config["linux"]["devices"] = {{{"path", "/dev/net/tun"}, {"type", "c"}, {"major", 10}, {"minor", 200}}};
        b.config["linux"]["resources"]["devices"] = {{{"allow", false}, {"access", "rwm"}}};
        if (allow)
            b.config["linux"]["resources"]["devices"].push_back(
                {{"allow", true}, {"type", "c"}, {"major", 10}, {"minor", 200}, {"access", "r"}});
        return run(b, allow ? "allowed" : "denied");
    };
    EXPECT_EQ("denied\n", run_with(false).out);
    EXPECT_EQ("readable\n", run_with(true).out);
}

TEST_F(Cgroup, DefaultDevicesStayUsableUnderDenyAll) {
    Bundle b("echo x > /dev/null && head -c 3 /dev/zero | wc -c && head -c 3 /dev/urandom | wc -c");
    b.config["linux"]["resources"]["devices"] = {{{"allow", false}, {"access", "rwm"}}};
    Output o = run(b);
    EXPECT_EQ("3\n3\n", o.out) << o.err;
}

TEST_F(Cgroup, ALimitTheHostCannotApplyIsAnErrorNamingTheFile) {
    Bundle b("true");
    b.config["linux"]["resources"]["cpu"] = {{"cpus", "4095"}};
    b.write();
    Output o = kapsel({"create", "--bundle", b.dir(), "c1"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("cpuset.cpus")) << o.err;
    expect_nothing_left("c1", b);
}

TEST_F(Cgroup, AbsoluteCgroupsPathAndItsParentsAreRemoved) {
    Bundle b("true");
    std::string parent = "kapsel-test-" + std::to_string(getpid());
    b.config["linux"]["cgroupsPath"] = "/" + parent + "/inner";
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "c1"}).code);
    auto dirs = cgroup_dirs("c1");
    ASSERT_FALSE(dirs.empty());
    for (auto& d : dirs) EXPECT_NE(std::string::npos, d.find("/" + parent + "/inner")) << d;
    ASSERT_EQ(0, kapsel({"delete", "--force", "c1"}).code);
    Output found = run_program({"/usr/bin/find", "/sys/fs/cgroup", "-maxdepth", "3", "-name", parent});
    EXPECT_EQ("", found.out) << "the parent kapsel made is gone too";
}

TEST_F(Cgroup, ForkBombStopsAtThePidsLimitAndTheHostKeepsWorking) {
    Bundle b("bomb() { bomb | bomb & }; bomb; sleep 30");
    b.config["linux"]["resources"]["pids"] = {{"limit", 25}};
    create_started(b, "bomb");
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    long current = std::stol("0" + cg_read("bomb", {"pids.current"}));
    EXPECT_LE(current, 25);
    EXPECT_GE(current, 20) << "the bomb really ran into the limit";
    EXPECT_EQ(0, run_program({"/bin/true"}).code) << "the host can still start processes";
    EXPECT_EQ(0, kapsel({"delete", "--force", "bomb"}).code);
}

TEST_F(Cgroup, MemoryHogIsOomKilledInsideItsContainerAndEventsReportIt) {
    // tail keeps its whole current line in memory; /dev/zero has no newline.
    Bundle b("sleep 0.5; head -c 200000000 /dev/zero | tail > /dev/null; echo hog-exit=$?; sleep 1");
    b.config["linux"]["resources"]["memory"] = {{"limit", 32 << 20}};
    if (!v2()) b.config["linux"]["resources"]["memory"]["swap"] = 32 << 20;
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "hog"}).code);
    std::string evlog = root() + "/events.log";
    std::string cmd = kapsel_binary() + " --root " + root() + "/state events --interval 1s hog > " + evlog;
    pid_t ev = fork();
    if (ev == 0) {
        execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
        _exit(127);
    }
    usleep(200000);
    Output out;
    std::thread reader([&] {
        out = kapsel({"start", "hog"});
    });
    reader.join();
    wait_stopped("hog");
    int status = 0;
    for (int i = 0; i < 100 && waitpid(ev, &status, WNOHANG) == 0; ++i) usleep(50000);
    kill(ev, SIGKILL);
    waitpid(ev, nullptr, WNOHANG);
    std::ifstream f(evlog);
    std::string log((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_NE(std::string::npos, log.find("\"type\":\"oom\"")) << log.substr(0, 400);
    EXPECT_NE(std::string::npos, log.find("\"type\":\"stats\""));
    EXPECT_EQ(0, run_program({"/bin/true"}).code) << "the host is fine";
}

TEST_F(Cgroup, OomKillReachesOnlyTheHogAndKapselReportsIt) {
    // The hog's pipeline asks to be the OOM killer's first choice, so that a second
    // OOM kill while a busy machine is still tearing tail down takes head, never the
    // container's shell (whose survival is the point).
    Bundle b("(echo 1000 > /proc/self/oom_score_adj; exec head -c 200000000 /dev/zero) | "
             "(echo 1000 > /proc/self/oom_score_adj; exec tail) > /dev/null; echo hog-exit=$?");
    b.config["linux"]["resources"]["memory"] = {{"limit", 32 << 20}};
    if (!v2()) b.config["linux"]["resources"]["memory"]["swap"] = 32 << 20;
    Output o = run(b, "hog2");
    EXPECT_EQ(0, o.code) << "the container's shell survives: " << o.err;
    EXPECT_EQ("hog-exit=137\n", o.out) << "tail was killed by SIGKILL (the OOM killer)";
}

TEST_F(Cgroup, CpuHogGetsAboutItsQuota) {
    Bundle b("while :; do :; done");
    b.config["linux"]["resources"]["cpu"] = {{"quota", 20000}, {"period", 100000}};
    create_started(b, "cpu");
    auto t0 = std::chrono::steady_clock::now();
    json first = json::parse(kapsel({"events", "--stats", "cpu"}).out);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    json second = json::parse(kapsel({"events", "--stats", "cpu"}).out);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double used = (second["data"]["cpu"]["usage"]["total"].get<double>() - first["data"]["cpu"]["usage"]["total"].get<double>()) / 1e9;
    double share = used / wall;
    EXPECT_LE(share, 0.30) << "20% quota, got " << share;
    EXPECT_GE(share, 0.05) << "the hog ran at all: " << share;
    EXPECT_GT(second["data"]["cpu"]["throttling"]["throttled_periods"].get<uint64_t>(), 0u);
}

TEST_F(Cgroup, PauseFreezesAndResumeThaws) {
    // Written aside and renamed: a read never meets the file truncated and empty.
    Bundle b(
        "i=0; while :; do i=$((i+1)); echo $i > /dev/shm/next; mv /dev/shm/next /dev/shm/count;"
        " sleep 0.02; done");
    create_started(b, "p1");
    usleep(300000);
    ASSERT_EQ(0, kapsel({"pause", "p1"}).code);
    EXPECT_EQ("paused", state("p1")["status"]);
    json list = json::parse(kapsel({"list", "--format", "json"}).out);
    EXPECT_EQ("paused", list[0]["status"]);
    int pid = state("p1")["pid"];
    auto count = [&] {
        std::ifstream f("/proc/" + std::to_string(pid) + "/root/dev/shm/count");
        long n = 0;
        f >> n;
        return n;
    };
    long a = count();
    usleep(300000);
    EXPECT_EQ(a, count()) << "no progress while paused";
    EXPECT_EQ(1, kapsel({"pause", "p1"}).code) << "pausing twice is an error";
    ASSERT_EQ(0, kapsel({"resume", "p1"}).code);
    EXPECT_EQ("running", state("p1")["status"]);
    usleep(300000);
    EXPECT_GT(count(), a) << "runs again";
    EXPECT_EQ(1, kapsel({"resume", "p1"}).code) << "resuming a running container is an error";
    // A paused container can be deleted with --force.
    ASSERT_EQ(0, kapsel({"pause", "p1"}).code);
    EXPECT_EQ(1, kapsel({"delete", "p1"}).code);
    EXPECT_EQ(0, kapsel({"delete", "--force", "p1"}).code);
}

TEST_F(Cgroup, UpdateWithRuncsFlagsAndAResourcesFile) {
    Bundle b("sleep 30");
    b.config["linux"]["resources"] = {{"memory", {{"limit", 64 << 20}}}, {"pids", {{"limit", 40}}}};
    create_started(b, "u1");
    ASSERT_EQ(0, kapsel({"update", "--memory", "128m", "--pids-limit", "77", "--cpu-shares", "256", "u1"}).code);
    EXPECT_EQ(std::to_string(128 << 20), cg_read("u1", {"memory.limit_in_bytes", "memory.max"}));
    EXPECT_EQ("77", cg_read("u1", {"pids.max"}));
    std::ofstream(b.dir() + "/r.json") << R"({"pids": {"limit": 88}, "cpu": {"quota": 30000, "period": 100000}})";
    Output r = kapsel({"update", "-r", b.dir() + "/r.json", "u1"});
    ASSERT_EQ(0, r.code) << r.err;
    EXPECT_EQ("88", cg_read("u1", {"pids.max"}));
    EXPECT_EQ(v2() ? "30000 100000" : "30000", cg_read("u1", {"cpu.max", "cpu.cfs_quota_us"}));
    Output stdin_update = kapsel({"update", "--resources", "-", "u1"}, R"({"pids": {"limit": 99}})");
    EXPECT_EQ(0, stdin_update.code) << stdin_update.err;
    EXPECT_EQ("99", cg_read("u1", {"pids.max"}));
    std::ifstream cfg(root() + "/state/u1/config.json");
    json stored = json::parse(cfg);
    EXPECT_EQ(99, stored["linux"]["resources"]["pids"]["limit"]) << "the stored config follows";
    EXPECT_EQ(128 << 20, stored["linux"]["resources"]["memory"]["limit"]);
    // runc's own spelling of the flag.
    Output share = kapsel({"update", "--cpu-share", "512", "u1"});
    EXPECT_EQ(0, share.code) << share.err;
    if (!v2()) EXPECT_EQ("512", cg_read("u1", {"cpu.shares"}));
    Output bad = kapsel({"update", "--memory", "lots", "u1"});
    EXPECT_EQ(1, bad.code);
    EXPECT_NE(std::string::npos, bad.err.find("--memory")) << bad.err;
}

TEST_F(Cgroup, UpdateMemoryMinusOneLiftsASwapLimitToo) {
    Bundle b("sleep 30");
    b.config["linux"]["resources"]["memory"] = {{"limit", 64 << 20}, {"swap", 96 << 20}};
    b.write();
    Output c = kapsel({"create", "--bundle", b.dir(), "m1"});
    if (c.code != 0 && c.err.find("memsw") != std::string::npos)
        GTEST_SKIP() << "skipped: no swap accounting: " << c.err;
    ASSERT_EQ(0, c.code) << c.err;
    // As runc: no memory+swap below an unlimited memory limit, so both are lifted.
    Output o = kapsel({"update", "--memory", "-1", "m1"});
    ASSERT_EQ(0, o.code) << o.err;
    if (v2()) {
        EXPECT_EQ("max", cg_read("m1", {"memory.max"}));
        EXPECT_EQ("max", cg_read("m1", {"memory.swap.max"}));
    } else {
        // "Unlimited" reads back as the largest page-aligned value.
        EXPECT_GT(std::stoull(cg_read("m1", {"memory.limit_in_bytes"})), 1ull << 60);
        EXPECT_GT(std::stoull(cg_read("m1", {"memory.memsw.limit_in_bytes"})), 1ull << 60);
    }
    std::ifstream cfg(root() + "/state/m1/config.json");
    json stored = json::parse(cfg);
    EXPECT_EQ(-1, stored["linux"]["resources"]["memory"]["limit"]);
    EXPECT_EQ(-1, stored["linux"]["resources"]["memory"]["swap"])
        << "the stored config says what was applied";
    // And back: a limit again keeps the swap lifted (it was lifted, not forgotten).
    Output again = kapsel({"update", "--memory", "32m", "--memory-swap", "48m", "m1"});
    EXPECT_EQ(0, again.code) << again.err;
    EXPECT_EQ(std::to_string(32 << 20), cg_read("m1", {"memory.limit_in_bytes", "memory.max"}));
}

TEST_F(Cgroup, UpdateCpuPeriodAndQuotaInsideAParentWithItsOwnQuota) {
    if (v2())
        GTEST_SKIP() << "skipped: cgroup v2 clamps a child to its parent's quota instead of "
                        "refusing the write";
    const std::string cpu = "/sys/fs/cgroup/cpu";
    REQUIRE_PATH("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "CFS bandwidth control on cgroup v1");
    // A parent allowing half a CPU, made by the test (as a pod's cgroup would be).
    std::string parent = "kapsel-test-quota-" + std::to_string(getpid());
    ASSERT_EQ(0, mkdir((cpu + "/" + parent).c_str(), 0755));
    struct Rmdir {
        std::string path;
        ~Rmdir() { rmdir(path.c_str()); }
    } cleanup{cpu + "/" + parent};
    std::ofstream(cpu + "/" + parent + "/cpu.cfs_quota_us") << "50000";
    ASSERT_EQ("50000", [&] {
        std::ifstream in(cpu + "/" + parent + "/cpu.cfs_quota_us");
        std::string v;
        in >> v;
        return v;
    }());
    Bundle b("sleep 30");
    b.config["linux"]["cgroupsPath"] = "/" + parent + "/ctr";
    b.config["linux"]["resources"]["cpu"] = {{"quota", 50000}, {"period", 100000}};
    create_started(b, "q1");
    // 20000/50000 fits the parent's half, but the period first (the old quota
    // 50000 over 50000) would be a whole CPU: refused. runc then writes the quota
    // and the period again.
    Output o = kapsel({"update", "--cpu-period", "50000", "--cpu-quota", "20000", "q1"});
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ("50000", cg_read("q1", {"cpu.cfs_period_us"}));
    EXPECT_EQ("20000", cg_read("q1", {"cpu.cfs_quota_us"}));
    // And back up: the period first passes (20000 over 100000), then the quota.
    Output up = kapsel({"update", "--cpu-period", "100000", "--cpu-quota", "50000", "q1"});
    EXPECT_EQ(0, up.code) << up.err;
    EXPECT_EQ("100000", cg_read("q1", {"cpu.cfs_period_us"}));
    EXPECT_EQ("50000", cg_read("q1", {"cpu.cfs_quota_us"}));
    // More than the parent allows stays an error naming the file.
    Output over = kapsel({"update", "--cpu-quota", "80000", "q1"});
    EXPECT_EQ(1, over.code);
    EXPECT_NE(std::string::npos, over.err.find("cpu.cfs_quota_us")) << over.err;
    ASSERT_EQ(0, kapsel({"delete", "--force", "q1"}).code);
}

TEST_F(Cgroup, UpdateBelowUsageIsRefusedOrHonouredAsTheKernelDecides) {
    // 40 MB in a tmpfs file are charged to the container and cannot be reclaimed without swap.
    Bundle b("head -c 40000000 /dev/zero > /dev/shm/fill; sleep 30");
    b.config["linux"]["resources"]["memory"] = {{"limit", 128 << 20}};
    create_started(b, "u2");
    // Wait until the 40 MB are really charged (slow in the qemu guest).
    for (int i = 0; i < 300; ++i) {
        if (std::stol("0" + cg_read("u2", {"memory.usage_in_bytes", "memory.current"})) >= 40000000) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Output checked = kapsel({"update", "-r", "-", "u2"},
                            R"({"memory": {"limit": 16777216, "checkBeforeUpdate": true}})");
    EXPECT_EQ(1, checked.code);
    EXPECT_NE(std::string::npos, checked.err.find("below the current usage")) << checked.err;
    Output o = kapsel({"update", "--memory", "16m", "u2"});
    if (o.code == 0) {
        EXPECT_EQ(std::to_string(16 << 20), cg_read("u2", {"memory.limit_in_bytes", "memory.max"}));
        // cgroup v1 takes a lower limit only once it has reclaimed down to it; v2
        // takes it at once and then reclaims, or OOM-kills, as it can (tmpfs
        // pages without swap it can do neither for).
        if (!v2()) {
            long usage = std::stol("0" + cg_read("u2", {"memory.usage_in_bytes"}));
            EXPECT_LE(usage, 16 << 20);
        }
    } else {
        EXPECT_NE(std::string::npos, o.err.find(v2() ? "memory.max" : "memory.limit_in_bytes")) << o.err;
        EXPECT_EQ(std::to_string(128 << 20), cg_read("u2", {"memory.limit_in_bytes", "memory.max"}))
            << "a refused update leaves the old limit";
    }
}

TEST_F(Cgroup, UpdateOfAStoppedContainerIsAnError) {
    Bundle b("true");
    ASSERT_EQ(0, run(b, "s1", {"--keep"}).code);
    Output o = kapsel({"update", "--pids-limit", "10", "s1"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("stopped")) << o.err;
}

TEST_F(Cgroup, PsListsTheContainersProcesses) {
    Bundle b("sleep 30 & sleep 31 & wait");
    create_started(b, "ps1");
    usleep(300000);
    json pids = json::parse(kapsel({"ps", "--format", "json", "ps1"}).out);
    EXPECT_EQ(3u, pids.size()) << pids;
    Output table = kapsel({"ps", "ps1"});
    EXPECT_NE(std::string::npos, table.out.find("PID")) << table.out;
    EXPECT_NE(std::string::npos, table.out.find("sleep 31")) << table.out;
    Output custom = kapsel({"ps", "ps1", "-o", "pid,comm"});
    EXPECT_EQ(0, custom.code) << custom.err;
    EXPECT_NE(std::string::npos, custom.out.find("sleep")) << custom.out;
}

TEST_F(Cgroup, EventsStatsHasRuncsFields) {
    Bundle b("sleep 30");
    b.config["linux"]["resources"]["pids"] = {{"limit", 12}};
    create_started(b, "e1");
    Output o = kapsel({"events", "--stats", "e1"});
    ASSERT_EQ(0, o.code) << o.err;
    // runc's key order, for tools that match the line literally.
    EXPECT_EQ(0u, o.out.rfind(R"({"type":"stats","id":"e1","data":{)", 0)) << o.out.substr(0, 80);
    json e = json::parse(o.out);
    EXPECT_EQ("stats", e["type"]);
    EXPECT_EQ("e1", e["id"]);
    EXPECT_EQ(12, e["data"]["pids"]["limit"]);
    EXPECT_GE(e["data"]["pids"]["current"].get<int>(), 1);
    EXPECT_GT(e["data"]["memory"]["usage"]["usage"].get<uint64_t>(), 0u);
    EXPECT_TRUE(e["data"]["cpu"]["usage"].contains("total"));
    EXPECT_TRUE(e["data"].contains("blkio"));
    EXPECT_TRUE(e["data"].contains("hugetlb"));
}

TEST_F(Cgroup, EventsStreamEndsWhenTheContainerStops) {
    Bundle b("sleep 1");
    create_started(b, "e2");
    auto t0 = std::chrono::steady_clock::now();
    Output o = kapsel({"events", "--interval", "200ms", "e2"}, "", 15000);
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
    EXPECT_GE(std::count(o.out.begin(), o.out.end(), '\n'), 2) << o.out;
}

}  // namespace
}  // namespace kapsel::test
