// The container process: user and groups, capabilities, rlimits, env, cwd,
// umask, no_new_privs, OOM score, personality, sysctl.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>

#include "harness.hpp"

namespace kapsel::test {
namespace {

using Process = KapselTest;

std::string field(const std::string& status, const std::string& name) {
    std::istringstream is(status);
    std::string line;
    while (std::getline(is, line))
        if (line.rfind(name + ":", 0) == 0) {
            auto v = line.substr(name.size() + 1);
            return v.substr(v.find_first_not_of(" \t"));
        }
    return "";
}

TEST_F(Process, UserGroupsAndAdditionalGroups) {
    Bundle b("id");
    b.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}, {"additionalGids", {5, 100}}};
    Output o = run(b);
    EXPECT_EQ("uid=1000(user) gid=1000(user) groups=5(tty),100(users)\n", o.out) << o.err;
}

TEST_F(Process, HomeComesFromTheImagesPasswd) {
    Bundle b("echo $HOME");
    b.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
    EXPECT_EQ("/home/user\n", run(b).out);
    Bundle r("echo $HOME");
    EXPECT_EQ("/root\n", run(r).out);
}

TEST_F(Process, EnvAndCwd) {
    Bundle b("echo $GREETING; pwd");
    b.config["process"]["env"].push_back("GREETING=hello");
    b.config["process"]["cwd"] = "/etc";
    EXPECT_EQ("hello\n/etc\n", run(b).out);
}

// A 0700 directory of root's: a tmpfs over the image's /root, made by root.
void add_private_root_dir(Bundle& b) {
    b.config["mounts"].push_back({{"destination", "/root"},
                                  {"type", "tmpfs"},
                                  {"source", "tmpfs"},
                                  {"options", {"mode=700"}}});
}

TEST_F(Process, CwdTheUserCannotEnterIsEnteredBeforeTheUserSwitch) {
    // runc changes directory while it still has its capabilities, so a user may start
    // in a directory it could not enter itself; kapsel failed with "permission denied".
    Bundle b("pwd; id -u; cd /root 2>/dev/null || echo cannot-enter-again");
    add_private_root_dir(b);
    b.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
    b.config["process"]["cwd"] = "/root";
    Output o = run(b);
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ("/root\n1000\ncannot-enter-again\n", o.out) << o.err;
}

TEST_F(Process, ExecAsAUserIntoACwdItCannotEnterWorksAsWithRunc) {
    Bundle b("sleep 30");
    add_private_root_dir(b);
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "c1"}).code);
    ASSERT_EQ(0, kapsel({"start", "c1"}).code);
    Output o =
        kapsel({"exec", "--user", "1000:1000", "--cwd", "/root", "c1", "sh", "-c", "pwd; id -u"});
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ("/root\n1000\n", o.out) << o.err;
    // A cwd that does not exist is still an error, with our capabilities or without.
    Output missing = kapsel({"exec", "--user", "1000:1000", "--cwd", "/nonexistent", "c1", "true"});
    EXPECT_NE(0, missing.code);
    EXPECT_NE(std::string::npos, missing.err.find("chdir to cwd /nonexistent")) << missing.err;
}

TEST_F(Process, CapabilitiesAreExactlyTheConfiguredSets) {
    Bundle b("grep Cap /proc/self/status");
    b.config["process"]["capabilities"] = {{"bounding", {"CAP_NET_BIND_SERVICE", "CAP_KILL"}},
                                           {"effective", {"CAP_KILL"}},
                                           {"permitted", {"CAP_KILL", "CAP_NET_BIND_SERVICE"}},
                                           {"inheritable", {"CAP_NET_BIND_SERVICE"}},
                                           {"ambient", {"CAP_NET_BIND_SERVICE"}}};
    Output o = run(b);
    ASSERT_EQ(0, o.code) << o.err;
    // CAP_KILL = 5, CAP_NET_BIND_SERVICE = 10. /bin/sh ran with the ambient set,
    // so after its exec effective = permitted = ambient.
    EXPECT_EQ("0000000000000420", field(o.out, "CapBnd"));
    EXPECT_EQ("0000000000000400", field(o.out, "CapInh"));
    EXPECT_EQ("0000000000000400", field(o.out, "CapAmb"));
}

TEST_F(Process, RuncsOwnTemplateRuns) {
    // `runc spec`'s capabilities: ambient ones that are not inheritable. runc and crun
    // skip what the kernel will not raise; every tutorial's first bundle depends on it.
    if (access("/usr/sbin/runc", X_OK) != 0 && access("/usr/bin/runc", X_OK) != 0)
        GTEST_SKIP() << "skipped: runc is not installed (scripts/install-clients installs it)";
    Bundle b("grep Cap /proc/self/status");
    TempDir tmpl;
    Output spec = run_program({"/bin/sh", "-c", "cd \"$0\" && runc spec", tmpl.path()});
    ASSERT_EQ(0, spec.code) << spec.err;
    json runc = json::parse(std::ifstream(tmpl.path() + "/config.json"));
    ASSERT_FALSE(runc["process"]["capabilities"].contains("inheritable"));
    b.config["process"]["capabilities"] = runc["process"]["capabilities"];
    Output o = run(b);
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_EQ("0000000000000000", field(o.out, "CapAmb"));
    // CAP_AUDIT_WRITE = 29, CAP_KILL = 5, CAP_NET_BIND_SERVICE = 10.
    EXPECT_EQ("0000000020000420", field(o.out, "CapBnd"));
}

TEST_F(Process, UnknownCapabilityIsACreateError) {
    Bundle b;
    b.config["process"]["capabilities"]["bounding"].push_back("CAP_TEST");
    b.write();
    Output o = kapsel({"create", "--bundle", b.dir(), "c1"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("unknown capability \"CAP_TEST\"")) << o.err;
    EXPECT_NE(std::string::npos, o.err.find("process.capabilities.bounding"));
    expect_nothing_left("c1", b);
}

TEST_F(Process, ACapabilityKapselDoesNotHoldIsACreateError) {
    if (prctl_capbset_read_resource()) GTEST_SKIP() << "skipped: this host grants CAP_SYS_RESOURCE";
    Bundle b;
    b.config["process"]["capabilities"]["bounding"].push_back("CAP_SYS_RESOURCE");
    b.write();
    Output o = kapsel({"create", "--bundle", b.dir(), "c1"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("CAP_SYS_RESOURCE")) << o.err;
    expect_nothing_left("c1", b);
}

TEST_F(Process, RlimitsAreSet) {
    Bundle b("ulimit -n; ulimit -Hn; ulimit -c");
    b.config["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 321}, {"hard", 654}},
                                      {{"type", "RLIMIT_CORE"}, {"soft", 0}, {"hard", 0}}};
    EXPECT_EQ("321\n654\n0\n", run(b).out);
}

TEST_F(Process, UnknownRlimitIsACreateError) {
    Bundle b;
    b.config["process"]["rlimits"] = {{{"type", "RLIMIT_TEST"}, {"soft", 1}, {"hard", 1}}};
    b.write();
    Output o = kapsel({"create", "--bundle", b.dir(), "c1"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("unknown rlimit \"RLIMIT_TEST\"")) << o.err;
    expect_nothing_left("c1", b);
}

TEST_F(Process, RaisingAHardLimitKapselCannotRaiseIsAClearError) {
    rlimit cur{};
    getrlimit(RLIMIT_NOFILE, &cur);
    if (cur.rlim_max == RLIM_INFINITY) GTEST_SKIP() << "skipped: no finite hard limit to exceed";
    Bundle b;
    b.config["process"]["rlimits"] = {
        {{"type", "RLIMIT_NOFILE"}, {"soft", 1024}, {"hard", cur.rlim_max * 4}}};
    b.write();
    Output o = kapsel({"create", "--bundle", b.dir(), "c1"});
    if (o.code == 0)
        GTEST_SKIP() << "skipped: kapsel may raise hard limits here (CAP_SYS_RESOURCE)";
    EXPECT_NE(std::string::npos, o.err.find("RLIMIT_NOFILE")) << o.err;
    expect_nothing_left("c1", b);
}

TEST_F(Process, UmaskNoNewPrivsOomScore) {
    Bundle b("umask; grep NoNewPrivs /proc/self/status; cat /proc/self/oom_score_adj");
    b.config["process"]["user"]["umask"] = 077;
    b.config["process"]["noNewPrivileges"] = true;
    b.config["process"]["oomScoreAdj"] = 500;
    Output o = run(b);
    EXPECT_EQ("0077\nNoNewPrivs:\t1\n500\n", o.out) << o.err;
}

TEST_F(Process, Personality32Bit) {
    Bundle b("uname -m");
    b.config["linux"]["personality"] = {{"domain", "LINUX32"}};
    Output o = run(b);
    EXPECT_EQ("i686\n", o.out) << o.err;
}

TEST_F(Process, NamespacedSysctl) {
    Bundle b("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni");
    b.config["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}, {"kernel.shmmni", "1234"}};
    Output o = run(b);
    EXPECT_EQ("1\n1234\n", o.out) << o.err;
}

TEST_F(Process, HostWideSysctlIsRefused) {
    Bundle b;
    b.config["linux"]["sysctl"] = {{"vm.swappiness", "1"}};
    b.write();
    Output o = kapsel({"create", "--bundle", b.dir(), "c1"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("vm.swappiness")) << o.err;
}

TEST_F(Process, MissingProgramIsACreateError) {
    Bundle b;
    b.config["process"]["args"] = {"no-such-program"};
    b.write();
    Output o = kapsel({"create", "--bundle", b.dir(), "c1"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("executable file not found")) << o.err;
    expect_nothing_left("c1", b);
}

TEST_F(Process, PreservedFdsReachTheContainer) {
    TempDir dir;
    std::string path = dir.path() + "/passed";
    std::ofstream(path) << "through fd 3\n";
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    if (fd != 3) {
        ASSERT_EQ(3, dup3(fd, 3, O_CLOEXEC)) << "fd 3 must be free in the test";
        close(fd);
    }
    Bundle b("cat <&3");
    b.write();
    Output o = kapsel({"run", "--preserve-fds", "1", "--bundle", b.dir(), "c1"}, "", 30000, {3});
    close(3);
    EXPECT_EQ("through fd 3\n", o.out) << o.err;
}

TEST_F(Process, ListenFdsAreHandedOnLikeSystemdActivation) {
    TempDir dir;
    std::string path = dir.path() + "/sock";
    std::ofstream(path) << "activated\n";
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    if (fd != 3) {
        ASSERT_EQ(3, dup3(fd, 3, O_CLOEXEC));
        close(fd);
    }
    Bundle b("echo $LISTEN_FDS $LISTEN_PID; cat <&3");
    b.write();
    // As systemd does it: LISTEN_PID names the process the fds are for, here kapsel.
    std::string cmd = "LISTEN_FDS=1 LISTEN_PID=$$ exec " + kapsel_binary() + " --root " + root() +
                      "/state run --bundle " + b.dir() + " c1";
    Output o = run_program({"/bin/sh", "-c", cmd}, "", 30000, {3});
    EXPECT_EQ("1 1\nactivated\n", o.out) << o.err;
    // Meant for another process: not passed on.
    Output other = kapsel({"run", "--bundle", b.dir(), "c2"}, "", 30000, {3}, {"LISTEN_FDS=1", "LISTEN_PID=1"});
    close(3);
    EXPECT_EQ("\n", other.out) << other.err;
}

}  // namespace
}  // namespace kapsel::test
