// Security regressions: no host fd reaches the container (CVE-2024-21626), the
// kapsel binary cannot be overwritten from inside (CVE-2019-5736), mount targets
// resolve inside the rootfs, a failed create leaves nothing behind.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "harness.hpp"

namespace kapsel::test {
namespace {

using Security = KapselTest;

TEST_F(Security, NoHostFdReachesTheContainer) {
    // An fd the caller holds (not preserved) and everything kapsel itself opened
    // must be closed: only 0, 1, 2 remain (ls shows its own directory fd too).
    TempDir dir;
    std::ofstream(dir.path() + "/secret") << "host";
    int fd = open((dir.path() + "/secret").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 3);
    Bundle b("for f in /proc/self/fd/*; do echo \"$f -> $(readlink $f)\"; done");
    b.write();
    Output o = kapsel({"run", "--bundle", b.dir(), "c1"}, "", 30000, {fd});
    close(fd);
    ASSERT_EQ(0, o.code) << o.err;
    std::istringstream is(o.out);
    std::string line;
    int count = 0;
    while (std::getline(is, line)) {
        ++count;
        EXPECT_EQ(std::string::npos, line.find("secret")) << line;
        EXPECT_EQ(std::string::npos, line.find("exec.fifo")) << line;
        EXPECT_EQ(std::string::npos, line.find("cgroup")) << line;
        EXPECT_EQ(std::string::npos, line.find(root())) << line;
    }
    EXPECT_LE(count, 4) << o.out;
}

TEST_F(Security, CwdThroughAnFdMagicLinkNeverReachesTheHost) {
    // CVE-2024-21626: runc leaked a host directory fd, and cwd /proc/self/fd/N
    // put the process in the host's file system.
    for (int n = 3; n < 12; ++n) {
        Bundle b("pwd; ls /..");
        b.config["process"]["cwd"] = "/proc/self/fd/" + std::to_string(n);
        Output o = run(b, "cwd" + std::to_string(n));
        EXPECT_NE(0, o.code) << "fd " << n << ": " << o.out;
        EXPECT_EQ(std::string::npos, o.out.find("kapsel-test")) << o.out;
        EXPECT_EQ(std::string::npos, o.out.find("work")) << o.out;
    }
}

TEST_F(Security, TheKapselBinaryCannotBeOpenedForWritingThroughAContainer) {
    // CVE-2019-5736: a process in the container opens /proc/PID/exe of a kapsel
    // process in it (here: the created container's init, which is kapsel until
    // start), keeps the fd, and writes through it once kapsel has exited. We do
    // it from the host with every privilege, using a copy of kapsel so a failure
    // cannot damage the build.
    TempDir bin;
    std::string copy = bin.path() + "/kapsel";
    ASSERT_EQ(0, run_program({"/bin/cp", kapsel_binary(), copy}).code);
    Bundle b("true");
    b.write();
    Output c =
        run_program({copy, "--root", root() + "/state", "create", "--bundle", b.dir(), "c1"});
    ASSERT_EQ(0, c.code) << c.err;
    int pid = state("c1")["pid"];
    int held = open(("/proc/" + std::to_string(pid) + "/exe").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(held, 0);
    int now = open(("/proc/" + std::to_string(pid) + "/exe").c_str(), O_WRONLY | O_CLOEXEC);
    EXPECT_LT(now, 0) << "writable while it runs";
    ASSERT_EQ(0, run_program({copy, "--root", root() + "/state", "delete", "--force", "c1"}).code);
    int later = open(("/proc/self/fd/" + std::to_string(held)).c_str(), O_WRONLY | O_CLOEXEC);
    int err = errno;
    if (later >= 0) close(later);
    close(held);
    EXPECT_LT(later, 0) << "the binary was writable after kapsel exited";
    EXPECT_EQ(EROFS, err) << strerror(err);
}

TEST_F(Security, SymlinksInTheRootfsCannotRedirectMountsToTheHost) {
    TempDir victim;
    Bundle b("ls /escape/");
    b.own_rootfs();
    // The image points /escape at a host directory by absolute path.
    ASSERT_EQ(0, symlink(victim.path().c_str(), (b.rootfs() + "/escape").c_str()));
    b.config["mounts"].push_back(
        {{"destination", "/escape/planted"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
    Output o = run(b);
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_TRUE(std::filesystem::is_empty(victim.path()))
        << "a mount point appeared in the host directory";
    EXPECT_TRUE(std::filesystem::exists(b.rootfs() + victim.path() + "/planted"))
        << "the symlink resolved inside the rootfs instead";
}

TEST_F(Security, SymlinksCannotRedirectDeviceNodesOrTheCwd) {
    TempDir victim;
    Bundle b("true");
    b.own_rootfs();
    std::filesystem::remove_all(b.rootfs() + "/dev");
    ASSERT_EQ(0, symlink(victim.path().c_str(), (b.rootfs() + "/dev").c_str()));
    b.config["mounts"] = json::array();
    b.config["process"]["cwd"] = "/dev/work";
    Output o = run(b);
    EXPECT_TRUE(std::filesystem::is_empty(victim.path()))
        << "device nodes or the cwd landed on the host";
}

TEST_F(Security, AFailedCreateLeavesNothingBehind) {
    struct Case {
        const char* what;
        std::function<void(Bundle&)> spoil;
        const char* message;
    } cases[] = {
        {"bad bind source",
         [](Bundle& b) {
             b.config["mounts"].push_back({{"destination", "/x"},
                                           {"type", "bind"},
                                           {"source", "/nonexistent/dir"},
                                           {"options", {"bind"}}});
         },
         "/nonexistent/dir"},
        {"unknown filesystem",
         [](Bundle& b) {
             b.config["mounts"].push_back(
                 {{"destination", "/x"}, {"type", "nosuchfs"}, {"source", "x"}});
         },
         "nosuchfs"},
        {"bad tmpfs option",
         [](Bundle& b) {
             b.config["mounts"].push_back({{"destination", "/x"},
                                           {"type", "tmpfs"},
                                           {"source", "tmpfs"},
                                           {"options", {"mode=banana"}}});
         },
         "mode"},
        {"failing createRuntime hook",
         [](Bundle& b) {
             b.config["hooks"]["createRuntime"] = {{{"path", "/bin/false"}}};
         },
         "createRuntime"},
        {"missing rootfs", [](Bundle& b) { b.config["root"]["path"] = "/nonexistent/rootfs"; },
         "root.path"},
        // (uid_t)-1 means "unchanged" to setresuid: the process would stay root.
        {"uid -1", [](Bundle& b) { b.config["process"]["user"]["uid"] = 4294967295u; },
         "process.user.uid: 4294967295 is not a valid id"},
        {"gid -1", [](Bundle& b) { b.config["process"]["user"]["gid"] = 4294967295u; },
         "process.user.gid: 4294967295 is not a valid id"},
        // A net.* sysctl in the host's own network namespace would change the host.
        // (The value asked for is the host's own, so that not even a regression
        // changes the host.)
        {"net sysctl in the host's network namespace",
         [](Bundle& b) {
             std::string now;
             std::ifstream("/proc/sys/net/ipv4/ip_forward") >> now;
             b.drop_namespace("network");
             b.add_namespace("network", "/proc/self/ns/net");
             b.config["linux"]["sysctl"] = {{"net.ipv4.ip_forward", now}};
         },
         "the network namespace /proc/self/ns/net is the host's"},
        // proc and sysfs go on ordinary directories only, as runc requires: through a
        // symlink a full procfs would land where masked paths do not reach.
        {"/proc is a symlink in the rootfs",
         [](Bundle& b) {
             std::filesystem::remove_all(b.rootfs() + "/proc");
             std::filesystem::create_directory(b.rootfs() + "/elsewhere");
             std::filesystem::create_directory_symlink("elsewhere", b.rootfs() + "/proc");
         },
         "mount proc at /proc: it is a symlink in the rootfs"},
        // The init's own errors reach the parent however long the value they quote...
        {"1 MiB hostname", [](Bundle& b) { b.config["hostname"] = std::string(1 << 20, 'x'); },
         "sethostname"},
        // ... and when it is killed before it can say anything, its end is the error.
        {"1-byte memory limit",
         [](Bundle& b) { b.config["linux"]["resources"]["memory"] = {{"limit", 1}}; },
         "the container init was killed by the OOM killer"},
    };
    for (auto& c : cases) {
        Bundle b("true");
        b.own_rootfs();
        c.spoil(b);
        b.write();
        Output o = kapsel({"create", "--bundle", b.dir(), "c1"});
        EXPECT_EQ(1, o.code) << c.what;
        EXPECT_NE(std::string::npos, o.err.find(c.message)) << c.what << ": " << o.err;
        EXPECT_EQ(1, std::count(o.err.begin(), o.err.end(), '\n'))
            << c.what << ": one line: " << o.err;
        EXPECT_LT(o.err.size(), 8192u) << c.what << ": a line a terminal can show";
        expect_nothing_left("c1", b);
    }
}

TEST_F(Security, DeleteAfterACreateKilledMidwayLeavesNothing) {
    // kill -9 of create while its createRuntime hook runs: the cgroup exists, the
    // record does not yet. delete must still find and remove the cgroup.
    Bundle b("true");
    b.own_rootfs();
    std::string mark = root() + "/hook-ran";
    b.config["hooks"]["createRuntime"] = {
        {{"path", "/bin/sh"}, {"args", {"sh", "-c", "echo $$ > " + mark + "; exec sleep 20"}}}};
    b.write();
    pid_t pid = fork();
    if (pid == 0)
        exec_argv({kapsel_binary(), "--root", root() + "/state", "create", "--bundle", b.dir(), "c1"});
    for (int i = 0; i < 500 && access(mark.c_str(), F_OK) != 0; ++i) usleep(10000);
    ASSERT_EQ(0, access(mark.c_str(), F_OK)) << "the hook never ran";
    Output cgroups = run_program(
        {"/usr/bin/find", "/sys/fs/cgroup", "-maxdepth", "4", "-type", "d", "-name", "c1"});
    ASSERT_NE("", cgroups.out) << "the create had made its cgroup";
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    Output del = kapsel({"delete", "-f", "c1"});
    EXPECT_EQ(0, del.code) << del.err;
    // The hook outlived the killed create (it is a process of the host): end it.
    std::ifstream hook(mark);
    int hook_pid = 0;
    if (hook >> hook_pid && hook_pid > 0) kill(hook_pid, SIGKILL);
    expect_nothing_left("c1", b);
}

TEST_F(Security, ABundlePathThatIsNotUtf8IsAnErrorNotACrash) {
    // The path goes into the state JSON; it aborted kapsel (an uncaught type_error)
    // after the cgroup was made.
    TempDir parent;
    std::string dir = parent.path() + "/b\xff";
    ASSERT_TRUE(std::filesystem::create_directory(dir));
    Bundle b("true");
    b.write();
    std::filesystem::copy_file(b.dir() + "/config.json", dir + "/config.json");
    Output o = kapsel({"create", "--bundle", dir, "c1"});
    EXPECT_EQ(1, o.code) << o.err;
    EXPECT_NE(std::string::npos, o.err.find("bundle path is not valid UTF-8")) << o.err;
    expect_nothing_left("c1", b);
}

TEST_F(Security, MalformedConfigIsOneLineNamingThePlaceAndLeavesNothing) {
    Bundle b;
    b.write();
    std::ofstream(b.dir() + "/config.json", std::ios::trunc)
        << "{\"ociVersion\": \"1.0.0\", \"process\": {\"user\": {\"uid\": \"root\"}}}";
    Output o = kapsel({"create", "--bundle", b.dir(), "c1"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("process.user.uid")) << o.err;
    std::ofstream(b.dir() + "/config.json", std::ios::trunc) << "{\"ociVersion\": ";
    o = kapsel({"create", "--bundle", b.dir(), "c1"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("invalid JSON")) << o.err;
    EXPECT_EQ(1, std::count(o.err.begin(), o.err.end(), '\n')) << o.err;
    expect_nothing_left("c1", b);
    Output missing = kapsel({"create", "--bundle", "/nonexistent-bundle", "c1"});
    EXPECT_EQ(1, missing.code);
    EXPECT_NE(std::string::npos, missing.err.find("config.json")) << missing.err;
}

}  // namespace
}  // namespace kapsel::test
