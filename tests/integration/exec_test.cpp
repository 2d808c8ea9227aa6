// kapsel exec: a new process joins a running container (every namespace of its
// init, its cgroup, its process settings and seccomp filter), attached or
// detached, with a terminal or without; errors for containers it cannot join;
// and the security properties the init has (no host fd, cwd inside the root,
// the kapsel binary never writable through the process).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace kapsel::test {
namespace {

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::string ns_link(const std::string& pid, const std::string& ns) {
    char buf[256] = {};
    ssize_t n = readlink(("/proc/" + pid + "/ns/" + ns).c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// The value of a "Name:\tvalue" line of /proc/PID/status.
std::string status_field(const std::string& status, const std::string& name) {
    std::istringstream is(status);
    std::string line;
    while (std::getline(is, line))
        if (line.rfind(name + ":", 0) == 0) {
            auto v = line.substr(name.size() + 1);
            return v.substr(v.find_first_not_of(" \t"));
        }
    return "";
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

class Exec : public KapselTest {
  protected:
    // Container ids of their own, so that a concurrent run of other tests (which
    // use c1) cannot meet these in the shared cgroup hierarchies.
    std::string id =
        "exec-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());

    // Starts `b` detached; its init writes a marker into /dev/shm, then sleeps.
    void start(Bundle& b, const std::string& script = "") {
        b.set_script("echo from-init > /dev/shm/marker; " + script + " exec sleep 1000");
        b.write();
        Output o = kapsel({"run", "--detach", "--bundle", b.dir(), id});
        ASSERT_EQ(0, o.code) << o.err;
        // The marker is written once the init's shell has run.
        for (int i = 0; i < 200 && !contains(exec({"cat", "/dev/shm/marker"}).out, "from-init");
             ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Output exec(std::vector<std::string> args, const std::vector<std::string>& flags = {},
                const std::string& input = "", const std::vector<int>& pass_fds = {}) {
        std::vector<std::string> argv = {"exec"};
        argv.insert(argv.end(), flags.begin(), flags.end());
        argv.push_back(id);
        argv.insert(argv.end(), args.begin(), args.end());
        return kapsel(argv, input, 30000, pass_fds);
    }
    Output sh(const std::string& script, const std::vector<std::string>& flags = {}) {
        return exec({"sh", "-c", script}, flags);
    }
    std::string init_pid() { return std::to_string(state(id)["pid"].get<int>()); }
};

TEST_F(Exec, PrintsTheOutputAndExitsWithTheProcesssCode) {
    Bundle b;
    start(b);
    Output o = exec({"echo", "hello", "from", "exec"});
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ("hello from exec\n", o.out);
    EXPECT_EQ("", o.err);
    EXPECT_EQ(42, sh("exit 42").code);
    EXPECT_EQ(1, exec({"false"}).code);
    EXPECT_EQ(128 + SIGKILL, sh("kill -KILL $$").code) << "128+N when signal N killed it";
    Output in = exec({"cat"}, {}, "stdin reaches the process\n");
    EXPECT_EQ("stdin reaches the process\n", in.out);
    // Flags of the command are the command's: everything after the id is its argv.
    EXPECT_EQ("-c\n", exec({"echo", "-c"}).out);
    EXPECT_EQ("x\n", exec({"--", "echo", "x"}).out) << "a -- right after the id is dropped";
    EXPECT_EQ("running", state(id)["status"]) << "the container is untouched";
}

TEST_F(Exec, TheContainersProcessSettingsAreTheDefaults) {
    Bundle b;
    b.config["process"]["env"] = {"PATH=/bin:/usr/bin", "FROM_CONFIG=yes"};
    b.config["process"]["cwd"] = "/dev";
    b.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}, {"additionalGids", {100}}};
    b.config["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"hard", 777}, {"soft", 555}}};
    start(b);
    Output o = sh("echo $FROM_CONFIG; pwd; id; ulimit -n; ulimit -Hn; echo $HOME");
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ("yes\n/dev\nuid=1000(user) gid=1000(user) groups=100(users)\n555\n777\n/home/user\n",
              o.out);
}

TEST_F(Exec, EnvCwdUserAndGroupFlagsOverrideTheConfig) {
    Bundle b;
    b.config["process"]["env"] = {"PATH=/bin:/usr/bin", "KEEP=1", "CHANGE=old"};
    start(b);
    Output o = sh("echo $KEEP $CHANGE $NEW; pwd; id; echo $HOME",
                  {"--env", "CHANGE=new", "-e", "NEW=2", "--cwd", "/tmp", "--user", "1000:1000",
                   "--additional-gids", "100", "-g", "65534"});
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ(
        "1 new 2\n/tmp\nuid=1000(user) gid=1000(user) groups=100(users),65534(nogroup)\n"
        "/home/user\n",
        o.out);
    // A user not in the container's /etc/passwd gets HOME=/ (runc's behaviour).
    EXPECT_EQ("/\n", sh("echo $HOME", {"-u", "4242"}).out);
}

TEST_F(Exec, AProcessJsonReplacesTheConfigProcess) {
    Bundle b;
    start(b);
    TempDir dir;
    std::string path = dir.path() + "/process.json";
    std::ofstream(path) << R"({"args": ["sh", "-c", "id; pwd; echo $ONLY"], "cwd": "/proc",
                              "env": ["ONLY=json"], "user": {"uid": 5, "gid": 6}})";
    Output o = kapsel({"exec", "--process", path, id});
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ("uid=5 gid=6\n/proc\njson\n", o.out);

    std::ofstream(path, std::ios::trunc) << R"({"args": ["sh"], "cwd": 5})";
    Output bad = kapsel({"exec", "-p", path, id});
    EXPECT_EQ(255, bad.code);
    EXPECT_TRUE(contains(bad.err, path + ": cwd")) << "names the file and the field: " << bad.err;
    std::ofstream(path, std::ios::trunc) << R"({"args": [], "cwd": "/"})";
    bad = kapsel({"exec", "-p", path, id});
    EXPECT_TRUE(contains(bad.err, "process.args")) << bad.err;
    bad = kapsel({"exec", "-p", dir.path() + "/missing.json", id});
    EXPECT_EQ(255, bad.code);
    EXPECT_TRUE(contains(bad.err, "missing.json")) << bad.err;
}

TEST_F(Exec, JoinsEveryNamespaceOfTheInit) {
    Bundle b;
    b.config["hostname"] = "exec-box";
    start(b);
    std::string pid = init_pid();
    const char* all[] = {"pid", "mnt", "uts", "ipc", "net", "cgroup", "user", "time"};
    std::string script;
    for (auto* ns : all) script += std::string("readlink /proc/self/ns/") + ns + "; ";
    Output o = sh(script);
    ASSERT_EQ(0, o.code) << o.err;
    std::string want;
    for (auto* ns : all) want += ns_link(pid, ns) + "\n";
    EXPECT_EQ(want, o.out);
    // The same process tree, name, network and file system as the init.
    Output ps = exec({"ps", "-o", "pid,args"});
    EXPECT_TRUE(contains(ps.out, "    1 sleep 1000")) << "the init is pid 1: " << ps.out;
    EXPECT_EQ("exec-box\n", exec({"hostname"}).out);
    EXPECT_EQ("lo\n", exec({"ls", "/sys/class/net"}).out);
    EXPECT_EQ("from-init\n", exec({"cat", "/dev/shm/marker"}).out) << "the init's tmpfs";
    // Not a child of the container's init: its parent is outside the namespace.
    EXPECT_EQ("PPid:\t0\n", exec({"grep", "PPid", "/proc/self/status"}).out);
}

TEST_F(Exec, JoinsTheUserAndTimeNamespacesToo) {
    REQUIRE_PATH("/proc/self/ns/time", "no time namespaces in this kernel");
    Bundle b;
    b.add_namespace("user");
    b.config["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    b.config["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    b.add_namespace("time");
    b.config["linux"]["timeOffsets"] = {{"boottime", {{"secs", 86400 * 365}, {"nanosecs", 0}}}};
    start(b);
    std::string pid = init_pid();
    Output o =
        sh("readlink /proc/self/ns/user; readlink /proc/self/ns/time; id -u; "
           "grep -o '100000' /proc/self/uid_map; cut -d. -f1 /proc/uptime");
    ASSERT_EQ(0, o.code) << o.err;
    std::istringstream is(o.out);
    std::string user, time, uid, map;
    long uptime = 0;
    is >> user >> time >> uid >> map >> uptime;
    EXPECT_EQ(ns_link(pid, "user"), user);
    EXPECT_EQ(ns_link(pid, "time"), time);
    EXPECT_EQ("0", uid) << "root of the container's user namespace";
    EXPECT_EQ("100000", map);
    double host = 0;
    std::ifstream("/proc/uptime") >> host;
    EXPECT_GT(uptime, static_cast<long>(host) + 86400 * 364) << "the container's boot clock";
}

TEST_F(Exec, WithoutAMountNamespaceTheProcessIsInTheContainersRoot) {
    Bundle b;
    b.own_rootfs();
    b.drop_namespace("mount");
    b.config["mounts"] = json::array();
    b.config["linux"].erase("maskedPaths");
    b.config["linux"].erase("readonlyPaths");
    std::ofstream(b.rootfs() + "/only-in-rootfs") << "x";
    b.set_script("exec sleep 1000");
    b.write();
    ASSERT_EQ(0, kapsel({"run", "-d", "--bundle", b.dir(), id}).code);
    Output o = exec({"ls", "/only-in-rootfs"});
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ("/only-in-rootfs\n", o.out);
}

TEST_F(Exec, TheProcessIsInTheContainersCgroup) {
    Bundle b;
    start(b);
    TempDir dir;
    std::string pid_file = dir.path() + "/pid";
    ASSERT_EQ(0, exec({"sleep", "100"}, {"-d", "--pid-file", pid_file}).code);
    std::string pid = read_text(pid_file);
    auto dirs = cgroup_dirs(id);
    ASSERT_FALSE(dirs.empty());
    for (auto& d : dirs) {
        std::string procs = read_text(d + "/cgroup.procs");
        EXPECT_TRUE(contains("\n" + procs, "\n" + pid + "\n")) << pid << " not in " << d;
    }
    // Inside, its cgroup namespace shows the container's cgroup as the root, as for the init.
    EXPECT_EQ(sh("cat /proc/1/cgroup").out, sh("cat /proc/self/cgroup").out);
}

TEST_F(Exec, CgroupFlagChoosesAnExistingSubCgroup) {
    Bundle b;
    start(b);
    auto dirs = cgroup_dirs(id);
    Output missing = exec({"true"}, {"--cgroup", "nonexistent"});
    EXPECT_EQ(255, missing.code);
    EXPECT_TRUE(contains(missing.err, "nonexistent")) << missing.err;
    EXPECT_EQ(255, exec({"true"}, {"--cgroup", ".."}).code);
    EXPECT_TRUE(contains(exec({"true"}, {"--cgroup", "nosuch:/"}).err, "unknown controller"));
    for (auto& d : dirs) {
        ASSERT_EQ(0, mkdir((d + "/sub").c_str(), 0755)) << d;
        // A v1 cpuset takes tasks only once it has cpus and mems.
        for (auto* f : {"/cpuset.cpus", "/cpuset.mems"})
            if (access((d + f).c_str(), F_OK) == 0)
                std::ofstream(d + "/sub" + f) << read_text(d + f);
    }
    TempDir dir;
    ASSERT_EQ(
        0,
        exec({"sleep", "100"}, {"-d", "--pid-file", dir.path() + "/pid", "--cgroup", "sub"}).code);
    std::string pid = read_text(dir.path() + "/pid");
    for (auto& d : dirs) EXPECT_TRUE(contains(read_text(d + "/sub/cgroup.procs"), pid)) << d;
}

TEST_F(Exec, FallsBackToTheInitsCgroupWhenTheContainersTakesNoProcessesV2) {
    if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) != 0)
        GTEST_SKIP() << "skipped: needs a pure cgroup v2 host (scripts/qemu-cgroup2-tests "
                        "runs it in a guest)";
    Bundle b;
    start(b);
    auto dirs = cgroup_dirs(id);
    ASSERT_EQ(1u, dirs.size());
    std::string d = dirs[0];
    // The init moves below, and the container's cgroup hands a controller down:
    // cgroup v2 then lets no process into it.
    ASSERT_EQ(0, mkdir((d + "/leaf").c_str(), 0755));
    std::ofstream(d + "/leaf/cgroup.procs") << init_pid();
    std::istringstream available(read_text(d + "/cgroup.controllers"));
    std::string controller;
    available >> controller;
    if (controller.empty()) GTEST_SKIP() << "skipped: no controller is delegated to " << d;
    std::ofstream(d + "/cgroup.subtree_control") << "+" + controller;
    ASSERT_TRUE(contains(read_text(d + "/cgroup.subtree_control"), controller));
    Output o = exec({"cat", "/proc/self/cgroup"});
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ("0::/leaf\n", o.out) << "the init's cgroup, seen through the cgroup namespace";
    // An explicit --cgroup / means that cgroup or nothing.
    EXPECT_EQ(255, exec({"true"}, {"--cgroup", "/"}).code);
}

using json = nlohmann::json;

json block_mkdir() {
    return {{"defaultAction", "SCMP_ACT_ALLOW"},
            {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}},
            {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}}}}};
}

TEST_F(Exec, TheContainersSeccompCapsAndNoNewPrivsApply) {
    for (bool nnp : {true, false}) {
        SCOPED_TRACE(nnp ? "noNewPrivileges" : "without noNewPrivileges");
        Bundle b;
        b.config["linux"]["seccomp"] = block_mkdir();
        b.config["process"]["noNewPrivileges"] = nnp;
        start(b);
        Output o = sh("mkdir /dev/shm/d 2>&1; echo rc=$?");
        EXPECT_TRUE(contains(o.out, "Operation not permitted")) << o.out << o.err;
        EXPECT_TRUE(contains(o.out, "rc=1"));
        std::string inside = exec({"cat", "/proc/self/status"}).out;
        std::string init = read_text("/proc/" + init_pid() + "/status");
        EXPECT_EQ(nnp ? "1" : "0", status_field(inside, "NoNewPrivs"));
        EXPECT_EQ("2", status_field(inside, "Seccomp")) << "filter mode";
        for (auto* set : {"CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"})
            EXPECT_EQ(status_field(init, set), status_field(inside, set)) << set;
        // A process.json cannot leave the filter behind.
        TempDir dir;
        std::ofstream(dir.path() + "/p.json") << R"({"args": ["mkdir", "/dev/shm/e"], "cwd": "/"})";
        EXPECT_NE(0, kapsel({"exec", "-p", dir.path() + "/p.json", id}).code);
        ASSERT_EQ(0, kapsel({"delete", "--force", id}).code);
    }
}

TEST_F(Exec, CapAddsACapabilityAndNoNewPrivsSetsIt) {
    Bundle b;
    b.config["process"]["noNewPrivileges"] = false;
    start(b);
    auto cap_eff = [&](const std::vector<std::string>& flags) {
        return std::stoull(status_field(exec({"cat", "/proc/self/status"}, flags).out, "CapEff"),
                           nullptr, 16);
    };
    constexpr unsigned long long net_admin = 1ull << 12;
    EXPECT_EQ(0u, cap_eff({}) & net_admin) << "the template does not grant it";
    EXPECT_EQ(net_admin, cap_eff({"--cap", "CAP_NET_ADMIN"}) & net_admin);
    // For a non-root user too: it is ambient.
    EXPECT_EQ(net_admin, cap_eff({"-u", "1000", "-c", "CAP_NET_ADMIN"}) & net_admin);
    EXPECT_EQ("0\n", sh("grep NoNewPrivs /proc/self/status | cut -f2").out);
    EXPECT_EQ("1\n", sh("grep NoNewPrivs /proc/self/status | cut -f2", {"--no-new-privs"}).out);
    Output bad = exec({"true"}, {"--cap", "CAP_FLY"});
    EXPECT_EQ(255, bad.code);
    EXPECT_TRUE(contains(bad.err, "--cap \"CAP_FLY\": unknown capability")) << bad.err;
}

TEST_F(Exec, TtyWithAConsoleSocketSendsThePtyMaster) {
    Bundle b;
    start(b);
    FdListener sock;
    int master = -1;
    std::thread receiver([&] { master = sock.receive(); });
    TempDir dir;
    Output o = exec(
        {"sh", "-c", "tty; stat -L -c %t /proc/self/fd/0; echo done"},
        {"--tty", "--detach", "--console-socket", sock.path(), "--pid-file", dir.path() + "/pid"});
    receiver.join();
    ASSERT_EQ(0, o.code) << o.err;
    ASSERT_GE(master, 0) << "no pty master arrived";
    std::string out;
    char buf[1024];
    pollfd p{master, POLLIN, 0};
    while (poll(&p, 1, 5000) > 0) {
        ssize_t n = read(master, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
        if (contains(out, "done\r\n")) break;  // the pty may deliver "done" and its CRLF apart
    }
    close(master);
    // The first pty of the container's own devpts instance, not one of the host's.
    EXPECT_TRUE(contains(out, "/dev/pts/0\r\n")) << out;
    EXPECT_TRUE(contains(out, "88\r\n")) << "a pty slave (major 136): " << out;
    EXPECT_TRUE(contains(out, "done\r\n")) << out;
    Output detached_without = exec({"true"}, {"-t", "-d"});
    EXPECT_EQ(255, detached_without.code);
    EXPECT_TRUE(contains(detached_without.err, "--console-socket")) << detached_without.err;
}

TEST_F(Exec, AttachedTtyIsProxied) {
    if (access("/usr/bin/script", X_OK) != 0)
        GTEST_SKIP() << "skipped: script(1) from util-linux is missing";
    Bundle b;
    start(b);
    std::string cmd = kapsel_binary() + " --root " + root() + "/state exec -t " + id +
                      " sh -c 'test -t 0 && echo stdin-is-a-tty; read line; echo got:$line; "
                      "exit 3'";
    Output o = run_program({"/usr/bin/script", "-qec", cmd, "/dev/null"}, "hello\n");
    EXPECT_EQ(3, o.code) << o.out << o.err;
    EXPECT_TRUE(contains(o.out, "stdin-is-a-tty")) << o.out;
    EXPECT_TRUE(contains(o.out, "got:hello")) << o.out;
}

TEST_F(Exec, DetachedWritesThePidFileAndReturnsOnceTheProcessRuns) {
    Bundle b;
    start(b);
    TempDir dir;
    std::string pid_file = dir.path() + "/exec.pid";
    Output o = exec({"sleep", "100"}, {"--detach", "--pid-file", pid_file});
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ("", o.out);
    std::string text = read_text(pid_file);
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(std::string::npos, text.find('\n')) << "the number without a newline";
    int pid = std::stoi(text);
    EXPECT_TRUE(process_alive(pid));
    EXPECT_NE(init_pid(), text);
    EXPECT_TRUE(contains(read_text("/proc/" + text + "/cmdline"), "sleep")) << "it has exec'd";
    // Not the init's child: re-parented outside the container when kapsel exited.
    std::string stat = read_text("/proc/" + text + "/stat");
    int ppid = std::stoi(stat.substr(stat.rfind(')') + 4));
    EXPECT_NE(std::stoi(init_pid()), ppid);
    // An exec failure is an error, also detached.
    Output bad = exec({"/nonexistent/program"}, {"-d", "--pid-file", dir.path() + "/bad.pid"});
    EXPECT_EQ(255, bad.code);
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/bad.pid"));
}

TEST_F(Exec, AnExecveFailureIsReportedNotTakenForSuccess) {
    // The program passes every check, and execve itself fails: the error comes
    // back over the sync socket instead of the EOF a successful execve causes.
    Bundle b;
    b.own_rootfs();
    std::ofstream(b.rootfs() + "/bad.sh") << "#!/nonexistent/interpreter\n";
    ASSERT_EQ(0, chmod((b.rootfs() + "/bad.sh").c_str(), 0755));
    start(b);
    TempDir dir;
    for (bool detach : {false, true}) {
        std::vector<std::string> flags = {"--pid-file", dir.path() + "/pid"};
        if (detach) flags.push_back("-d");
        Output o = exec({"/bad.sh"}, flags);
        EXPECT_EQ(255, o.code) << o.out;
        EXPECT_EQ("kapsel: exec /bad.sh: no such file or directory\n", o.err);
        EXPECT_FALSE(std::filesystem::exists(dir.path() + "/pid"));
    }
}

TEST_F(Exec, AttachedForwardsSignals) {
    Bundle b;
    start(b);
    std::string k = kapsel_binary() + " --root " + root() + "/state";
    Output o = run_program(
        {"/bin/sh", "-c",
         k + " exec " + id +
             " sh -c 'trap \"echo got-term; exit 7\" TERM; echo ready; while :; do sleep 0.1; "
             "done' & pid=$!; sleep 0.5; kill -TERM $pid; wait $pid; echo rc=$?"});
    EXPECT_TRUE(contains(o.out, "got-term")) << o.out << o.err;
    EXPECT_TRUE(contains(o.out, "rc=7")) << o.out;
}

TEST_F(Exec, PreservedFdsReachTheProcess) {
    Bundle b;
    start(b);
    TempDir dir;
    std::ofstream(dir.path() + "/data") << "preserved";
    std::string k = kapsel_binary() + " --root " + root() + "/state";
    Output o = run_program({"/bin/sh", "-c",
                            "exec 3<" + dir.path() + "/data 4</dev/null; " + k +
                                " exec --preserve-fds 2 " + id + " cat /proc/self/fd/3"});
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ("preserved", o.out);
    Output missing = exec({"true"}, {"--preserve-fds", "40"});
    EXPECT_EQ(255, missing.code);
    EXPECT_TRUE(contains(missing.err, "not open")) << missing.err;
}

TEST_F(Exec, StoppedAndPausedContainersAreRefusedCreatedOnesJoined) {
    Bundle b;
    b.set_script("sleep 1000");
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), id}).code);
    // As runc: a created container's namespaces are complete, so it can be joined.
    Output created = exec({"sh", "-c", "ps -o pid,args | grep -c '^ *1 .*[k]apsel'"});
    EXPECT_EQ(0, created.code) << created.err;
    EXPECT_EQ("1\n", created.out) << "pid 1 is the waiting init";
    EXPECT_EQ("created", state(id)["status"]);
    ASSERT_EQ(0, kapsel({"start", id}).code);
    EXPECT_EQ("running", state(id)["status"]);

    ASSERT_EQ(0, kapsel({"pause", id}).code);
    ASSERT_EQ("paused", state(id)["status"]);
    Output paused = exec({"true"});
    EXPECT_EQ(255, paused.code);
    // runc's words, which callers match.
    EXPECT_EQ("kapsel: cannot exec in a paused container \"" + id +
                  "\" (use --ignore-paused to override)\n",
              paused.err);
    // With --ignore-paused the process starts once the container is resumed.
    std::thread resumer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        kapsel({"resume", id});
    });
    Output ignored = exec({"echo", "after-resume"}, {"--ignore-paused"});
    resumer.join();
    EXPECT_EQ(0, ignored.code) << ignored.err;
    EXPECT_EQ("after-resume\n", ignored.out);

    ASSERT_EQ(0, kapsel({"kill", id, "KILL"}).code);
    Output stopped = exec({"true"});
    EXPECT_EQ(255, stopped.code);
    EXPECT_EQ("kapsel: cannot exec in container \"" + id + "\": it is stopped\n", stopped.err);
    Output none = kapsel({"exec", "no-such-container", "true"});
    EXPECT_EQ(255, none.code);
    EXPECT_TRUE(contains(none.err, "does not exist")) << none.err;
}

TEST_F(Exec, AMissingProgramIsAnErrorBeforeAnythingRuns) {
    Bundle b;
    start(b);
    Output o = exec({"no-such-program"});
    EXPECT_EQ(255, o.code);
    EXPECT_EQ("kapsel: exec \"no-such-program\": executable file not found in $PATH\n", o.err);
    EXPECT_EQ("", o.out);
    EXPECT_EQ(255, exec({"/bin/no-such-program"}).code);
    EXPECT_EQ("0\n", sh("ps -o args | grep -c 'no-[s]uch'").out) << "nothing is left of it";
}

TEST_F(Exec, BadFlagsNameTheFlag) {
    Bundle b;
    start(b);
    struct {
        std::vector<std::string> args;
        const char* message;
    } cases[] = {
        {{"exec", "--user", "bob", id, "true"}, "--user \"bob\""},
        {{"exec", "-g", "staff", id, "true"}, "--additional-gids \"staff\""},
        {{"exec", "--cwd", "tmp", id, "true"}, "--cwd \"tmp\""},
        {{"exec", "--env", "NOVALUE", id, "true"}, "--env \"NOVALUE\""},
        {{"exec", "--bogus", id, "true"}, "unknown flag --bogus"},
        {{"exec", id}, "expects a command"},
        {{"exec"}, "expects a container id"},
    };
    for (auto& c : cases) {
        Output o = kapsel(c.args);
        EXPECT_NE(0, o.code) << c.message;
        EXPECT_TRUE(contains(o.err, c.message)) << c.message << ": " << o.err;
        EXPECT_EQ(1, std::count(o.err.begin(), o.err.end(), '\n')) << "one line: " << o.err;
    }
}

// --- security: what the init guarantees holds for exec'd processes too ---

TEST_F(Exec, NoHostFdReachesTheProcess) {
    Bundle b;
    start(b);
    TempDir dir;
    std::ofstream(dir.path() + "/secret") << "host";
    int fd = open((dir.path() + "/secret").c_str(), O_RDONLY);  // inheritable, not preserved
    ASSERT_GE(fd, 3);
    Output o = run_program({kapsel_binary(), "--root", root() + "/state", "--log",
                            dir.path() + "/log", "exec", id, "ls", "-l", "/proc/self/fd/"},
                           "", 30000, {fd});
    close(fd);
    ASSERT_EQ(0, o.code) << o.err;
    std::istringstream is(o.out);
    std::string line;
    int fds = 0;
    while (std::getline(is, line)) {
        if (!contains(line, "->")) continue;
        ++fds;
        EXPECT_FALSE(contains(line, "secret")) << line;
        EXPECT_FALSE(contains(line, dir.path())) << "the log file: " << line;
        EXPECT_FALSE(contains(line, "cgroup")) << line;
        EXPECT_FALSE(contains(line, root())) << line;
        EXPECT_FALSE(contains(line, "pidfd")) << "the init's pidfd: " << line;
    }
    EXPECT_LE(fds, 4) << "stdio and ls's own directory: " << o.out;
}

TEST_F(Exec, CwdThroughAnFdMagicLinkIsRefused) {
    // CVE-2024-21626: a host directory fd kapsel holds while it joins must not
    // become the process's working directory.
    Bundle b;
    start(b);
    for (int n = 3; n < 12; ++n) {
        Output o =
            exec({"sh", "-c", "pwd; ls /.."}, {"--cwd", "/proc/self/fd/" + std::to_string(n)});
        EXPECT_EQ(255, o.code) << "fd " << n << ": " << o.out;
        EXPECT_FALSE(contains(o.out, "kapsel-test")) << o.out;
        EXPECT_FALSE(contains(o.out, "work")) << o.out;
    }
}

TEST_F(Exec, TheKapselBinaryIsNotWritableThroughTheProcess) {
    // CVE-2019-5736: until it execs, the new process is kapsel, inside the
    // container. We catch it there (the container is paused, so it freezes as
    // soon as it joins the cgroup), hold /proc/PID/exe open, and try to write
    // through it while it runs and after kapsel has exited. We use a copy of
    // kapsel so a failure cannot damage the build.
    TempDir bin;
    std::string copy = bin.path() + "/kapsel";
    ASSERT_EQ(0, run_program({"/bin/cp", kapsel_binary(), copy}).code);
    Bundle b;
    start(b);
    ASSERT_EQ(0, kapsel({"pause", id}).code);
    std::string init = init_pid();
    Output exec_out;
    std::thread execer([&] {
        exec_out = run_program(
            {copy, "--root", root() + "/state", "exec", "--ignore-paused", "-d", id, "true"});
    });
    std::string caught;
    auto dirs = cgroup_dirs(id);
    for (int i = 0; i < 500 && caught.empty(); ++i) {
        std::istringstream procs(read_text(dirs.front() + "/cgroup.procs"));
        std::string p;
        while (procs >> p)
            if (p != init) caught = p;
        if (caught.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    int held = -1, now = -1;
    if (!caught.empty()) {
        held = open(("/proc/" + caught + "/exe").c_str(), O_RDONLY | O_CLOEXEC);
        now = open(("/proc/" + caught + "/exe").c_str(), O_WRONLY | O_CLOEXEC);
    }
    kapsel({"resume", id});
    execer.join();
    ASSERT_FALSE(caught.empty()) << "the exec process never appeared in the cgroup";
    ASSERT_EQ(0, exec_out.code) << exec_out.err;
    ASSERT_GE(held, 0) << "could not open /proc/" << caught << "/exe";
    EXPECT_LT(now, 0) << "writable while it runs";
    if (now >= 0) close(now);
    int later = open(("/proc/self/fd/" + std::to_string(held)).c_str(), O_WRONLY | O_CLOEXEC);
    int err = errno;
    if (later >= 0) close(later);
    close(held);
    EXPECT_LT(later, 0) << "the binary was writable after kapsel exited";
    EXPECT_EQ(EROFS, err) << strerror(err);
}

}  // namespace
}  // namespace kapsel::test
