// containerd 1.6 (ctr and the runc v2 shim) drives kapsel: image import, run, exec,
// kill, delete, pause/resume, metrics, memory limits and a tty. Each test starts its own
// containerd (root, state and socket in the test's temporary directory) and stops it.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "client_harness.hpp"

namespace kapsel::test {
namespace {

// A task that runs until TERM (sh as pid 1 has no default TERM action, so it traps it).
const std::string kUntilTerm = "echo started; trap 'exit 0' TERM; tail -f /dev/null & wait";

class Containerd : public ClientTest {
  protected:
    void SetUp() override {
        ClientTest::SetUp();
        if (IsSkipped()) return;
        for (const char* p :
             {"/usr/bin/containerd", "/usr/bin/ctr", "/usr/bin/containerd-shim-runc-v2"})
            if (!executable(p))
                GTEST_SKIP() << "skipped: " << p
                             << " is missing (scripts/install-clients installs containerd)";
        // The shim's runc root and ctr's cgroup paths (/NAMESPACE/ID) are global: a
        // namespace of our own keeps parallel runs apart.
        ns_ = "kapseltest-" + std::to_string(getpid());
        sock_ = tmp() + "/containerd.sock";
        pattern_words_ = {{ns_, "<NS>"}};
        std::ofstream(tmp() + "/config.toml")
            << "version = 2\n"
            << "root = \"" << tmp() << "/root\"\n"
            << "state = \"" << tmp()
            << "/state\"\n"
            // No CRI: ctr does not need it, and containerd starts faster without it.
            << "disabled_plugins = [\"io.containerd.grpc.v1.cri\", "
               "\"io.containerd.internal.v1.tracing\", "
               "\"io.containerd.tracing.processor.v1.otlp\"]\n"
            << "[grpc]\n  address = \"" << sock_ << "\"\n"
            << "[ttrpc]\n  address = \"" << sock_
            << ".ttrpc\"\n"
            // The opt plugin puts OPT/bin first in the shims' PATH, and OPT/bin/runc is
            // kapsel: a task whose options lose --runc-binary (ctr run --no-pivot makes
            // fresh task options) still runs on kapsel, not on the host's runc.
            << "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"" << tmp() << "/opt\"\n";
        std::filesystem::create_directories(tmp() + "/opt/bin");
        std::filesystem::create_symlink(runtime().path(), tmp() + "/opt/bin/runc");
        ready_ = true;  // from here on TearDown stops what SetUp started
        start_daemon();
    }

    void start_daemon() {
        daemon_ = fork();
        if (daemon_ == 0) {
            int log = open((tmp() + "/containerd.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            dup2(log, 1);
            dup2(log, 2);
            int null = open("/dev/null", O_RDONLY);
            dup2(null, 0);
            setpgid(0, 0);
            execl("/usr/bin/containerd", "containerd", "--config", (tmp() + "/config.toml").c_str(),
                  nullptr);
            _exit(127);
        }
        for (int i = 0; i < 200; ++i) {
            if (run_program({"/usr/bin/ctr", "-a", sock_, "version"}, "", 5000).code == 0) return;
            int status;
            if (waitpid(daemon_, &status, WNOHANG) == daemon_) {
                daemon_ = -1;
                FAIL() << "containerd exited at start:\n" << read_file(tmp() + "/containerd.log");
            }
            usleep(100 * 1000);
        }
        FAIL() << "containerd did not listen on " << sock_ << " within 20 s:\n"
               << read_file(tmp() + "/containerd.log");
    }

    void stop_daemon() {
        if (daemon_ <= 0) return;
        kill(daemon_, SIGTERM);
        int status = 0;
        for (int i = 0; i < 100 && waitpid(daemon_, &status, WNOHANG) == 0; ++i) usleep(100 * 1000);
        if (waitpid(daemon_, &status, WNOHANG) == 0) {
            ADD_FAILURE() << "containerd did not stop on SIGTERM within 10 s";
            kill(daemon_, SIGKILL);
            waitpid(daemon_, &status, 0);
        }
        daemon_ = -1;
    }

    Output ctr(const std::vector<std::string>& args, int timeout_ms = 30000,
               const std::string& input = "") {
        std::vector<std::string> argv = {"/usr/bin/ctr", "-a", sock_, "-n", ns_};
        argv.insert(argv.end(), args.begin(), args.end());
        return client(argv, timeout_ms, {}, input);
    }

    std::string ctr_line(const std::vector<std::string>& args) const {
        std::string line = "/usr/bin/ctr -a " + shell_quote(sock_) + " -n " + shell_quote(ns_);
        for (auto& a : args) line += " " + shell_quote(a);
        return line;
    }

    // ctr run OPTIONS... IMAGE ID ARGS..., with kapsel (through the wrapper) as the
    // shim's runc binary.
    std::vector<std::string> run_args(const std::vector<std::string>& options,
                                      const std::string& id,
                                      const std::vector<std::string>& args) const {
        std::vector<std::string> a = {"run", "--runc-binary", runtime().path()};
        a.insert(a.end(), options.begin(), options.end());
        a.push_back(image_name());
        a.push_back(id);
        ids_.push_back(id);
        a.insert(a.end(), args.begin(), args.end());
        return a;
    }

    void import_image() {
        Output o = ctr({"images", "import", image_dir() + "/oci-archive.tar"}, 60000);
        ASSERT_EQ(0, o.code) << o.err << extra_diagnostics();
    }

    void run_detached(const std::string& id, const std::vector<std::string>& options = {}) {
        Output o = ctr(run_args(options.empty() ? std::vector<std::string>{"-d"} : options, id,
                                {"sh", "-c", kUntilTerm}));
        ASSERT_EQ(0, o.code) << o.err << WITH_CALLS;
    }

    // ctr task ls: the STATUS and PID of a task ("" when it has none).
    std::pair<std::string, int> task(const std::string& id) {
        Output o = ctr({"task", "ls"});
        std::istringstream is(o.out);
        std::string name, pid, status;
        while (is >> name >> pid >> status)
            if (name == id) return {status, std::stoi(pid)};
        return {"", 0};
    }

    bool wait_for_status(const std::string& id, const std::string& want, int timeout_ms = 10000) {
        for (int waited = 0; waited < timeout_ms; waited += 200) {
            if (task(id).first == want) return true;
            usleep(200 * 1000);
        }
        return false;
    }

    // Where the shim keeps kapsel's state: the runc root it passes as --root.
    std::string runc_root() const { return "/run/containerd/runc/" + ns_; }

    void client_cleanup() override {
        if (daemon_ > 0) {
            Output tasks = ctr({"task", "ls", "-q"});
            std::istringstream ts(tasks.out);
            for (std::string id; std::getline(ts, id);) {
                if (id.empty()) continue;
                ctr({"task", "kill", "-a", "-s", "SIGKILL", id});
                wait_for_status(id, "STOPPED");
                ctr({"task", "delete", id});
            }
            Output containers = ctr({"containers", "ls", "-q"});
            std::istringstream cs(containers.out);
            for (std::string id; std::getline(cs, id);)
                if (!id.empty()) ctr({"containers", "delete", id});
        }
        stop_daemon();
        wait_for_calls();
        // Each task ran on kapsel: the wrapper saw its create.
        auto calls = runtime().calls();
        for (auto& id : ids_) {
            bool created = false;
            for (auto& c : calls)
                created |= std::find(c.args.begin(), c.args.end(), "create") != c.args.end() &&
                           c.args.back() == id;
            EXPECT_TRUE(created) << "task " << id << " did not run on kapsel" << WITH_CALLS;
        }
        // kapsel's state directories go with delete. Dot entries are not containers
        // (kapsel keeps its seccomp cache in ROOT/.cache); the namespace dir is ours.
        std::error_code ec;
        std::vector<std::string> left;
        for (auto& e : std::filesystem::directory_iterator(runc_root(), ec)) {
            std::string name = e.path().filename();
            if (name[0] != '.')
                left.push_back(e.path());
            else
                std::cout << "note: kapsel left " << e.path().string()
                          << " in the shim's runc root\n";
        }
        EXPECT_TRUE(left.empty()) << "kapsel state left in " << runc_root() << ": " << left.front();
        std::filesystem::remove_all(runc_root(), ec);
    }

    std::string extra_diagnostics() const override {
        std::string log = read_file(tmp() + "/containerd.log");
        if (log.size() > 6000) log = "...\n" + log.substr(log.size() - 6000);
        return "---- containerd.log ----\n" + log;
    }

    std::string ns_, sock_;
    pid_t daemon_ = -1;
    mutable std::vector<std::string> ids_;  // every task `ctr run` was asked to start
};

TEST_F(Containerd, ImportsTheOciArchive) {
    import_image();
    Output o = ctr({"images", "ls", "-q"});
    EXPECT_EQ(image_name() + "\n", o.out);
}

TEST_F(Containerd, ImportsTheDockerArchive) {
    Output o = ctr({"images", "import", image_dir() + "/docker-archive.tar"}, 60000);
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_EQ(image_name() + "\n", ctr({"images", "ls", "-q"}).out);
    Output run = ctr(run_args({"--rm"}, "d1", {"cat", "/etc/hostname"}));
    EXPECT_EQ(0, run.code) << run.err << WITH_CALLS;
}

TEST_F(Containerd, RunPrintsHello) {
    import_image();
    Output o = ctr(run_args({"--rm"}, "c1", {"echo", "hello"}));
    EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
    EXPECT_EQ("hello\n", o.out);
    // The shim passes its runc root and a JSON log in the task's bundle.
    bool seen = false;
    for (auto& c : runtime().calls())
        if (c.args.size() > 6 && c.args[6] == "create") {
            seen = true;
            EXPECT_EQ((std::vector<std::string>{
                          "--root", runc_root(), "--log",
                          tmp() + "/state/io.containerd.runtime.v2.task/" + ns_ + "/c1/log.json",
                          "--log-format", "json"}),
                      std::vector<std::string>(c.args.begin(), c.args.begin() + 6));
        }
    EXPECT_TRUE(seen) << "no create call" << WITH_CALLS;
}

TEST_F(Containerd, RunPassesTheExitCode) {
    import_image();
    Output o = ctr(run_args({"--rm"}, "c1", {"sh", "-c", "exit 7"}));
    EXPECT_EQ(7, o.code) << o.err << WITH_CALLS;
}

TEST_F(Containerd, RunOfAMissingCommand) {
    import_image();
    allow_failure([](const RuntimeCall& c) {
        return std::find(c.args.begin(), c.args.end(), "create") != c.args.end();
    });
    // The shim shows the last error line of kapsel's JSON log.
    Output o = ctr(run_args({"--rm"}, "c1", {"/nonexistent"}));
    EXPECT_NE(0, o.code) << WITH_CALLS;
    EXPECT_NE(std::string::npos, o.err.find("/nonexistent")) << o.err << WITH_CALLS;
}

TEST_F(Containerd, DetachedKillDelete) {
    import_image();
    run_detached("c2");
    auto [status, pid] = task("c2");
    EXPECT_EQ("RUNNING", status);
    // kapsel's own record of the task, under the shim's runc root.
    Output st = run_program({kapsel_binary(), "--root", runc_root(), "state", "c2"});
    std::cout << "$ kapsel --root " << runc_root() << " state c2\n" << st.out << st.err;
    ASSERT_EQ(0, st.code) << st.err << WITH_CALLS;
    json state = json::parse(st.out, nullptr, false);
    EXPECT_EQ("running", state.value("status", ""));
    EXPECT_EQ(pid, state.value("pid", 0));
    EXPECT_EQ(tmp() + "/state/io.containerd.runtime.v2.task/" + ns_ + "/c2",
              state.value("bundle", ""));

    Output ps = ctr({"task", "ps", "c2"});
    EXPECT_NE(std::string::npos, ps.out.find(std::to_string(pid))) << ps.out << WITH_CALLS;
    Output k = ctr({"task", "kill", "c2"});  // SIGTERM
    EXPECT_EQ(0, k.code) << k.err << WITH_CALLS;
    EXPECT_TRUE(wait_for_status("c2", "STOPPED")) << WITH_CALLS;
    Output del = ctr({"task", "delete", "c2"});
    EXPECT_EQ(0, del.code) << del.err << WITH_CALLS;
    Output cdel = ctr({"container", "delete", "c2"});
    EXPECT_EQ(0, cdel.code) << cdel.err;
    EXPECT_NE(0, access((runc_root() + "/c2").c_str(), F_OK)) << "kapsel state left behind";
}

TEST_F(Containerd, ExecInARunningTask) {
    if (!kapsel_has_verb("exec")) GTEST_SKIP() << "skipped: kapsel exec is not implemented yet";
    import_image();
    run_detached("c2");
    Output o = ctr({"task", "exec", "--exec-id", "e1", "c2", "echo", "from-exec"});
    EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
    EXPECT_EQ("from-exec\n", o.out);
    Output code = ctr({"task", "exec", "--exec-id", "e2", "c2", "sh", "-c", "exit 3"});
    EXPECT_EQ(3, code.code) << code.err << WITH_CALLS;
    Output who = ctr({"task", "exec", "--exec-id", "e3", "--user", "1000", "--cwd", "/tmp", "c2",
                      "sh", "-c", "id -u; pwd"});
    EXPECT_EQ("1000\n/tmp\n", who.out) << who.err << WITH_CALLS;
    Output tty = run_on_pty(
        ctr_line({"task", "exec", "-t", "--exec-id", "e4", "c2", "sh", "-c", "tty; echo ok"}));
    EXPECT_NE(std::string::npos, tty.out.find("/dev/pts/")) << tty.out << WITH_CALLS;
    EXPECT_NE(std::string::npos, tty.out.find("ok")) << tty.out;
    // A failed exec is the shim's error, and the task keeps running.
    allow_failure([](const RuntimeCall& c) {
        return std::find(c.args.begin(), c.args.end(), "exec") != c.args.end() &&
               c.log_bytes.find("nonexistent") != std::string::npos;
    });
    Output bad = ctr({"task", "exec", "--exec-id", "e5", "c2", "/nonexistent"});
    EXPECT_NE(0, bad.code);
    EXPECT_NE(std::string::npos, bad.err.find("/nonexistent")) << bad.err;
    EXPECT_EQ("RUNNING", task("c2").first);
}

TEST_F(Containerd, PauseResumeMetrics) {
    import_image();
    run_detached("c3");
    int pid = task("c3").second;
    ASSERT_GT(pid, 0);
    std::string freezer = cgroup_file(pid, "freezer", "freezer.state", "cgroup.freeze");
    Output p = ctr({"task", "pause", "c3"});
    EXPECT_EQ(0, p.code) << p.err << WITH_CALLS;
    EXPECT_EQ("PAUSED", task("c3").first);
    std::string frozen = read_file(freezer);
    EXPECT_TRUE(frozen == "FROZEN\n" || frozen == "1\n") << freezer << ": " << frozen;
    Output r = ctr({"task", "resume", "c3"});
    EXPECT_EQ(0, r.code) << r.err << WITH_CALLS;
    EXPECT_EQ("RUNNING", task("c3").first);
    Output m = ctr({"task", "metrics", "c3"});
    EXPECT_EQ(0, m.code) << m.err << WITH_CALLS;
    // v1: memory.usage_in_bytes, v2: memory.usage; pids.current on both.
    EXPECT_TRUE(std::regex_search(m.out, std::regex("memory\\.usage\\S*\\s+[1-9][0-9]*"))) << m.out;
    EXPECT_TRUE(std::regex_search(m.out, std::regex("pids\\.current\\s+[1-9]"))) << m.out;
}

// ctr 1.6 has no `task update`, so the shim's `update --resources -` is not driven here.
TEST_F(Containerd, RunWithMemoryLimit) {
    import_image();
    // ctr's default spec mounts no cgroup file system: the host's file tells.
    run_detached("c6", {"-d", "--memory-limit", "33554432"});
    int pid = task("c6").second;
    ASSERT_GT(pid, 0);
    std::string file = cgroup_file(pid, "memory", "memory.limit_in_bytes", "memory.max");
    EXPECT_EQ("33554432\n", read_file(file)) << file << WITH_CALLS;
}

TEST_F(Containerd, RunWithTheOptionsPeopleUse) {
    import_image();
    std::filesystem::create_directories(tmp() + "/vol");
    std::ofstream(tmp() + "/vol/f") << "hostfile\n";
    Output o = ctr(run_args(
        {"--rm", "--seccomp", "--read-only", "--mount",
         "type=bind,src=" + tmp() + "/vol,dst=/data,options=rbind:ro", "--env", "A=B", "--cwd",
         "/tmp", "--cap-add", "CAP_SYS_ADMIN", "--cap-drop", "CAP_NET_RAW", "--annotation",
         "foo=bar"},
        "c7",
        {"sh", "-c",
         "cat /data/f; echo $A; pwd; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status | tr -d ' "
         "\\t'; "
         "b=$(grep CapBnd /proc/self/status | cut -f2); "
         "echo sys_admin=$(( 0x$b >> 21 & 1 )) net_raw=$(( 0x$b >> 13 & 1 )); "
         "touch /x 2>/dev/null || echo read-only; touch /data/x 2>/dev/null || echo ro-mount"}));
    EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
    EXPECT_EQ(
        "hostfile\nB\n/tmp\nNoNewPrivs:1\nSeccomp:2\nsys_admin=1 net_raw=0\nread-only\nro-mount\n",
        o.out)
        << WITH_CALLS;
}

TEST_F(Containerd, RunPrivilegedWithTheHostNetwork) {
    import_image();
    std::string net_ns = std::filesystem::read_symlink("/proc/self/ns/net");
    Output o =
        ctr(run_args({"--rm", "--privileged", "--net-host"}, "c8",
                     {"sh", "-c",
                      "readlink /proc/self/ns/net; grep -E '^(Seccomp|CapEff):' "
                      "/proc/self/status | tr -d ' \\t'; test -c /dev/kmsg && echo devices"}));
    EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
    // Every capability this host knows, as containerd asks for in --privileged.
    std::string host_caps = read_file("/proc/self/status");
    host_caps = host_caps.substr(host_caps.find("CapBnd:") + 7);
    host_caps = host_caps.substr(host_caps.find_first_not_of(" \t"), 16);
    EXPECT_EQ(net_ns + "\nCapEff:" + host_caps + "\nSeccomp:0\ndevices\n", o.out) << WITH_CALLS;
}

TEST_F(Containerd, RunInAUserNamespace) {
    import_image();
    Output o = ctr(
        run_args({"--rm", "--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"}, "c9",
                 {"sh", "-c", "id -u; tr -s ' ' < /proc/self/uid_map; stat -c %u /bin/busybox"}),
        60000);
    EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
    EXPECT_EQ("0\n 0 100000 65536\n0\n", o.out) << WITH_CALLS;
}

TEST_F(Containerd, RunJoiningAnotherTasksPidNamespace) {
    import_image();
    run_detached("c10");
    int pid = task("c10").second;
    ASSERT_GT(pid, 0);
    // As a Kubernetes pod member joins its sandbox: a namespace by path.
    Output o = ctr(run_args({"--rm", "--with-ns", "pid:/proc/" + std::to_string(pid) + "/ns/pid"},
                            "c11", {"sh", "-c", "ps -o comm | grep -c '^tail'"}));
    EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
    EXPECT_EQ("1\n", o.out) << WITH_CALLS;
}

TEST_F(Containerd, RunWithItsOwnRuncRoot) {
    import_image();
    std::string root = tmp() + "/runc-root";
    run_detached("c12", {"-d", "--runc-root", root});
    // The shim passes ROOT/NAMESPACE as kapsel's --root.
    Output list = run_program({kapsel_binary(), "--root", root + "/" + ns_, "list", "-q"});
    EXPECT_EQ("c12\n", list.out) << list.err << WITH_CALLS;
    Output o = ctr({"task", "exec", "--exec-id", "e1", "c12", "echo", "from-exec"});
    EXPECT_EQ("from-exec\n", o.out) << o.err << WITH_CALLS;
    EXPECT_EQ(0, ctr({"task", "kill", "-s", "SIGKILL", "c12"}).code) << WITH_CALLS;
    EXPECT_TRUE(wait_for_status("c12", "STOPPED")) << WITH_CALLS;
    EXPECT_EQ(0, ctr({"task", "delete", "c12"}).code) << WITH_CALLS;
    EXPECT_EQ("", run_program({kapsel_binary(), "--root", root + "/" + ns_, "list", "-q"}).out);
}

TEST_F(Containerd, RunWithoutPivotRoot) {
    import_image();
    // ctr 1.6 sends --no-pivot as fresh task options, which drop --runc-binary: the shim
    // then runs `runc` from PATH, which the opt plugin makes kapsel.
    Output o = ctr(run_args({"--rm", "--no-pivot"}, "c13", {"sh", "-c", "echo no-pivot"}));
    EXPECT_EQ(0, o.code) << o.err << WITH_CALLS;
    EXPECT_EQ("no-pivot\n", o.out);
    bool no_pivot = false;
    for (auto& c : runtime().calls())
        no_pivot |= std::find(c.args.begin(), c.args.end(), "--no-pivot") != c.args.end();
    EXPECT_TRUE(no_pivot) << WITH_CALLS;
}

TEST_F(Containerd, CheckpointAndRestore) {
    if (!executable("/opt/kapsel-criu/bin/criu"))
        GTEST_SKIP() << "skipped: CRIU is missing (/opt/kapsel-criu/bin/criu; scripts/install-criu "
                        "installs it)";
    import_image();
    run_detached("c14");
    // The shim checkpoints through `kapsel checkpoint` into containerd's content store;
    // without --exit the task keeps running.
    Output c = ctr({"task", "checkpoint", "c14"}, 60000);
    EXPECT_EQ(0, c.code) << c.err << WITH_CALLS;
    EXPECT_NE(std::string::npos, c.out.find("checkpoint"))
        << "prints the checkpoint image: " << c.out;
    bool called = false;
    for (auto& call : runtime().calls())
        called |= std::find(call.args.begin(), call.args.end(), "checkpoint") != call.args.end();
    EXPECT_TRUE(called) << WITH_CALLS;
    EXPECT_EQ("RUNNING", task("c14").first) << WITH_CALLS;
}

TEST_F(Containerd, RunWithATty) {
    import_image();
    Output o = run_on_pty(ctr_line(run_args({"-t", "--rm"}, "c4", {"sh", "-c", "tty; echo ok"})));
    EXPECT_EQ(0, o.code) << o.out << WITH_CALLS;
    EXPECT_NE(std::string::npos, o.out.find("/dev/pts/0")) << o.out << WITH_CALLS;
    EXPECT_NE(std::string::npos, o.out.find("ok")) << o.out;
}

}  // namespace
}  // namespace kapsel::test
