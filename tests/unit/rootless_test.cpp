// What kapsel decides for a user without root: whether a cgroup is delegated to it
// (cgroups/rootless.cpp), which limits a container without one loses, which id maps
// the user may write and how (linux/userns_maps.cpp), and its default state root.
#include "cgroups/rootless.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "linux/user_session.hpp"
#include "linux/userns_maps.hpp"
#include "runtime/state_root.hpp"

namespace kapsel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

cgroups::Layout pure_v2(const std::string& own) {
    cgroups::Layout l;
    l.unified = true;
    l.hierarchies.push_back(
        {.mount_point = "/sys/fs/cgroup", .controllers = {"memory"}, .v2 = true});
    l.own_paths = {own};
    return l;
}

// A file system where `writable` lists what the user may write and `present` what exists.
struct Host {
    std::set<std::string> writable, present;
    cgroups::Delegation check(const cgroups::Layout& l, const std::string& dir) const {
        return cgroups::delegation(
            l, {dir}, [&](const std::string& p) { return writable.count(p) > 0; },
            [&](const std::string& p) { return p == "/sys/fs/cgroup" || present.count(p) > 0; });
    }
};

TEST(RootlessCgroup, AHybridOrV1HostHasNoCgroupForAUser) {
    cgroups::Layout l = pure_v2("/");
    l.unified = false;
    l.hierarchies.push_back({.mount_point = "/sys/fs/cgroup/memory", .controllers = {"memory"}});
    l.own_paths.push_back("/");
    auto d = cgroups::delegation(
        l, {"/sys/fs/cgroup/unified/c1", "/sys/fs/cgroup/memory/c1"},
        [](const std::string&) { return true; }, [](const std::string&) { return true; });
    EXPECT_FALSE(d.usable);
    EXPECT_THAT(d.why_not, HasSubstr("cgroup v1"));
}

TEST(RootlessCgroup, ADelegatedSubtreeHoldingTheCallerIsUsable) {
    Host h;
    h.present = {"/sys/fs/cgroup/user", "/sys/fs/cgroup/user/leaf"};
    h.writable = {"/sys/fs/cgroup/user", "/sys/fs/cgroup/user/cgroup.procs"};
    auto d = h.check(pure_v2("/user/leaf"), "/sys/fs/cgroup/user/c1");
    EXPECT_TRUE(d.usable) << d.why_not;
}

TEST(RootlessCgroup, AParentTheUserCannotWriteIsNoDelegation) {
    Host h;
    h.present = {"/sys/fs/cgroup/system.slice"};
    auto d = h.check(pure_v2("/user"), "/sys/fs/cgroup/system.slice/c1");
    EXPECT_FALSE(d.usable);
    EXPECT_EQ("/sys/fs/cgroup/system.slice is not writable by you", d.why_not);
}

TEST(RootlessCgroup, MovingTheInitNeedsTheCommonAncestorsProcsFile) {
    // The user owns a/ but runs in b/: the kernel checks cgroup.procs at their common
    // ancestor, the root's.
    Host h;
    h.present = {"/sys/fs/cgroup/a", "/sys/fs/cgroup/b"};
    h.writable = {"/sys/fs/cgroup/a", "/sys/fs/cgroup/a/cgroup.procs"};
    auto d = h.check(pure_v2("/b"), "/sys/fs/cgroup/a/c1");
    EXPECT_FALSE(d.usable);
    EXPECT_THAT(d.why_not, HasSubstr("/sys/fs/cgroup/cgroup.procs, which is not writable"));
}

TEST(RootlessCgroup, AnExistingCgroupNeedsItsProcsFileWritable) {
    Host h;
    h.present = {"/sys/fs/cgroup/user", "/sys/fs/cgroup/user/c1"};
    h.writable = {"/sys/fs/cgroup/user/cgroup.procs"};
    EXPECT_FALSE(h.check(pure_v2("/user"), "/sys/fs/cgroup/user/c1").usable);
    h.writable.insert("/sys/fs/cgroup/user/c1/cgroup.procs");
    EXPECT_TRUE(h.check(pure_v2("/user"), "/sys/fs/cgroup/user/c1").usable);
}

TEST(RootlessCgroup, OnlyTheLimitsAConfigAsksForAreNamed) {
    oci::Resources r;
    EXPECT_TRUE(cgroups::requested_limits(r).empty());
    r.devices.push_back({});
    r.memory = oci::Memory{};
    EXPECT_TRUE(cgroups::requested_limits(r).empty()) << "device rules and an empty memory object";
    r.memory->limit = 1 << 26;
    r.has_pids = true;
    r.pids_limit = 10;
    r.unified["io.max"] = "8:0 rbps=1";
    EXPECT_THAT(cgroups::requested_limits(r), ElementsAre("memory", "pids", "unified"));
}

TEST(RootlessMaps, SubordinateRangesAreTheUsersByNameOrNumber) {
    std::string text =
        "alice:100000:65536\n"
        "kapseltest:200000:65536\n"
        "41000:300000:10\n"
        "kapseltest:junk:5\n"
        "kapseltest:4294967295:2\n"
        "kapseltest:1:0\n";
    auto r = linux::subordinate_ranges(text, "kapseltest", 41000);
    ASSERT_EQ(2u, r.size());
    EXPECT_EQ(200000u, r[0].start);
    EXPECT_EQ(65536u, r[0].count);
    EXPECT_EQ(300000u, r[1].start);
}

TEST(RootlessMaps, OnlyTheUsersOwnIdAloneNeedsNoHelper) {
    EXPECT_FALSE(linux::needs_helper({{0, 1000, 1}}, 1000));
    EXPECT_TRUE(linux::needs_helper({{0, 1000, 2}}, 1000));
    EXPECT_TRUE(linux::needs_helper({{0, 1001, 1}}, 1000));
    EXPECT_TRUE(linux::needs_helper({{0, 1000, 1}, {1, 200000, 10}}, 1000));
}

TEST(RootlessMaps, EachLineMustLieInOneOfTheUsersRanges) {
    std::vector<linux::IdRange> ranges{{200000, 65536}};
    EXPECT_TRUE(linux::check_entitled({{0, 1000, 1}, {1, 200000, 65536}}, 1000, ranges,
                                      "linux.uidMappings", "/etc/subuid", "u"));
    auto beyond = linux::check_entitled({{1, 200001, 65536}}, 1000, ranges, "linux.uidMappings",
                                        "/etc/subuid", "u");
    ASSERT_FALSE(beyond);
    EXPECT_EQ(
        "linux.uidMappings: host ids 200001-265536 are not yours to map: /etc/subuid gives u "
        "200000-265535 besides its own id 1000",
        beyond.error().message);
    auto none =
        linux::check_entitled({{0, 0, 1}}, 1000, {}, "linux.gidMappings", "/etc/subgid", "u");
    ASSERT_FALSE(none);
    EXPECT_THAT(none.error().message, HasSubstr("/etc/subgid gives u no range"));
}

TEST(RootlessMaps, TheHelperGetsThePidAndTheTriples) {
    EXPECT_THAT(linux::helper_argv("/usr/bin/newuidmap", 42, {{0, 1000, 1}, {1, 200000, 65536}}),
                ElementsAre("/usr/bin/newuidmap", "42", "0", "1000", "1", "1", "200000", "65536"));
}

TEST(RootlessStateRoot, XdgRuntimeDirElseTmpForAUserRunForRoot) {
    EXPECT_EQ("/run/kapsel", runtime::default_state_root(0, false, "/tmp"));
    EXPECT_EQ("/tmp/kapsel", runtime::default_state_root(1000, true, "/tmp"));
    EXPECT_EQ("/tmp/kapsel-1000", runtime::default_state_root(1000, true, nullptr));
    EXPECT_EQ("/tmp/kapsel-1000", runtime::default_state_root(1000, true, "relative/dir"));
    EXPECT_EQ("/tmp/kapsel-1000", runtime::default_state_root(1000, true, "/nonexistent-xdg"));
}

}  // namespace
}  // namespace kapsel

namespace kapsel::linux {
namespace {

using ::testing::HasSubstr;

std::string text(const std::vector<plan::IdMap>& maps) {
    std::string out;
    for (auto& m : maps)
        out += std::to_string(m.inside) + " " + std::to_string(m.outside) + " " + std::to_string(m.count) + "\n";
    return out;
}

// podman's mapping for a user's image session: 0 is the user, 1.. its ranges in order,
// so a file owned by 33 in an image is owned by range start + 32 on the host.
TEST(UserSession, ZeroIsTheUserAndTheRangesFollowFromOne) {
    SessionMaps m = session_maps(1000, 1001, {{100000, 65536}}, {{300000, 65536}}, "alice");
    EXPECT_EQ("0 1000 1\n1 100000 65536\n", text(m.uid_map));
    EXPECT_EQ("0 1001 1\n1 300000 65536\n", text(m.gid_map));
    EXPECT_EQ("", m.warning);
    SessionMaps two = session_maps(1000, 1000, {{100000, 10}, {500000, 20}}, {{100000, 30}}, "alice");
    EXPECT_EQ("0 1000 1\n1 100000 10\n11 500000 20\n", text(two.uid_map));
}

TEST(UserSession, WithoutRangesOnlyTheUsersOwnIdAndOneWarning) {
    SessionMaps m = session_maps(1000, 1000, {}, {{100000, 65536}}, "alice");
    EXPECT_EQ("0 1000 1\n", text(m.uid_map));
    EXPECT_EQ("0 1000 1\n", text(m.gid_map)) << "both or neither";
    EXPECT_THAT(m.warning, HasSubstr("/etc/subuid gives alice no subordinate ids"));
    EXPECT_EQ(std::string::npos, m.warning.find('\n'));
}

}  // namespace
}  // namespace kapsel::linux
