// OCI hooks: all six kinds, in the spec's order, with the state on stdin, their
// env and timeout, and the spec's failure rules.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>

#include "harness.hpp"

namespace kapsel::test {
namespace {

using Hooks = KapselTest;

std::string read_all(const std::string& path) {
    std::ifstream f(path);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// A host hook that appends "<name> <status from stdin>" to `log`.
json host_hook(const std::string& name, const std::string& log) {
    return {
        {"path", "/bin/sh"},
        {"args",
         {"sh", "-c",
          "read -r s; st=$(echo \"$s\" | sed 's/.*\"status\":\"\\([a-z]*\\)\".*/\\1/'); echo \"" +
              name + " $st\" >> " + log}}};
}

TEST_F(Hooks, AllSixRunInOrderWithTheStateOnStdin) {
    TempDir logs;
    std::string log = logs.path() + "/log";
    Bundle b("echo process >> /hooklog/log");
    b.own_rootfs();
    b.config["mounts"].push_back({{"destination", "/hooklog"},
                                  {"type", "bind"},
                                  {"source", logs.path()},
                                  {"options", {"bind"}}});
    b.config["hooks"] = {
        {"prestart", {host_hook("prestart", log)}},
        {"createRuntime", {host_hook("createRuntime", log)}},
        {"createContainer", {host_hook("createContainer", log)}},
        // Runs in the container after pivot_root: the container's own sh, and the bind-mounted log.
        {"startContainer",
         {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "echo startContainer >> /hooklog/log"}}}}},
        {"poststart", {host_hook("poststart", log)}},
        {"poststop", {host_hook("poststop", log)}},
    };
    Output o = run(b);
    ASSERT_EQ(0, o.code) << o.err;
    std::string got = read_all(log);
    // poststart runs once the program has started; it may finish before or after the program's
    // line.
    EXPECT_EQ(
        0u,
        got.find(
            "prestart created\ncreateRuntime created\ncreateContainer created\nstartContainer\n"))
        << got;
    EXPECT_NE(std::string::npos, got.find("process\n")) << got;
    EXPECT_NE(std::string::npos, got.find("poststart ")) << got;
    EXPECT_EQ(got.size() - std::string("poststop stopped\n").size(),
              got.rfind("poststop stopped\n"))
        << got;
}

// What the OCI validation suite's hooks_stdin checks: each hook reads the state on
// stdin with the container's id, bundle, annotations and (but for poststop) the
// init's pid; prestart sees "created", poststart "running" even when the program
// (here `true`) has already exited, poststop a status.
TEST_F(Hooks, EachHookGetsTheStateAsOfItsMomentOnStdin) {
    TempDir out;
    Bundle b("true");
    b.config["process"]["args"] = {"true"};
    b.config["annotations"] = {{"org.opencontainers.runtime-tools", "hook stdin test"}};
    for (std::string kind : {"prestart", "poststart", "poststop"})
        b.config["hooks"][kind] = {{{"path", "/bin/sh"},
                                    {"args", {"sh", "-c", "cat > " + out.path() + "/" + kind}},
                                    {"timeout", 1}}};
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "hs"}).code);
    int pid = state("hs")["pid"].get<int>();
    ASSERT_EQ(0, kapsel({"start", "hs"}).code);
    for (int i = 0; i < 500 && state("hs")["status"] != "stopped"; ++i) usleep(20000);
    ASSERT_EQ(0, kapsel({"delete", "hs"}).code);
    std::map<std::string, std::string> expected_status = {
        {"prestart", "created"}, {"poststart", "running"}, {"poststop", "stopped"}};
    for (auto& [kind, status] : expected_status) {
        json got = json::parse(read_all(out.path() + "/" + kind), nullptr, false);
        ASSERT_TRUE(got.is_object()) << kind << ": " << read_all(out.path() + "/" + kind);
        EXPECT_EQ("hs", got["id"]) << kind;
        EXPECT_EQ(b.dir(), got["bundle"]) << kind;
        EXPECT_EQ(status, got["status"]) << kind;
        if (kind != "poststop") {
            EXPECT_EQ(pid, got["pid"]) << kind;
        }
        EXPECT_EQ(json({{"org.opencontainers.runtime-tools", "hook stdin test"}}),
                  got["annotations"])
            << kind;
    }
}

TEST_F(Hooks, PoststartSeesRunningEvenWhenTheProgramHasAlreadyExited) {
    // `start` and the program share CPU 0, and the program runs SCHED_FIFO: it
    // runs to its exit before `start` gets the CPU back to run the poststart
    // hooks. Their state is still the start's.
    TempDir out;
    Bundle b("true");
    b.config["process"]["args"] = {"/bin/true"};
    b.config["process"]["scheduler"] = {{"policy", "SCHED_FIFO"}, {"priority", 50}};
    b.config["linux"]["resources"]["cpu"] = {{"cpus", "0"}};
    // With real-time group scheduling (cgroup v1) the cgroup needs a share of real time.
    if (access("/sys/fs/cgroup/cpu/cpu.rt_runtime_us", F_OK) == 0) {
        b.config["linux"]["resources"]["cpu"]["realtimeRuntime"] = 50000;
        b.config["linux"]["resources"]["cpu"]["realtimePeriod"] = 1000000;
    }
    b.config["hooks"]["poststart"] = {
        {{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > " + out.path() + "/poststart"}}}};
    b.write();
    for (int i = 0; i < 3; ++i) {
        std::string id = "d" + std::to_string(i);
        ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), id}).code);
        int pid = state(id)["pid"].get<int>();
        Output s = run_program({"/usr/bin/taskset", "-c", "0", kapsel_binary(), "--root",
                                root() + "/state", "start", id});
        ASSERT_EQ(0, s.code) << s.err;
        json got = json::parse(read_all(out.path() + "/poststart"), nullptr, false);
        EXPECT_EQ("running", got["status"]) << i;
        EXPECT_EQ(pid, got["pid"]) << i;
        ASSERT_EQ(0, kapsel({"delete", "--force", id}).code);
    }
}

TEST_F(Hooks, HookGetsItsEnvAndArgs) {
    TempDir logs;
    std::string log = logs.path() + "/log";
    Bundle b("true");
    b.config["hooks"]["prestart"] = {
        {{"path", "/bin/sh"},
         {"args", {"sh", "-c", "echo $FOO $0 $1 > " + log, "zero", "one"}},
         {"env", {"FOO=bar"}}}};
    ASSERT_EQ(0, run(b).code);
    EXPECT_EQ("bar zero one\n", read_all(log));
}

TEST_F(Hooks, FailingPrestartFailsCreateRunsPoststopAndLeavesNothing) {
    TempDir logs;
    std::string log = logs.path() + "/log";
    Bundle b("true");
    b.config["hooks"]["prestart"] = {
        {{"path", "/bin/sh"}, {"args", {"sh", "-c", "echo broken hook >&2; exit 3"}}}};
    b.config["hooks"]["poststop"] = {host_hook("poststop", log)};
    b.write();
    Output o = kapsel({"create", "--bundle", b.dir(), "c1"});
    EXPECT_EQ(1, o.code);
    // runc's text after the kind and the path: callers match "error running hook".
    EXPECT_NE(
        std::string::npos,
        o.err.find(
            "prestart hook /bin/sh: error running hook #0: error running hook: exit status 3, "
            "stdout: , stderr: broken hook"))
        << o.err;
    EXPECT_EQ("poststop stopped\n", read_all(log));
    expect_nothing_left("c1", b);
}

TEST_F(Hooks, HookTimeoutKillsItAndFailsCreate) {
    Bundle b("true");
    b.config["hooks"]["createRuntime"] = {
        {{"path", "/bin/sleep"}, {"args", {"sleep", "30"}}, {"timeout", 1}}};
    b.write();
    auto t0 = std::chrono::steady_clock::now();
    Output o = kapsel({"create", "--bundle", b.dir(), "c1"});
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("createRuntime hook /bin/sleep: error running hook #0: "
                                            "hook ran past specified timeout of 1.0s"))
        << o.err;
    EXPECT_LT(took, std::chrono::seconds(10));
    expect_nothing_left("c1", b);
}

TEST_F(Hooks, FailingPoststartAndPoststopOnlyWarn) {
    TempDir logs;
    std::string log = logs.path() + "/log";
    Bundle b("sleep 1");
    b.config["hooks"]["poststart"] = {{{"path", "/bin/false"}}, host_hook("second-poststart", log)};
    b.config["hooks"]["poststop"] = {{{"path", "/bin/false"}}, host_hook("second-poststop", log)};
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "c1"}).code);
    Output s = kapsel({"start", "c1"});
    EXPECT_EQ(0, s.code) << s.err;
    EXPECT_NE(std::string::npos, s.err.find("warning")) << s.err;
    EXPECT_EQ("running", state("c1")["status"])
        << "a failing poststart hook does not stop the container";
    Output d = kapsel({"delete", "--force", "c1"});
    EXPECT_EQ(0, d.code) << d.err;
    EXPECT_NE(std::string::npos, d.err.find("poststop")) << d.err;
    EXPECT_EQ("second-poststart running\nsecond-poststop stopped\n", read_all(log))
        << "the later hooks still run";
}

TEST_F(Hooks, FailingStartContainerHookStopsTheContainer) {
    Bundle b("echo should-not-run");
    b.config["hooks"]["startContainer"] = {{{"path", "/bin/false"}}};
    Output o = run(b);
    EXPECT_NE(0, o.code);
    EXPECT_EQ("", o.out) << "the program never ran";
}

TEST_F(Hooks, CreateContainerHooksRunFromTheRootfsAsWithRunc) {
    // runc runs them with the rootfs as their working directory, so a relative path
    // names a file of the container's file system.
    Bundle b("cat /tmp/hook-cwd");
    b.own_rootfs();
    b.config["hooks"]["createContainer"] = {
        {{"path", "/bin/sh"}, {"args", {"sh", "-c", "pwd > tmp/hook-cwd"}}}};
    Output o = run(b);
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ(b.rootfs() + "\n", o.out) << o.err;
}

TEST_F(Hooks, PrestartAndCreateRuntimeHooksRunFromTheBundleAsWithRunc) {
    // runc changes into the bundle before it runs them: relative paths name its files.
    Bundle b("true");
    b.config["hooks"]["prestart"] = {
        {{"path", "/bin/sh"}, {"args", {"sh", "-c", "pwd > prestart-cwd"}}}};
    b.config["hooks"]["createRuntime"] = {
        {{"path", "/bin/sh"}, {"args", {"sh", "-c", "pwd > create-runtime-cwd"}}}};
    Output o = run(b);
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ(b.dir() + "\n", read_all(b.dir() + "/prestart-cwd"));
    EXPECT_EQ(b.dir() + "\n", read_all(b.dir() + "/create-runtime-cwd"));
}

}  // namespace
}  // namespace kapsel::test
