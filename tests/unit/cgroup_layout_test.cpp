// cgroups/layout.cpp and resolve_dirs: which hierarchies a host mounts, where
// kapsel itself sits in them, and where a container's cgroup goes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cgroups/cgroup.hpp"
#include "cgroups/layout.hpp"

namespace kapsel::cgroups {
namespace {

using ::testing::ElementsAre;

// A hybrid host (systemd's default before v2-only): v1 controllers, a named
// systemd hierarchy and cgroup2 at /sys/fs/cgroup/unified. Unrelated mounts and a
// second mount of the cpu hierarchy are mixed in.
constexpr const char* kHybridMountinfo =
    "22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "25 22 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 "
    "cgroup2 rw,nsdelegate\n"
    "27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup "
    "rw,xattr,name=systemd\n"
    "30 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup "
    "cgroup rw,cpu,cpuacct\n"
    "31 25 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup "
    "rw,memory\n"
    "32 25 0:30 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup "
    "rw,pids\n"
    "33 25 0:31 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:17 - "
    "cgroup cgroup rw,net_cls,net_prio\n"
    "90 1 0:28 / /mnt/cpu-again rw,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct\n"
    "91 1 8:1 / /home rw,relatime shared:30 - ext4 /dev/sda1 rw\n";

constexpr const char* kHybridSelfCgroup =
    "12:pids:/user.slice/user-1000.slice/session-2.scope\n"
    "8:net_cls,net_prio:/\n"
    "5:memory:/user.slice/user-1000.slice/session-2.scope\n"
    "4:cpu,cpuacct:/user.slice\n"
    "1:name=systemd:/user.slice/user-1000.slice/session-2.scope\n"
    "0::/user.slice/user-1000.slice/session-2.scope\n";

constexpr const char* kV2Mountinfo =
    "24 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "28 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n"
    "95 1 0:26 /kubepods /var/lib/kubelet/cg rw shared:9 - cgroup2 cgroup2 rw\n";

std::vector<std::string> mount_points(const Layout& l) {
    std::vector<std::string> out;
    for (auto& h : l.hierarchies) out.push_back(h.mount_point);
    return out;
}

TEST(ParseLayout, HybridHost) {
    Layout l = parse_layout(kHybridMountinfo, kHybridSelfCgroup);
    EXPECT_FALSE(l.unified) << "cgroup2 at /sys/fs/cgroup/unified is not a pure v2 host";
    EXPECT_THAT(mount_points(l),
                ElementsAre("/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd",
                            "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/memory",
                            "/sys/fs/cgroup/pids", "/sys/fs/cgroup/net_cls,net_prio"))
        << "the second mount of cpu,cpuacct is the same hierarchy and is skipped";

    const Hierarchy& unified = l.hierarchies[0];
    EXPECT_TRUE(unified.v2);
    EXPECT_EQ(unified.name, "unified");
    EXPECT_TRUE(unified.controllers.empty());

    const Hierarchy& systemd = l.hierarchies[1];
    EXPECT_FALSE(systemd.v2);
    EXPECT_THAT(systemd.controllers, ElementsAre("name=systemd"))
        << "xattr is a mount option, not a controller";
    EXPECT_EQ(systemd.name, "systemd");

    EXPECT_THAT(l.hierarchies[2].controllers, ElementsAre("cpu", "cpuacct"));
    EXPECT_EQ(l.hierarchies[2].name, "cpu,cpuacct");
    EXPECT_EQ(l.hierarchies[5].name, "net_cls,net_prio");
}

TEST(ParseLayout, HybridHostFindsHierarchiesByController) {
    Layout l = parse_layout(kHybridMountinfo, kHybridSelfCgroup);
    ASSERT_NE(l.find("cpuacct"), nullptr);
    EXPECT_EQ(l.find("cpuacct")->mount_point, "/sys/fs/cgroup/cpu,cpuacct");
    ASSERT_NE(l.find("name=systemd"), nullptr);
    EXPECT_EQ(l.find("name=systemd")->mount_point, "/sys/fs/cgroup/systemd");
    EXPECT_EQ(l.find("freezer"), nullptr);
}

TEST(ParseLayout, HybridHostOwnPathsComeFromProcSelfCgroup) {
    Layout l = parse_layout(kHybridMountinfo, kHybridSelfCgroup);
    EXPECT_THAT(l.own_paths,
                ElementsAre("/user.slice/user-1000.slice/session-2.scope",  // unified, from "0::"
                            "/user.slice/user-1000.slice/session-2.scope",  // name=systemd
                            "/user.slice",                                  // cpu,cpuacct
                            "/user.slice/user-1000.slice/session-2.scope",  // memory
                            "/user.slice/user-1000.slice/session-2.scope",  // pids
                            "/"));                                          // net_cls,net_prio
}

TEST(ParseLayout, PureV2Host) {
    Layout l = parse_layout(kV2Mountinfo, "0::/system.slice/kapsel.service\n");
    EXPECT_TRUE(l.unified);
    ASSERT_EQ(l.hierarchies.size(), 1u)
        << "only the cgroup2 at /sys/fs/cgroup counts on a pure v2 host";
    EXPECT_EQ(l.hierarchies[0].mount_point, "/sys/fs/cgroup");
    EXPECT_TRUE(l.hierarchies[0].v2);
    EXPECT_THAT(l.own_paths, ElementsAre("/system.slice/kapsel.service"));
}

TEST(ParseLayout, OwnPathDefaultsToTheRoot) {
    Layout l = parse_layout(kV2Mountinfo, "");
    EXPECT_THAT(l.own_paths, ElementsAre("/"));
}

TEST(ParseLayout, NothingMounted) {
    Layout l =
        parse_layout("91 1 8:1 / /home rw,relatime shared:30 - ext4 /dev/sda1 rw\n", "0::/\n");
    EXPECT_FALSE(l.unified);
    EXPECT_TRUE(l.hierarchies.empty());
    EXPECT_TRUE(l.own_paths.empty());
}

TEST(ParseLayout, MalformedLinesAreSkipped) {
    Layout l = parse_layout("garbage\n1 2 3 - cgroup2\n\n" + std::string(kV2Mountinfo),
                            "nonsense\n0::/a\n");
    ASSERT_EQ(l.hierarchies.size(), 1u);
    EXPECT_THAT(l.own_paths, ElementsAre("/a"));
}

// --- resolve_dirs ---

TEST(ResolveDirs, AbsolutePathIsBelowEachHierarchyRoot) {
    Layout l = parse_layout(kHybridMountinfo, kHybridSelfCgroup);
    auto dirs = resolve_dirs(l, "/kapsel/c1", "c1");
    EXPECT_THAT(
        dirs,
        ElementsAre("/sys/fs/cgroup/unified/kapsel/c1", "/sys/fs/cgroup/systemd/kapsel/c1",
                    "/sys/fs/cgroup/cpu,cpuacct/kapsel/c1", "/sys/fs/cgroup/memory/kapsel/c1",
                    "/sys/fs/cgroup/pids/kapsel/c1", "/sys/fs/cgroup/net_cls,net_prio/kapsel/c1"));
}

TEST(ResolveDirs, RelativePathIsBelowKapselsOwnCgroup) {
    Layout l = parse_layout(kHybridMountinfo, kHybridSelfCgroup);
    auto dirs = resolve_dirs(l, "kapsel/c1", "c1");
    EXPECT_EQ(dirs[2], "/sys/fs/cgroup/cpu,cpuacct/user.slice/kapsel/c1");
    EXPECT_EQ(dirs[3],
              "/sys/fs/cgroup/memory/user.slice/user-1000.slice/session-2.scope/kapsel/c1");
    EXPECT_EQ(dirs[5], "/sys/fs/cgroup/net_cls,net_prio/kapsel/c1");
}

TEST(ResolveDirs, NoPathMeansTheContainerIdBelowKapselsOwnCgroup) {
    Layout l = parse_layout(kV2Mountinfo, "0::/system.slice/kapsel.service\n");
    EXPECT_THAT(resolve_dirs(l, "", "c1"),
                ElementsAre("/sys/fs/cgroup/system.slice/kapsel.service/c1"));
}

TEST(ResolveDirs, CannotClimbAboveTheHierarchy) {
    Layout l = parse_layout(kV2Mountinfo, "0::/a\n");
    EXPECT_THAT(resolve_dirs(l, "/../../etc", "c1"), ElementsAre("/sys/fs/cgroup/etc"));
    EXPECT_THAT(resolve_dirs(l, "../../../etc", "c1"), ElementsAre("/sys/fs/cgroup/etc"));
}

}  // namespace
}  // namespace kapsel::cgroups
