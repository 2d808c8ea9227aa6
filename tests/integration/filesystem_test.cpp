// The container's file system: mounts and their options, /dev, masked and
// read-only paths, a read-only root, propagation.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "harness.hpp"

namespace kapsel::test {
namespace {

using Filesystem = KapselTest;

// The options column of the container's mount at `path`, from inside.
std::string mount_line(const std::string& out, const std::string& path) {
    std::istringstream is(out);
    std::string line;
    while (std::getline(is, line)) {
        std::istringstream ls(line);
        std::string dev, mp;
        ls >> dev >> mp;
        if (mp == path) return line;
    }
    return "";
}

TEST_F(Filesystem, TmpfsWithOptions) {
    Bundle b("cat /proc/mounts");
    b.config["mounts"].push_back(
        {{"destination", "/tmp"},
         {"type", "tmpfs"},
         {"source", "tmpfs"},
         {"options", {"nosuid", "nodev", "noexec", "mode=1770", "size=1m"}}});
    Output o = run(b);
    ASSERT_EQ(0, o.code) << o.err;
    std::string line = mount_line(o.out, "/tmp");
    ASSERT_FALSE(line.empty()) << o.out;
    for (auto* opt : {"nosuid", "nodev", "noexec", "mode=1770", "size=1024k"})
        EXPECT_NE(std::string::npos, line.find(opt)) << opt << " in " << line;
}

TEST_F(Filesystem, NoPivotMovesTheRootAndChroots) {
    Bundle b("ls / | tr '\\n' ' '; grep -c ' / ' /proc/self/mountinfo");
    b.write();
    Output o = kapsel({"run", "--no-pivot", "--bundle", b.dir(), "c1"});
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_NE(std::string::npos, o.out.find("bin dev etc")) << o.out;
}

// The superblocks (st_dev) of every mount in the mount namespace of `pid`, through
// listmount/statmount (Linux 6.11+ for another namespace); empty when unsupported. From
// the host: no path inside a chroot reaches what lies below the container's root.
std::vector<dev_t> mount_devices_of(int pid) {
    std::vector<dev_t> out;
    int ns = open(("/proc/" + std::to_string(pid) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) return out;
    uint64_t ns_id = 0;
    constexpr unsigned long kNsGetMntnsId = _IOR(0xb7, 0x5, uint64_t);
    bool have_id = ioctl(ns, kNsGetMntnsId, &ns_id) == 0;
    close(ns);
    if (!have_id) return out;
    struct {
        uint32_t size, spare;
        uint64_t mnt_id, param, mnt_ns_id;
    } req{32, 0, ~0ull /*LSMT_ROOT*/, 0, ns_id};
    std::vector<uint64_t> ids(4096);
    long n = syscall(458 /*listmount*/, &req, ids.data(), ids.size(), 0);
    for (long i = 0; i < n; ++i) {
        req.mnt_id = ids[static_cast<size_t>(i)];
        req.param = 0x1;  // STATMOUNT_SB_BASIC
        alignas(8) unsigned char buf[4096] = {};
        if (syscall(457 /*statmount*/, &req, buf, sizeof buf, 0) < 0) continue;
        uint32_t major, minor;  // struct statmount: sb_dev_major at 16, sb_dev_minor at 20
        std::memcpy(&major, buf + 16, 4);
        std::memcpy(&minor, buf + 20, 4);
        out.push_back(makedev(major, minor));
    }
    return out;
}

TEST_F(Filesystem, NoPivotLeavesNoHostProcOrSysfsInTheMountNamespace) {
    // Below the moved root the host's mounts stay in the namespace; a full procfs among
    // them lets a process inside mount a fresh, unmasked one. runc unmounts them.
    Bundle b("sleep 30");
    b.write();
    ASSERT_EQ(0, kapsel({"create", "--no-pivot", "--bundle", b.dir(), "c1"}).code);
    auto devs = mount_devices_of(state("c1")["pid"].get<int>());
    if (devs.empty())
        GTEST_SKIP() << "skipped: listmount/statmount of another mount namespace needs Linux 6.11";
    struct stat proc, sys;
    ASSERT_EQ(0, stat("/proc", &proc));
    ASSERT_EQ(0, stat("/sys", &sys));
    EXPECT_EQ(0, std::count(devs.begin(), devs.end(), proc.st_dev)) << "the host's /proc";
    EXPECT_EQ(0, std::count(devs.begin(), devs.end(), sys.st_dev)) << "the host's /sys";
    Output o = kapsel({"start", "c1"});
    EXPECT_EQ(0, o.code) << o.err;
}

TEST_F(Filesystem, ReadOnlyRootRefusesWrites) {
    Bundle b("touch /newfile 2>&1; echo rc=$?");
    b.config["root"]["readonly"] = true;
    Output o = run(b);
    EXPECT_NE(std::string::npos, o.out.find("Read-only file system")) << o.out;
    EXPECT_NE(std::string::npos, o.out.find("rc=1"));
}

TEST_F(Filesystem, BindMountsReadWriteAndReadOnly) {
    TempDir host;
    std::ofstream(host.path() + "/from-host") << "hello";
    Bundle b(
        "cat /rw/from-host; echo; echo written > /rw/from-container; echo x > /ro/nope 2>/dev/null "
        "|| echo ro-refused");
    b.own_rootfs();
    b.config["mounts"].push_back({{"destination", "/rw"},
                                  {"type", "bind"},
                                  {"source", host.path()},
                                  {"options", {"rbind"}}});
    b.config["mounts"].push_back({{"destination", "/ro"},
                                  {"type", "none"},
                                  {"source", host.path()},
                                  {"options", {"bind", "ro"}}});
    Output o = run(b);
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_EQ("hello\nro-refused\n", o.out);
    std::ifstream f(host.path() + "/from-container");
    std::string s;
    f >> s;
    EXPECT_EQ("written", s);
}

TEST_F(Filesystem, BindMountOfAFileAndARelativeSource) {
    Bundle b("cat /etc/greeting");
    std::ofstream(b.dir() + "/greeting") << "hi\n";
    b.own_rootfs();
    b.config["mounts"].push_back({{"destination", "/etc/greeting"},
                                  {"type", "bind"},
                                  {"source", "greeting"},
                                  {"options", {"bind", "ro"}}});
    Output o = run(b);
    EXPECT_EQ("hi\n", o.out) << o.err;
}

TEST_F(Filesystem, RecursiveReadOnlyReachesSubmounts) {
    TempDir host;
    ASSERT_EQ(0, mkdir((host.path() + "/sub").c_str(), 0755));
    ASSERT_EQ(0, run_program({"/bin/mount", "-t", "tmpfs", "tmpfs", host.path() + "/sub"}).code);
    Bundle b("touch /data/sub/x 2>/dev/null && echo writable || echo read-only");
    b.own_rootfs();
    b.config["mounts"].push_back({{"destination", "/data"},
                                  {"type", "bind"},
                                  {"source", host.path()},
                                  {"options", {"rbind", "rro"}}});
    Output o = run(b);
    run_program({"/bin/umount", host.path() + "/sub"});
    EXPECT_EQ("read-only\n", o.out) << o.err;
}

TEST_F(Filesystem, PropagationOptionShowsInMountinfo) {
    TempDir host;
    Bundle b("grep ' /shared ' /proc/self/mountinfo");
    b.own_rootfs();
    b.config["mounts"].push_back({{"destination", "/shared"},
                                  {"type", "bind"},
                                  {"source", host.path()},
                                  {"options", {"rbind", "rshared"}}});
    Output o = run(b);
    EXPECT_NE(std::string::npos, o.out.find("shared:")) << o.out << o.err;
}

TEST_F(Filesystem, RootfsPropagationShared) {
    Bundle b("awk '$5 == \"/\"' /proc/self/mountinfo");
    b.config["linux"]["rootfsPropagation"] = "rshared";
    Output o = run(b);
    EXPECT_NE(std::string::npos, o.out.find("shared:")) << o.out << o.err;
}

TEST_F(Filesystem, RootfsPropagationUnbindable) {
    Bundle b("awk '$5 == \"/\"' /proc/self/mountinfo");
    b.config["linux"]["rootfsPropagation"] = "unbindable";
    Output o = run(b);
    EXPECT_NE(std::string::npos, o.out.find("unbindable")) << o.out << o.err;
}

TEST_F(Filesystem, TmpcopyupKeepsTheImagesContent) {
    Bundle b("ls /etc/passwd && echo new > /etc/extra && cat /etc/extra");
    b.own_rootfs();
    b.config["mounts"].push_back({{"destination", "/etc"},
                                  {"type", "tmpfs"},
                                  {"source", "tmpfs"},
                                  {"options", {"tmpcopyup"}}});
    Output o = run(b);
    EXPECT_EQ("/etc/passwd\nnew\n", o.out) << o.err;
    struct stat st;
    EXPECT_NE(0, stat((b.rootfs() + "/etc/extra").c_str(), &st)) << "writes stay in the tmpfs";
}

TEST_F(Filesystem, IdmappedBindMount) {
    TempDir host;
    std::ofstream(host.path() + "/f") << "x";
    ASSERT_EQ(0, chown((host.path() + "/f").c_str(), 0, 0));
    Bundle b("stat -c %u /mapped/f");
    b.own_rootfs();
    b.config["mounts"].push_back(
        {{"destination", "/mapped"},
         {"type", "bind"},
         {"source", host.path()},
         {"options", {"bind", "idmap"}},
         {"uidMappings", {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}}},
         {"gidMappings", {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}}}});
    Output o = run(b);
    if (o.code != 0 && o.err.find("invalid argument") != std::string::npos)
        GTEST_SKIP() << "skipped: this filesystem does not support idmapped mounts: " << o.err;
    EXPECT_EQ("1000\n", o.out) << o.err;
}

TEST_F(Filesystem, DefaultDevicesAndLinks) {
    Bundle b(
        "for d in null zero full random urandom tty; do stat -c '%n %t:%T %a' /dev/$d; done; "
        "for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done; "
        "test -d /dev/pts && test -d /dev/shm && echo dirs-ok");
    Output o = run(b);
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_NE(std::string::npos, o.out.find("/dev/null 1:3 666"));
    EXPECT_NE(std::string::npos, o.out.find("/dev/zero 1:5 666"));
    EXPECT_NE(std::string::npos, o.out.find("/dev/full 1:7 666"));
    EXPECT_NE(std::string::npos, o.out.find("/dev/random 1:8 666"));
    EXPECT_NE(std::string::npos, o.out.find("/dev/urandom 1:9 666"));
    EXPECT_NE(std::string::npos, o.out.find("/dev/tty 5:0 666"));
    EXPECT_NE(
        std::string::npos,
        o.out.find("/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\npts/ptmx\n"));
    EXPECT_NE(std::string::npos, o.out.find("dirs-ok"));
}

TEST_F(Filesystem, ConfiguredDevices) {
    Bundle b("stat -c '%n %F %t:%T %a %u:%g' /dev/fuse /dev/mypipe");
    b.config["linux"]["devices"] = {{{"path", "/dev/fuse"},
                                     {"type", "c"},
                                     {"major", 10},
                                     {"minor", 229},
                                     {"fileMode", 0600},
                                     {"uid", 1000},
                                     {"gid", 1000}},
                                    {{"path", "/dev/mypipe"}, {"type", "p"}}};
    Output o = run(b);
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_NE(std::string::npos, o.out.find("/dev/fuse character special file a:e5 600 1000:1000"))
        << o.out;
    EXPECT_NE(std::string::npos, o.out.find("/dev/mypipe fifo")) << o.out;
}

// The config's /dev tmpfs replaced by a bind of `source`, and the mounts below /dev
// other than those in `keep` left out.
void bind_dev(Bundle& b, const std::string& source, const std::vector<std::string>& options,
              const std::vector<std::string>& keep) {
    json mounts = json::array();
    for (auto& m : b.config["mounts"]) {
        std::string dest = m["destination"];
        if (dest == "/dev")
            mounts.push_back({{"destination", "/dev"},
                              {"type", "bind"},
                              {"source", source},
                              {"options", options}});
        else if (dest.rfind("/dev/", 0) != 0 ||
                 std::find(keep.begin(), keep.end(), dest) != keep.end())
            mounts.push_back(m);
    }
    b.config["mounts"] = mounts;
}

TEST_F(Filesystem, ReadOnlyBindOfTheHostsDevTakesDevpts) {
    // As with runc: the bound /dev is used as it is, devpts mounts on its pts directory.
    // kapsel failed making its /dev links in it ("read-only file system").
    Bundle b("stat -c '%n %t:%T' /dev/null; ls /dev/pts/ptmx; touch /dev/x 2>/dev/null || echo ro");
    bind_dev(b, "/dev", {"rbind", "ro"}, {"/dev/pts"});
    Output o = run(b);
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_EQ("/dev/null 1:3\n/dev/pts/ptmx\nro\n", o.out);
}

TEST_F(Filesystem, ABoundDevGetsNoNodesOrLinksMadeInIt) {
    // The bound directory is someone else's (the host's /dev): nothing is made in it.
    TempDir dev;
    std::ofstream(dev.path() + "/marker") << "x";
    Bundle b("ls -A /dev");
    b.config["linux"]["devices"] = {
        {{"path", "/dev/fuse"}, {"type", "c"}, {"major", 10}, {"minor", 229}}};
    bind_dev(b, dev.path(), {"rbind"}, {});
    b.config["linux"]["maskedPaths"] =
        json::array();  // bound over by /dev/null, which this /dev lacks
    Output o = run(b);
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_EQ("marker\n", o.out);
    Output host = run_program({"/bin/ls", "-A", dev.path()});
    EXPECT_EQ("marker\n", host.out) << "no device, link or /dev/ptmx made in the host's directory";
}

TEST_F(Filesystem, MaskedAndReadOnlyPaths) {
    Bundle b(
        "wc -c < /proc/version; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/domainname "
        "2>/dev/null || echo ro");
    b.config["linux"]["maskedPaths"].push_back("/proc/version");
    Output o = run(b);
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_EQ("0\n0\nro\n", o.out);
}

TEST_F(Filesystem, CgroupMountShowsTheContainersOwnCgroup) {
    Bundle b(
        "ls /sys/fs/cgroup; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat "
        "/sys/fs/cgroup/pids.max");
    Output o = run(b);
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_NE(std::string::npos, o.out.find("max")) << o.out;
}

}  // namespace
}  // namespace kapsel::test
