// The runc-compatible lifecycle: create, start, state, kill, delete, run, list.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "harness.hpp"

namespace kapsel::test {
namespace {

using Lifecycle = KapselTest;

TEST_F(Lifecycle, RunPrintsFromInsideAndReturnsTheExitCode) {
    Bundle b("echo hello from inside; exit 3");
    Output o = run(b);
    EXPECT_EQ(3, o.code) << o.err;
    EXPECT_EQ("hello from inside\n", o.out);
    EXPECT_NE(0, kapsel({"state", "c1"}).code) << "run deletes the container after it exits";
}

TEST_F(Lifecycle, RunReportsASignalDeathAs128PlusSignal) {
    // pid 1 of a pid namespace ignores signals it has no handler for, except
    // SIGKILL from outside: kill it from outside.
    Bundle b("sleep 100");
    b.write();
    std::string cmd = kapsel_binary() + " --root " + root() + "/state run --bundle " + b.dir() +
                      " c1 & k=$!; sleep 0.3; " + kapsel_binary() + " --root " + root() +
                      "/state kill c1 KILL; wait $k; echo rc=$?";
    Output o = run_program({"/bin/sh", "-c", cmd});
    EXPECT_NE(std::string::npos, o.out.find("rc=137")) << o.out << o.err;
}

TEST_F(Lifecycle, CreateWaitsForStartThenTheProcessRuns) {
    Bundle b;
    b.own_rootfs();
    b.set_script("echo started > /marker");
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "c1"}).code);
    json s = state("c1");
    EXPECT_EQ("created", s["status"]);
    EXPECT_GT(s["pid"].get<int>(), 0);
    EXPECT_EQ(b.dir(), s["bundle"]);
    EXPECT_EQ("c1", s["id"]);
    EXPECT_TRUE(s.contains("ociVersion"));
    struct stat st;
    EXPECT_NE(0, stat((b.rootfs() + "/marker").c_str(), &st))
        << "process.args must not run before start";

    ASSERT_EQ(0, kapsel({"start", "c1"}).code);
    for (int i = 0; i < 100 && state("c1")["status"] != "stopped"; ++i) usleep(20000);
    EXPECT_EQ("stopped", state("c1")["status"]);
    EXPECT_EQ(0, stat((b.rootfs() + "/marker").c_str(), &st));
    EXPECT_EQ(0, kapsel({"delete", "c1"}).code);
    EXPECT_NE(0, kapsel({"state", "c1"}).code);
}

TEST_F(Lifecycle, StartTwiceIsAnError) {
    Bundle b("sleep 10");
    b.write();
    ASSERT_EQ(0, kapsel({"create", "-b", b.dir(), "c1"}).code);
    ASSERT_EQ(0, kapsel({"start", "c1"}).code);
    EXPECT_EQ("running", state("c1")["status"]);
    Output again = kapsel({"start", "c1"});
    EXPECT_EQ(1, again.code);
    EXPECT_NE(std::string::npos, again.err.find("running")) << again.err;
}

TEST_F(Lifecycle, StartOfAContainerWithoutProcessErrorsAndStopsIt) {
    Bundle b;
    b.config.erase("process");
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "c1"}).code)
        << "create works without a process";
    EXPECT_EQ("created", state("c1")["status"]);
    Output o = kapsel({"start", "c1"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("no process")) << o.err;
    for (int i = 0; i < 100 && state("c1")["status"] != "stopped"; ++i) usleep(20000);
    EXPECT_EQ("stopped", state("c1")["status"]);
    EXPECT_EQ(0, kapsel({"delete", "c1"}).code);
}

TEST_F(Lifecycle, KillTakesSignalNamesAndNumbers) {
    for (std::string sig : {"KILL", "SIGKILL", "9", "kill"}) {
        Bundle b("sleep 100");
        b.write();
        ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "k1"}).code);
        ASSERT_EQ(0, kapsel({"start", "k1"}).code);
        EXPECT_EQ(0, kapsel({"kill", "k1", sig}).code) << sig;
        for (int i = 0; i < 100 && state("k1")["status"] != "stopped"; ++i) usleep(20000);
        EXPECT_EQ("stopped", state("k1")["status"]) << sig;
        EXPECT_EQ(0, kapsel({"delete", "k1"}).code);
    }
    Bundle b("sleep 100");
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "k2"}).code);
    Output bad = kapsel({"kill", "k2", "SIGNOPE"});
    EXPECT_EQ(1, bad.code);
    EXPECT_NE(std::string::npos, bad.err.find("SIGNOPE"));
}

TEST_F(Lifecycle, KillWithoutSignalSendsTerm) {
    Bundle b("trap 'echo got term > /dev/null; exit 7' TERM; while true; do sleep 0.05; done");
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "c1"}).code);
    ASSERT_EQ(0, kapsel({"start", "c1"}).code);
    usleep(200000);
    EXPECT_EQ(0, kapsel({"kill", "c1"}).code);
    for (int i = 0; i < 100 && state("c1")["status"] != "stopped"; ++i) usleep(20000);
    EXPECT_EQ("stopped", state("c1")["status"]);
}

TEST_F(Lifecycle, KillAllReachesEveryProcessOfTheContainer) {
    Bundle b("sleep 100 & sleep 100 & trap '' TERM; wait");
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "c1"}).code);
    ASSERT_EQ(0, kapsel({"start", "c1"}).code);
    usleep(200000);
    std::vector<std::string> dirs = cgroup_dirs("c1");
    ASSERT_FALSE(dirs.empty());
    EXPECT_EQ(0, kapsel({"kill", "--all", "c1", "KILL"}).code);
    for (int i = 0; i < 100 && state("c1")["status"] != "stopped"; ++i) usleep(20000);
    EXPECT_EQ("stopped", state("c1")["status"]);
}

TEST_F(Lifecycle, DeleteOfARunningContainerNeedsForce) {
    Bundle b("sleep 100");
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "c1"}).code);
    ASSERT_EQ(0, kapsel({"start", "c1"}).code);
    Output o = kapsel({"delete", "c1"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("running")) << o.err;
    EXPECT_EQ("running", state("c1")["status"]) << "a refused delete changes nothing";
    int pid = state("c1")["pid"];
    EXPECT_EQ(0, kapsel({"delete", "--force", "c1"}).code);
    EXPECT_NE(0, kapsel({"state", "c1"}).code);
    EXPECT_FALSE(process_alive(pid)) << "the init is gone";
}

TEST_F(Lifecycle, DeleteOfACreatedContainerNeedsForceAsTheSpecSays) {
    Bundle b("true");
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "c1"}).code);
    Output o = kapsel({"delete", "c1"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("created")) << o.err;
    EXPECT_EQ("created", state("c1")["status"]);
    EXPECT_EQ(0, kapsel({"delete", "--force", "c1"}).code);
    expect_nothing_left("c1", b);
}

TEST_F(Lifecycle, KillThenDeleteWorksForACreatedContainerAsContainerdDoesIt) {
    Bundle b("true");
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "c1"}).code);
    EXPECT_EQ(0, kapsel({"kill", "c1", "9"}).code);
    EXPECT_EQ(0, kapsel({"delete", "c1"}).code) << "kill returns once the init is gone";
    expect_nothing_left("c1", b);
}

TEST_F(Lifecycle, KillOfAStoppedContainerSaysContainerNotRunning) {
    Bundle b("true");
    ASSERT_EQ(0, run(b, "c1", {"--keep"}).code);
    Output o = kapsel({"kill", "c1", "TERM"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("container not running")) << o.err;
    EXPECT_EQ(0, kapsel({"kill", "--all", "c1", "KILL"}).code)
        << "runc: kill --all of a stopped container succeeds";
}

TEST_F(Lifecycle, KillWithSignalZeroAsksWhetherTheInitIsAlive) {
    // runc's `kill ID 0`: nothing is delivered; the exit code says alive or not.
    Bundle b("sleep 30");
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "c1"}).code);
    auto t0 = std::chrono::steady_clock::now();
    Output created = kapsel({"kill", "c1", "0"});
    EXPECT_EQ(0, created.code) << created.err;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2))
        << "signal 0 is not a fatal signal to wait for";
    EXPECT_EQ("created", state("c1")["status"]) << "nothing was delivered";
    EXPECT_EQ(0, kapsel({"kill", "c1", "KILL"}).code);
    Output gone = kapsel({"kill", "c1", "0"});
    EXPECT_EQ(1, gone.code);
    EXPECT_NE(std::string::npos, gone.err.find("container not running")) << gone.err;
    EXPECT_EQ(0, kapsel({"delete", "c1"}).code);
}

TEST_F(Lifecycle, DeleteRemovesTheCgroup) {
    Bundle b("true");
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "c1"}).code);
    auto dirs = cgroup_dirs("c1");
    ASSERT_FALSE(dirs.empty());
    struct stat st;
    for (auto& d : dirs) EXPECT_EQ(0, stat(d.c_str(), &st)) << d;
    ASSERT_EQ(0, kapsel({"start", "c1"}).code);
    for (int i = 0; i < 100 && state("c1")["status"] != "stopped"; ++i) usleep(20000);
    ASSERT_EQ(0, kapsel({"delete", "c1"}).code);
    for (auto& d : dirs) EXPECT_NE(0, stat(d.c_str(), &st)) << d << " still exists";
}

TEST_F(Lifecycle, StateOfAnUnknownContainerIsAnError) {
    Output o = kapsel({"state", "nope"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("does not exist")) << o.err;
    EXPECT_EQ(1, kapsel({"delete", "nope"}).code);
    EXPECT_EQ(0, kapsel({"delete", "--force", "nope"}).code)
        << "runc: delete --force of a missing container succeeds";
}

TEST_F(Lifecycle, DuplicateIdsAreRefused) {
    Bundle b("sleep 10");
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "c1"}).code);
    Output o = kapsel({"create", "--bundle", b.dir(), "c1"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("already exists")) << o.err;
    EXPECT_EQ("created", state("c1")["status"]) << "the first container is untouched";
}

TEST_F(Lifecycle, InvalidIdsAreRefused) {
    Bundle b;
    b.write();
    for (std::string id : {"../x", "a/b", "..", "x y"}) {
        Output o = kapsel({"create", "--bundle", b.dir(), id});
        EXPECT_EQ(1, o.code) << id;
        EXPECT_NE(std::string::npos, o.err.find("container id")) << o.err;
    }
}

TEST_F(Lifecycle, ListShowsContainersAsTableJsonAndIds) {
    Bundle b("sleep 10");
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "one"}).code);
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "two"}).code);
    ASSERT_EQ(0, kapsel({"start", "two"}).code);
    EXPECT_EQ("one\ntwo\n", kapsel({"list", "-q"}).out);
    Output table = kapsel({"list"});
    EXPECT_NE(std::string::npos, table.out.find("ID"));
    EXPECT_NE(std::string::npos, table.out.find("created"));
    EXPECT_NE(std::string::npos, table.out.find("running"));
    json arr = json::parse(kapsel({"list", "--format", "json"}).out);
    ASSERT_EQ(2u, arr.size());
    EXPECT_EQ("one", arr[0]["id"]);
    EXPECT_EQ("running", arr[1]["status"]);
    EXPECT_EQ(json::parse(kapsel({"list", "--format=json"}).out).size(), 2u);
}

TEST_F(Lifecycle, PidFileHoldsTheInitPid) {
    Bundle b("sleep 10");
    b.write();
    std::string pidfile = b.dir() + "/pid";
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "--pid-file", pidfile, "c1"}).code);
    std::ifstream f(pidfile);
    int pid = 0;
    f >> pid;
    EXPECT_EQ(state("c1")["pid"].get<int>(), pid);
}

TEST_F(Lifecycle, AnnotationsAppearInState) {
    Bundle b("true");
    b.config["annotations"] = {{"org.example.key", "value"}};
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "c1"}).code);
    EXPECT_EQ("value", state("c1")["annotations"]["org.example.key"]);
}

TEST_F(Lifecycle, RunKeepLeavesTheStoppedContainer) {
    Bundle b("exit 0");
    ASSERT_EQ(0, run(b, "c1", {"--keep"}).code);
    EXPECT_EQ("stopped", state("c1")["status"]);
    EXPECT_EQ(0, kapsel({"delete", "c1"}).code);
}

TEST_F(Lifecycle, RunDetachReturnsWhileTheContainerRuns) {
    Bundle b("sleep 5");
    Output o = run(b, "c1", {"--detach"});
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ("running", state("c1")["status"]);
}

TEST_F(Lifecycle, RunForwardsSignalsToTheContainer) {
    Bundle b("trap 'exit 42' USR1; while true; do sleep 0.05; done");
    b.write();
    std::string cmd = kapsel_binary() + " --root " + root() + "/state run --bundle " + b.dir() +
                      " c1 & k=$!; sleep 0.5; kill -USR1 $k; wait $k; echo rc=$?";
    Output o = run_program({"/bin/sh", "-c", cmd});
    EXPECT_NE(std::string::npos, o.out.find("rc=42")) << o.out << o.err;
}

}  // namespace
}  // namespace kapsel::test
