// podman 4.3 drives kapsel: image load, run, exec, logs, stop, pause, stats, a pty,
// update and memory limits, as a user would type them. Everything podman keeps
// (storage, run state, config) lives in the test's temporary directory.
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "client_harness.hpp"

namespace kapsel::test {
namespace {

// podman passes no --root to the runtime, so kapsel keeps podman's containers in its
// default root (see /opt/clientprobe's distinct-argv.txt: runc got none either).
const std::string kDefaultRoot = "/run/kapsel";

// A container process that runs until TERM: sh as pid 1 has no default TERM action,
// so it traps it; waiting on a child (not `sleep`, which other jobs on a shared
// machine may kill) keeps it alive.
const std::string kUntilTerm = "echo started; trap 'exit 0' TERM; tail -f /dev/null & wait";

class Podman : public ClientTest {
  protected:
    void SetUp() override {
        ClientTest::SetUp();
        if (IsSkipped()) return;
        for (const char* p : {"/usr/bin/podman", "/usr/bin/conmon"})
            if (!executable(p))
                GTEST_SKIP() << "skipped: " << p
                             << " is missing (scripts/install-clients installs podman)";
        // runtime_supports_json names the wrapper (basename "kapsel"): podman then
        // passes --log-format=json --log FILE and reads errors from that file.
        std::ofstream(tmp() + "/containers.conf") << R"([containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
log_driver = "k8s-file"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime_supports_json = ["kapsel", "crun", "runc"]
)";
        // The host's storage.conf (a mount_program, another graphroot) stays out.
        std::ofstream(tmp() + "/storage.conf") << "[storage]\ndriver = \"overlay\"\n"
                                               << "graphroot = \"" << tmp() << "/root\"\n"
                                               << "runroot = \"" << tmp() << "/runroot\"\n";
        ready_ = true;
    }

    std::vector<std::string> env() const {
        return {"CONTAINERS_CONF=" + tmp() + "/containers.conf",
                "CONTAINERS_STORAGE_CONF=" + tmp() + "/storage.conf"};
    }

    std::vector<std::string> podman_argv(const std::vector<std::string>& args) const {
        std::vector<std::string> argv = {"/usr/bin/podman", "--root",           tmp() + "/root",
                                         "--runroot",       tmp() + "/runroot", "--tmpdir",
                                         tmp() + "/tmp",    "--runtime",        runtime().path()};
        argv.insert(argv.end(), args.begin(), args.end());
        return argv;
    }

    Output podman(const std::vector<std::string>& args, int timeout_ms = 30000) {
        return client(podman_argv(args), timeout_ms, env());
    }

    // The same command as a shell line, for script(1).
    std::string podman_line(const std::vector<std::string>& args) const {
        std::string line = "env";
        for (auto& e : env()) line += " " + shell_quote(e);
        for (auto& a : podman_argv(args)) line += " " + shell_quote(a);
        return line;
    }

    void load_image() {
        Output o = podman({"load", "-i", image_dir() + "/oci-archive.tar"}, 60000);
        ASSERT_EQ(0, o.code) << o.err;
    }

    // podman run -d IMAGE sh -c SCRIPT; returns the container id.
    std::string run_detached(const std::string& script = kUntilTerm,
                             const std::vector<std::string>& options = {}) {
        std::vector<std::string> args = {"run", "-d"};
        args.insert(args.end(), options.begin(), options.end());
        args.insert(args.end(), {image_name(), "sh", "-c", script});
        Output o = podman(args);
        EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
        std::string id = o.out.substr(0, o.out.find('\n'));
        created_.push_back(id);
        return id;
    }

    std::string inspect(const std::string& id, const std::string& format) {
        Output o = podman({"inspect", "--format", format, id});
        EXPECT_EQ(0, o.code) << o.err;
        return o.out.substr(0, o.out.find('\n'));
    }

    int pid_of(const std::string& id) {
        std::string pid = inspect(id, "{{.State.Pid}}");
        return pid.empty() ? 0 : std::stoi(pid);
    }

    void client_cleanup() override {
        podman({"pod", "rm", "-af", "-t", "0"}, 60000);
        podman({"rm", "-af", "-t", "0"}, 60000);
        wait_for_calls();
        for (auto& id : created_)
            EXPECT_NE(0, access((kDefaultRoot + "/" + id).c_str(), F_OK))
                << "kapsel state of " << id << " left in " << kDefaultRoot;
    }

    // The overlay driver keeps its home bind-mounted private; that mount is podman's, and
    // two podman processes starting at once (stats and conmon's cleanup) can stack it twice.
    void release_client_mounts() override {
        const std::string home = tmp() + "/root/overlay";
        for (int i = 0; i < 8; ++i) {
            auto mounts = mounts_below(tmp());
            if (std::find(mounts.begin(), mounts.end(), home) == mounts.end()) return;
            umount2(home.c_str(), MNT_DETACH);
        }
    }

    std::vector<std::string> created_;
};

TEST_F(Podman, LoadsTheOciArchive) {
    Output o = podman({"load", "-i", image_dir() + "/oci-archive.tar"}, 60000);
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_NE(std::string::npos, o.out.find("Loaded image: " + image_name())) << o.out;
    Output images = podman({"images", "--format", "{{.Repository}}:{{.Tag}}"});
    EXPECT_NE(std::string::npos, images.out.find(image_name())) << images.out;
}

TEST_F(Podman, LoadsTheDockerArchive) {
    Output o = podman({"load", "-i", image_dir() + "/docker-archive.tar"}, 60000);
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_NE(std::string::npos, o.out.find("Loaded image: " + image_name())) << o.out;
    // The image config: Cmd sh, WorkingDir /, PATH.
    Output cfg = podman({"image", "inspect", "--format",
                         "{{.Config.Cmd}} {{.Config.WorkingDir}} {{.Config.Env}}", image_name()});
    EXPECT_EQ("[sh] / [PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin]\n",
              cfg.out);
}

TEST_F(Podman, RunPrintsHello) {
    load_image();
    Output o = podman({"run", "--rm", image_name(), "echo", "hello"});
    EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
    EXPECT_EQ("hello\n", o.out);
    wait_for_calls();
    bool json_create = false;
    for (auto& c : runtime().calls())
        if (std::find(c.args.begin(), c.args.end(), "create") != c.args.end())
            json_create = c.args[0] == "--log-format=json" && c.args[1] == "--log";
    EXPECT_TRUE(json_create) << "podman did not pass --log-format=json --log to create"
                             << WITH_CALLS;
}

TEST_F(Podman, RunPassesStdinAndTheExitCode) {
    load_image();
    Output o = podman({"run", "--rm", image_name(), "sh", "-c", "exit 7"});
    Output piped = client(podman_argv({"run", "--rm", "-i", image_name(), "cat"}), 30000, env(),
                          "through stdin\n");
    EXPECT_EQ(7, o.code) << o.err << WITH_CALLS;
    EXPECT_EQ(0, piped.code) << piped.err << WITH_CALLS;
    EXPECT_EQ("through stdin\n", piped.out);
}

TEST_F(Podman, RunOfAMissingOrNonExecutableCommand) {
    load_image();
    allow_failure([](const RuntimeCall& c) {
        return std::find(c.args.begin(), c.args.end(), "create") != c.args.end();
    });
    Output o = podman({"run", "--rm", image_name(), "/nonexistent"});
    // podman maps the runtime's error text to 127 ("not found" / "no such file") and
    // 126 ("permission denied").
    EXPECT_EQ(127, o.code) << o.err << WITH_CALLS;
    EXPECT_NE(std::string::npos, o.err.find("/nonexistent")) << o.err;
    Output denied = podman({"run", "--rm", image_name(), "/etc/passwd"});
    EXPECT_EQ(126, denied.code) << denied.err << WITH_CALLS;
}

TEST_F(Podman, DetachedLogsStopRemove) {
    load_image();
    std::string id = run_detached();
    ASSERT_FALSE(id.empty());
    EXPECT_EQ("running", inspect(id, "{{.State.Status}}"));
    // --sync re-reads the state (podman 4.3 takes it from conmon, not from `state`).
    Output ps = podman({"ps", "-a", "--sync", "--format", "{{.ID}} {{.Status}}"});
    EXPECT_EQ(0, ps.code) << ps.err << WITH_CALLS;
    EXPECT_EQ(0u, ps.out.find(id.substr(0, 12) + " Up ")) << ps.out;
    Output logs = podman({"logs", id});
    EXPECT_EQ(0, logs.code) << logs.err;
    EXPECT_EQ("started\n", logs.out);
    Output stop = podman({"stop", "-t", "1", id});
    EXPECT_EQ(0, stop.code) << stop.err << WITH_CALLS;
    EXPECT_EQ("exited", inspect(id, "{{.State.Status}}"));
    Output rm = podman({"rm", id});
    EXPECT_EQ(0, rm.code) << rm.err << WITH_CALLS;
    EXPECT_NE(0, access((kDefaultRoot + "/" + id).c_str(), F_OK)) << "state left behind";
}

TEST_F(Podman, StopFallsBackToKillWhenTermIsIgnored) {
    load_image();
    // pid 1 without a TERM handler ignores TERM: podman kills after the timeout.
    std::string id = run_detached("exec tail -f /dev/null");
    Output stop = podman({"stop", "-t", "1", id});
    EXPECT_EQ(0, stop.code) << stop.err << WITH_CALLS;
    EXPECT_EQ("exited", inspect(id, "{{.State.Status}}"));
    EXPECT_EQ("137", inspect(id, "{{.State.ExitCode}}"));
}

TEST_F(Podman, ExecInARunningContainer) {
    if (!kapsel_has_verb("exec")) GTEST_SKIP() << "skipped: kapsel exec is not implemented yet";
    load_image();
    std::string id = run_detached();
    Output o = podman({"exec", id, "echo", "from-exec"});
    EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
    EXPECT_EQ("from-exec\n", o.out);
    Output code = podman({"exec", id, "sh", "-c", "exit 3"});
    EXPECT_EQ(3, code.code) << code.err << WITH_CALLS;
    Output who = podman({"exec", "--user", "1000:1000", "-w", "/tmp", "-e", "FOO=bar", id, "sh",
                         "-c", "id -u; pwd; echo $FOO"});
    EXPECT_EQ("1000\n/tmp\nbar\n", who.out) << who.err << WITH_CALLS;
    Output tty = run_on_pty(podman_line({"exec", "-it", id, "sh", "-c", "tty; echo ok"}));
    EXPECT_NE(std::string::npos, tty.out.find("/dev/pts/")) << tty.out << WITH_CALLS;
    EXPECT_NE(std::string::npos, tty.out.find("ok")) << tty.out;
    Output detached = podman({"exec", "-d", id, "sh", "-c", "echo detached > /tmp/d"});
    EXPECT_EQ(0, detached.code) << detached.err << WITH_CALLS;
    std::string d;
    for (int i = 0; i < 50 && d != "detached\n"; ++i, usleep(100 * 1000))
        d = run_program(podman_argv({"exec", id, "cat", "/tmp/d"}), "", 30000, {}, env()).out;
    EXPECT_EQ("detached\n", d) << WITH_CALLS;
    // podman maps the runtime's error text to 127 ("not found" / "no such file").
    allow_failure([](const RuntimeCall& c) {
        return std::find(c.args.begin(), c.args.end(), "exec") != c.args.end() &&
               c.log_bytes.find("nonexistent") != std::string::npos;
    });
    Output missing = podman({"exec", id, "/nonexistent"});
    EXPECT_EQ(127, missing.code) << missing.err << WITH_CALLS;
    Output logs = podman({"logs", id});
    EXPECT_EQ("started\n", logs.out) << "exec output must not reach the container's log";
    EXPECT_EQ(0, podman({"stop", "-t", "1", id}).code) << WITH_CALLS;
    EXPECT_EQ(0, podman({"rm", id}).code) << WITH_CALLS;
}

TEST_F(Podman, PauseAndUnpause) {
    load_image();
    std::string id = run_detached();
    int pid = pid_of(id);
    ASSERT_GT(pid, 0);
    std::string freezer = cgroup_file(pid, "freezer", "freezer.state", "cgroup.freeze");
    Output p = podman({"pause", id});
    EXPECT_EQ(0, p.code) << p.err << WITH_CALLS;
    EXPECT_EQ("paused", inspect(id, "{{.State.Status}}"));
    std::string frozen = read_file(freezer);
    EXPECT_TRUE(frozen == "FROZEN\n" || frozen == "1\n") << freezer << ": " << frozen;
    Output u = podman({"unpause", id});
    EXPECT_EQ(0, u.code) << u.err << WITH_CALLS;
    EXPECT_EQ("running", inspect(id, "{{.State.Status}}"));
    std::string thawed = read_file(freezer);
    EXPECT_TRUE(thawed == "THAWED\n" || thawed == "0\n") << freezer << ": " << thawed;
}

TEST_F(Podman, StatsShowMemory) {
    load_image();
    std::string id = run_detached();
    Output o = podman({"stats", "--no-stream", "--format", "{{.MemUsage}} {{.PIDs}}", id});
    EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
    // e.g. "741.4kB / 25.28GB 2"
    EXPECT_TRUE(
        std::regex_search(o.out, std::regex("^[1-9][0-9.]*[kMG]?B / [0-9.]+[kMGT]?B [1-9]")))
        << o.out;
}

TEST_F(Podman, RunInteractiveOnAPty) {
    load_image();
    Output o =
        run_on_pty(podman_line({"run", "-it", "--rm", image_name(), "sh", "-c", "tty; echo ok"}));
    EXPECT_EQ(0, o.code) << o.out << WITH_CALLS;
    EXPECT_NE(std::string::npos, o.out.find("/dev/pts/0")) << o.out << WITH_CALLS;
    EXPECT_NE(std::string::npos, o.out.find("ok")) << o.out;
}

TEST_F(Podman, UpdateMemoryLimit) {
    load_image();
    std::string id = run_detached();
    int pid = pid_of(id);
    ASSERT_GT(pid, 0);
    Output o = podman({"update", "--memory", "64m", id});
    EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
    std::string file = cgroup_file(pid, "memory", "memory.limit_in_bytes", "memory.max");
    EXPECT_EQ("67108864\n", read_file(file)) << file << WITH_CALLS;
    // podman 4.3 keeps the create-time resources in its record: inspect and stats show
    // the old limit after update with runc and crun too, so only the cgroup tells.
}

TEST_F(Podman, RunWithMemoryLimit) {
    load_image();
    Output o = podman({"run", "--rm", "--memory", "32m", image_name(), "sh", "-c",
                       "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || "
                       "cat /sys/fs/cgroup/memory.max"});
    EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
    EXPECT_EQ("33554432\n", o.out);
    std::string id = run_detached(kUntilTerm, {"--memory", "32m"});
    EXPECT_EQ("33554432", inspect(id, "{{.HostConfig.Memory}}"));
    std::string file = cgroup_file(pid_of(id), "memory", "memory.limit_in_bytes", "memory.max");
    EXPECT_EQ("33554432\n", read_file(file)) << file;
}

TEST_F(Podman, RunOutOfMemory) {
    load_image();
    // The kernel kills the container's process inside its limit, not podman or the host.
    // (podman 4.3 on this hybrid host reports OOMKilled false for runc and crun too.)
    Output o = podman({"run", "--name", "oom", "--memory", "16m", "--memory-swap", "16m",
                       image_name(), "sh", "-c", "tail /dev/zero"},
                      60000);
    EXPECT_EQ(137, o.code) << o.err << WITH_CALLS;
    EXPECT_EQ("137", inspect("oom", "{{.State.ExitCode}}")) << WITH_CALLS;
}

TEST_F(Podman, ParallelRuns) {
    load_image();
    // Four podman processes create, start and delete through kapsel at the same time.
    std::vector<Output> out(4);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < out.size(); ++i)
        threads.emplace_back([&, i] {
            out[i] =
                run_program(podman_argv({"run", "--rm", image_name(), "echo", std::to_string(i)}),
                            "", 60000, {}, env());
        });
    for (auto& t : threads) t.join();
    for (size_t i = 0; i < out.size(); ++i) {
        std::cout << "run " << i << ": [exit " << out[i].code << "] " << out[i].out << out[i].err;
        EXPECT_EQ(0, out[i].code) << out[i].err << WITH_CALLS;
        EXPECT_EQ(std::to_string(i) + "\n", out[i].out);
    }
}

TEST_F(Podman, KapselListSeesPodmansContainers) {
    load_image();
    std::string a = run_detached(), b = run_detached();
    Output o = run_program({kapsel_binary(), "--root", kDefaultRoot, "list", "--format", "json"});
    ASSERT_EQ(0, o.code) << o.err;
    std::cout << "$ kapsel --root " << kDefaultRoot << " list --format json\n" << o.out << "\n";
    json list = json::parse(o.out, nullptr, false);
    ASSERT_TRUE(list.is_array()) << o.out;
    for (auto& id : {a, b}) {
        bool seen = false;
        for (auto& c : list)
            if (c.value("id", "") == id) {
                seen = true;
                EXPECT_EQ("running", c.value("status", ""));
                EXPECT_EQ(0u, c.value("bundle", "").rfind(tmp() + "/root/", 0)) << c.dump();
            }
        EXPECT_TRUE(seen) << id << " missing from kapsel list: " << o.out;
    }
    EXPECT_EQ(0, podman({"rm", "-f", "-t", "0", a, b}).code) << WITH_CALLS;
    Output after = run_program({kapsel_binary(), "--root", kDefaultRoot, "list", "-q"});
    EXPECT_EQ(std::string::npos, after.out.find(a)) << after.out;
}

TEST_F(Podman, RunWithTheOptionsPeopleUse) {
    if (!executable("/usr/libexec/podman/catatonit"))
        GTEST_SKIP() << "skipped: podman --init needs catatonit (scripts/install-clients)";
    load_image();
    std::filesystem::create_directories(tmp() + "/vol");
    std::ofstream(tmp() + "/vol/f") << "hostfile\n";
    Output o =
        podman({"run",
                "--rm",
                "-v",
                tmp() + "/vol:/data:ro",
                "--tmpfs",
                "/scratch:rw,size=10m",
                "--read-only",
                "--cap-add",
                "SYS_ADMIN",
                "--cap-drop",
                "NET_RAW",
                "--security-opt",
                "no-new-privileges",
                "--device",
                "/dev/zero:/dev/myzero",
                "--sysctl",
                "net.ipv4.ip_forward=1",
                "--hostname",
                "myhost",
                "--init",
                "-e",
                "A=B",
                "--workdir",
                "/tmp",
                image_name(),
                "sh",
                "-c",
                "cat /data/f; hostname; echo $A; pwd; cat /proc/1/comm; cat "
                "/proc/sys/net/ipv4/ip_forward; "
                "grep NoNewPrivs /proc/self/status | tr -d ' \\t'; "
                "b=$(grep CapBnd /proc/self/status | cut -f2); "
                "echo sys_admin=$(( 0x$b >> 21 & 1 )) net_raw=$(( 0x$b >> 13 & 1 )); "
                "test -c /dev/myzero && echo device; touch /x 2>/dev/null || echo read-only; "
                "echo hi > /scratch/f && echo tmpfs; touch /data/x 2>/dev/null || echo ro-volume"});
    EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
    EXPECT_EQ(
        "hostfile\nmyhost\nB\n/tmp\npodman-init\n1\nNoNewPrivs:1\nsys_admin=1 net_raw=0\n"
        "device\nread-only\ntmpfs\nro-volume\n",
        o.out)
        << WITH_CALLS;
}

TEST_F(Podman, RunInAUserNamespace) {
    load_image();
    Output o = podman({"run", "--rm", "--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536",
                       image_name(), "sh", "-c",
                       "id -u; tr -s ' ' < /proc/self/uid_map; stat -c %u /bin/busybox"});
    EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
    EXPECT_EQ("0\n 0 100000 65536\n0\n", o.out) << WITH_CALLS;
}

TEST_F(Podman, RunInTheHostsNamespaces) {
    load_image();
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    std::string pid_ns = std::filesystem::read_symlink("/proc/self/ns/pid");
    std::string ipc_ns = std::filesystem::read_symlink("/proc/self/ns/ipc");
    Output o = podman({"run", "--rm", "--pid", "host", "--ipc", "host", "--uts", "host",
                       "--cgroupns", "host", image_name(), "sh", "-c",
                       "hostname; readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc"});
    EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
    EXPECT_EQ(std::string(host) + "\n" + pid_ns + "\n" + ipc_ns + "\n", o.out);
    // Without a pid namespace of its own, stop signals every process: kill --all.
    std::string id = run_detached(kUntilTerm, {"--pid", "host"});
    EXPECT_EQ(0, podman({"stop", "-t", "5", id}).code) << WITH_CALLS;
    bool kill_all = false;
    for (auto& c : runtime().calls())
        kill_all |= c.args.size() > 1 && c.args[0] == "kill" && c.args[1] == "--all";
    EXPECT_TRUE(kill_all) << WITH_CALLS;
}

TEST_F(Podman, PodSharesItsNamespaces) {
    load_image();
    // The infra container joins nothing; the member joins the infra's namespaces by path.
    Output pod = podman({"pod", "create", "--name", "p1", "--network", "none"}, 60000);
    ASSERT_EQ(0, pod.code) << pod.err << WITH_CALLS;
    Output o = podman({"run", "--rm", "--pod", "p1", image_name(), "hostname"});
    EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
    EXPECT_EQ("p1\n", o.out);
    EXPECT_EQ(0, podman({"pod", "rm", "-f", "-t", "0", "p1"}).code) << WITH_CALLS;
}

TEST_F(Podman, CreateInitStartRemove) {
    load_image();
    Output c = podman({"create", "--name", "t3", image_name(), "sh", "-c", "exit 5"});
    ASSERT_EQ(0, c.code) << c.err;
    EXPECT_EQ(0, podman({"init", "t3"}).code) << WITH_CALLS;       // runtime create
    EXPECT_EQ("initialized", inspect("t3", "{{.State.Status}}"));  // podman's name for created
    EXPECT_EQ(5, podman({"start", "-a", "t3"}).code) << WITH_CALLS;
    EXPECT_EQ("5", inspect("t3", "{{.State.ExitCode}}"));
    EXPECT_EQ(0, podman({"rm", "t3"}).code) << WITH_CALLS;
    // A created container is deleted with --force (the runtime-spec refuses plain delete).
    ASSERT_EQ(0, podman({"create", "--name", "t4", image_name(), "true"}).code);
    EXPECT_EQ(0, podman({"init", "t4"}).code) << WITH_CALLS;
    EXPECT_EQ(0, podman({"rm", "-f", "t4"}).code) << WITH_CALLS;
}

TEST_F(Podman, RunPreservesFds) {
    load_image();
    std::ofstream(tmp() + "/fd3") << "hello-fd\n";
    std::string line =
        podman_line({"run", "--rm", "--preserve-fds", "1", image_name(), "sh", "-c", "cat <&3"});
    Output o =
        client({"/bin/sh", "-c", "exec 3<" + shell_quote(tmp() + "/fd3") + "; exec " + line});
    EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
    EXPECT_EQ("hello-fd\n", o.out);
}

TEST_F(Podman, RunWithResourceLimits) {
    load_image();
    Output o = podman(
        {"run", "--rm", "--pids-limit", "100", "--cpus", "1", "--oom-score-adj", "100",
         "--shm-size", "32m", image_name(), "sh", "-c",
         "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; "
         "cat /proc/self/oom_score_adj; df -k /dev/shm | tail -1 | tr -s ' ' | cut -d' ' -f2; "
         "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 "
         "/sys/fs/cgroup/cpu.max"});
    EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
    EXPECT_EQ("100\n100\n32768\n100000\n", o.out) << WITH_CALLS;
}

// podman users opt in to kapsel's container-aware /proc with an annotation: free (sysinfo),
// nproc (sched_getaffinity) and /proc/meminfo then say the container's limits, beside
// podman's own seccomp profile.
TEST_F(Podman, TheProcfsAnnotationShowsTheContainerItsLimits) {
    if (access("/dev/fuse", F_OK) != 0) GTEST_SKIP() << "skipped: no /dev/fuse";
    load_image();
    Output o = podman({"run", "--rm", "--annotation", "run.kapsel.procfs=true", "--memory", "256m",
                       "--cpus", "1", image_name(), "sh", "-c",
                       "free -m | grep Mem: | tr -s ' ' | cut -d' ' -f2; nproc; grep MemTotal "
                       "/proc/meminfo; cat /sys/devices/system/cpu/online"});
    EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
    EXPECT_EQ("256\n1\nMemTotal:         262144 kB\n0\n", o.out) << WITH_CALLS;
    Output plain = podman({"run", "--rm", "--memory", "256m", image_name(), "sh", "-c",
                           "grep MemTotal /proc/meminfo"});
    EXPECT_NE("MemTotal:         262144 kB\n", plain.out) << "without the annotation: the host's";
}

TEST_F(Podman, KillRestartWait) {
    load_image();
    std::string id = run_detached(
        "trap 'echo got-usr1' USR1; trap 'exit 0' TERM; echo started; "
        "tail -f /dev/null & while :; do wait; done");
    int before = pid_of(id);
    EXPECT_EQ(0, podman({"kill", "-s", "USR1", id}).code) << WITH_CALLS;
    std::string logs;
    for (int i = 0; i < 50 && logs.find("got-usr1") == std::string::npos; ++i) {
        usleep(100 * 1000);
        logs = run_program(podman_argv({"logs", id}), "", 30000, {}, env()).out;
    }
    EXPECT_NE(std::string::npos, logs.find("got-usr1")) << logs;
    Output r = podman({"restart", "-t", "1", id});
    EXPECT_EQ(0, r.code) << r.err << WITH_CALLS;
    EXPECT_EQ("running", inspect(id, "{{.State.Status}}"));
    EXPECT_NE(before, pid_of(id));
    EXPECT_EQ(0, podman({"kill", id}).code) << WITH_CALLS;
    Output w = podman({"wait", id});
    EXPECT_EQ("137\n", w.out) << w.err << WITH_CALLS;
}

TEST_F(Podman, CheckpointAndRestore) {
    // podman checks CRIU itself (`criu swrk` from PATH) before it calls the runtime's
    // checkpoint: the private CRIU of scripts/install-criu goes first in its PATH.
    const std::string criu_dir = "/opt/kapsel-criu/bin";
    if (!executable(criu_dir + "/criu"))
        GTEST_SKIP() << "skipped: CRIU is missing (" << criu_dir
                     << "/criu; scripts/install-criu installs it)";
    auto with_criu = env();
    with_criu.push_back("PATH=" + criu_dir +
                        ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    load_image();
    // A counter kept in the shell's memory, printed to podman's log: a restarted
    // container would count from 1 again.
    std::string id = run_detached("i=0; while true; do i=$((i+1)); echo n$i; sleep 0.1; done");
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    Output c = client(podman_argv({"container", "checkpoint", id}), 60000, with_criu);
    ASSERT_EQ(0, c.code) << c.err << WITH_CALLS;
    EXPECT_EQ("exited", inspect(id, "{{.State.Status}}"));
    Output r = client(podman_argv({"container", "restore", id}), 60000, with_criu);
    ASSERT_EQ(0, r.code) << r.err << WITH_CALLS;
    EXPECT_EQ("running", inspect(id, "{{.State.Status}}"));
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    std::string logs = podman({"logs", id}).out;
    EXPECT_EQ(std::string::npos, logs.find("n1\n", 1))
        << "counted on, never from 1 again: " << logs;
    Output e = podman({"exec", id, "sh", "-c", "echo in; cat /proc/1/cmdline | tr '\\0' ' '"});
    EXPECT_EQ(0, e.code) << e.err << WITH_CALLS;
    EXPECT_EQ(0u, e.out.rfind("in\nsh -c i=0", 0)) << e.out;
}

// podman's own bridge network (its default, netavark or CNI) and kapsel's run side by side
// on one host: different bridges and subnets, each container reaching its own network's
// gateway, and kapsel's never in podman's subnet (issue 15).
TEST_F(Podman, ItsBridgeNetworkAndKapselsDoNotCollide) {
    if (access("/usr/lib/podman/netavark", X_OK) != 0) GTEST_SKIP() << "skipped: netavark is not installed";
    load_image();
    std::string pod = run_detached(kUntilTerm, {"--network", "bridge"});
    std::string pod_ip = inspect(pod, "{{.NetworkSettings.IPAddress}}");
    ASSERT_FALSE(pod_ip.empty());
    std::vector<std::string> k = {KAPSEL_TEST_BINARY, "--root", tmp() + "/k-run", "--storage-root", tmp() + "/k-store"};
    auto kapsel = [&](std::vector<std::string> args) {
        std::vector<std::string> a = k;
        a.insert(a.end(), args.begin(), args.end());
        return client(a, 60000);
    };
    ASSERT_EQ(0, kapsel({"load", "-q", "-i", image_dir() + "/oci-archive.tar"}).code);
    // --procfs=false: the service would linger past the test (not this test's subject).
    Output mine = kapsel({"run", "--rm", "--procfs=false", image_name(), "sh", "-c",
                          "ip -4 -o addr show eth0 | awk '{print $4}'; "
                          "nslookup kapsel.example $(ip route | awk '/default/ {print $3}') 2>&1 | grep -q Server && echo gateway"});
    ASSERT_EQ(0, mine.code) << mine.err;
    std::string cidr = mine.out.substr(0, mine.out.find('\n'));
    EXPECT_NE(std::string::npos, mine.out.find("gateway")) << mine.out;
    // podman's address is not in kapsel's subnet (both /16 or smaller: compare the first
    // two octets and the third where kapsel's is a /24).
    auto prefix = [](const std::string& ip, int parts) {
        size_t at = 0;
        for (int i = 0; i < parts; ++i) at = ip.find('.', at) + 1;
        return ip.substr(0, at);
    };
    EXPECT_NE(prefix(cidr, 3), prefix(pod_ip, 3)) << cidr << " vs " << pod_ip;
    Output still = podman({"exec", pod, "sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'"});
    EXPECT_EQ(0, still.code) << still.err;
    EXPECT_NE(std::string::npos, still.out.find(pod_ip)) << still.out;
}

}  // namespace
}  // namespace kapsel::test
