// Namespaces: the app is pid 1, its hostname, ipc, network, ids and cgroup are private.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "harness.hpp"

namespace kapsel::test {
namespace {

using Isolation = KapselTest;

std::string ns_link(const std::string& pid, const std::string& ns) {
    char buf[256] = {};
    ssize_t n = readlink(("/proc/" + pid + "/ns/" + ns).c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

TEST_F(Isolation, TheProcessIsPid1AndSeesOnlyItsOwnProcesses) {
    Bundle b("echo $$; ls /proc | grep -c '^[0-9]'");
    Output o = run(b);
    EXPECT_EQ(0, o.code) << o.err;
    std::istringstream is(o.out);
    int self = 0, count = 0;
    is >> self >> count;
    EXPECT_EQ(1, self);
    EXPECT_LE(count, 3) << "only sh, ls and grep: no host process is visible";
}

TEST_F(Isolation, HostnameAndDomainname) {
    Bundle b("hostname; cat /proc/sys/kernel/domainname");
    b.config["hostname"] = "box";
    b.config["domainname"] = "example.org";
    Output o = run(b);
    EXPECT_EQ("box\nexample.org\n", o.out) << o.err;
    char host[256] = {};
    gethostname(host, sizeof host);
    EXPECT_STRNE("box", host) << "the host keeps its name";
}

TEST_F(Isolation, EveryNamespaceIsNewWhenAsked) {
    Bundle b("sleep 5");
    b.add_namespace("cgroup");
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "c1"}).code);
    std::string pid = std::to_string(state("c1")["pid"].get<int>());
    for (auto* ns : {"pid", "mnt", "uts", "ipc", "net", "cgroup"})
        EXPECT_NE(ns_link("self", ns), ns_link(pid, ns)) << ns;
    EXPECT_EQ(ns_link("self", "user"), ns_link(pid, "user"));
}

TEST_F(Isolation, NetworkNamespaceHasOnlyLoopback) {
    Bundle b("ls /sys/class/net");
    Output o = run(b);
    EXPECT_EQ("lo\n", o.out) << o.err;
}

TEST_F(Isolation, JoiningANamespaceByPath) {
    // A network namespace the test makes, recognisable by a sysctl value.
    std::string name = "kapsel-test-" + std::to_string(getpid());
    ASSERT_EQ(0, run_program({"/sbin/ip", "netns", "add", name}).code);
    // Deleted however the test ends: a failed assertion must not leave it behind.
    struct NetnsDel {
        std::string name;
        ~NetnsDel() { run_program({"/sbin/ip", "netns", "del", name}); }
    } del{name};
    ASSERT_EQ(0, run_program({"/sbin/ip", "netns", "exec", name, "/bin/sh", "-c",
                              "echo 99 > /proc/sys/net/ipv4/ip_default_ttl"})
                     .code);
    Bundle b("cat /proc/sys/net/ipv4/ip_default_ttl");
    b.add_namespace("network", "/run/netns/" + name);
    Output o = run(b);
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ("99\n", o.out);
}

TEST_F(Isolation, JoiningAPathThatIsNotANamespaceOfThatTypeFails) {
    Bundle b;
    b.add_namespace("network", "/proc/self/ns/uts");
    b.write();
    Output o = kapsel({"create", "--bundle", b.dir(), "c1"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("not a network namespace")) << o.err;
    expect_nothing_left("c1", b);
}

TEST_F(Isolation, UserNamespaceMapsRootToAnUnprivilegedHostId) {
    Bundle b("id -u; cat /proc/self/uid_map; touch /tmp/x 2>&1 || true");
    b.add_namespace("user");
    b.config["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    b.config["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    Output o = run(b);
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_NE(std::string::npos, o.out.find("0\n")) << o.out;
    EXPECT_NE(std::string::npos, o.out.find("100000")) << o.out;
}

TEST_F(Isolation, UserNamespaceDevicesAreBoundFromTheHost) {
    Bundle b("echo data > /dev/null && head -c 4 /dev/zero | wc -c");
    b.add_namespace("user");
    b.config["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    b.config["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    Output o = run(b);
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ("4\n", o.out);
}

TEST_F(Isolation, UserNamespaceBindsASourceOnlyTheHostsRootCanReach) {
    // The source is below a 0700 directory of the host's root, which the container's root
    // (host uid 100000) cannot search. create opens it for the init, as runc does;
    // kapsel failed with "stat ...: permission denied".
    TempDir host;
    std::string data = host.path() + "/private/data";
    ASSERT_EQ(0, mkdir((host.path() + "/private").c_str(), 0700));
    ASSERT_EQ(0, mkdir(data.c_str(), 0755));
    std::ofstream(data + "/f") << "hello\n";
    Bundle b("cat /tmp/f; touch /tmp/g 2>/dev/null || echo read-only");
    b.add_namespace("user");
    b.config["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    b.config["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    b.config["mounts"].push_back({{"destination", "/tmp"},
                                  {"type", "bind"},
                                  {"source", data},
                                  {"options", {"rbind", "ro"}}});
    Output o = run(b);
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ("hello\nread-only\n", o.out) << o.err;
}

TEST_F(Isolation, CgroupNamespaceShowsTheContainerCgroupAsRoot) {
    Bundle b("cat /proc/self/cgroup");
    b.add_namespace("cgroup");
    Output o = run(b);
    EXPECT_EQ(0, o.code) << o.err;
    std::istringstream is(o.out);
    std::string line;
    while (std::getline(is, line)) EXPECT_EQ(line.size() - 2, line.rfind(":/")) << line;
}

TEST_F(Isolation, TimeNamespaceOffsetsTheBootClock) {
    REQUIRE_PATH("/proc/self/ns/time", "no time namespaces in this kernel");
    Bundle b("cut -d. -f1 /proc/uptime");
    b.add_namespace("time");
    b.config["linux"]["timeOffsets"] = {{"boottime", {{"secs", 86400 * 365}, {"nanosecs", 0}}}};
    Output o = run(b);
    ASSERT_EQ(0, o.code) << o.err;
    std::ifstream f("/proc/uptime");
    double host = 0;
    f >> host;
    long inside = std::stol(o.out);
    EXPECT_GT(inside, static_cast<long>(host) + 86400 * 364);
}

TEST_F(Isolation, IpcNamespaceIsPrivate) {
    Bundle b("cat /proc/sysvipc/shm | wc -l");
    Output o = run(b);
    EXPECT_EQ("1\n", o.out) << "only the header line: no host segments";
}

TEST_F(Isolation, WithoutNamespacesTheContainerSharesTheHostsAndLeavesNoMount) {
    Bundle b("hostname");
    b.own_rootfs();
    for (auto* ns : {"pid", "network", "ipc", "uts", "mount", "cgroup"}) b.drop_namespace(ns);
    b.config.erase("hostname");
    b.config["linux"].erase("maskedPaths");
    b.config["linux"].erase("readonlyPaths");
    Output o = run(b);
    EXPECT_EQ(0, o.code) << o.err;
    char host[256] = {};
    gethostname(host, sizeof host);
    EXPECT_EQ(std::string(host) + "\n", o.out);
    std::ifstream mi("/proc/self/mountinfo");
    std::string line;
    while (std::getline(mi, line)) EXPECT_EQ(std::string::npos, line.find(b.dir())) << line;
}

}  // namespace
}  // namespace kapsel::test
