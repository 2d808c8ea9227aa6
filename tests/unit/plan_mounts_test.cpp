// plan/mounts.cpp: an OCI mount entry -> what to mount and how: the kind of mount,
// MOUNT_ATTR_* attributes, propagation, filesystem data and superblock flags.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/mount.h>
#include <sys/mount.h>

#include "plan/build.hpp"
#include "test_support.hpp"

namespace kapsel::plan {
namespace {

using kapsel::testing::build_with;
using kapsel::testing::error_of;
using kapsel::testing::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr uint64_t kAtime = MOUNT_ATTR__ATIME;

Result<Mount> plan_mount(std::string type, std::string source, std::string destination,
                         std::vector<std::string> options, size_t index = 0) {
    oci::Mount m;
    m.type = std::move(type);
    m.source = std::move(source);
    m.destination = std::move(destination);
    m.options = std::move(options);
    return build_mount(m, "/bundles/c1", index);
}

oci::IdMapping map(uint32_t inside, uint32_t outside, uint32_t count) {
    return {inside, outside, count};
}

// --- filesystems ---

TEST(PlanMount, TmpfsWithModeAndSize) {
    auto m =
        plan_mount("tmpfs", "tmpfs", "/dev", {"nosuid", "strictatime", "mode=755", "size=65536k"});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->kind, MountKind::filesystem);
    EXPECT_EQ(m->fstype, "tmpfs");
    EXPECT_EQ(m->source, "tmpfs");
    EXPECT_EQ(m->destination, "/dev");
    EXPECT_EQ(m->attrs.set, MOUNT_ATTR_NOSUID | MOUNT_ATTR_STRICTATIME);
    EXPECT_EQ(m->attrs.clear, kAtime) << "an atime option replaces the whole atime field";
    EXPECT_FALSE(m->attrs.recursive);
    EXPECT_THAT(m->data, ElementsAre(Pair("mode", "755"), Pair("size", "65536k")));
    EXPECT_THAT(m->sb_flags, IsEmpty());
}

TEST(PlanMount, SourceDefaultsToTheFilesystemType) {
    auto m = plan_mount("proc", "", "/proc", {});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->source, "proc");
    EXPECT_EQ(m->attrs.set, 0u);
    EXPECT_EQ(m->attrs.clear, 0u);
}

TEST(PlanMount, ReadOnlyAndSecurityOptions) {
    auto m = plan_mount("sysfs", "sysfs", "/sys",
                        {"nosuid", "noexec", "nodev", "ro", "nosymfollow", "nodiratime"});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->attrs.set, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODEV |
                                MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSYMFOLLOW | MOUNT_ATTR_NODIRATIME);
    EXPECT_EQ(m->attrs.clear, 0u);
}

TEST(PlanMount, LaterOptionWins) {
    auto m = plan_mount("tmpfs", "tmpfs", "/t", {"ro", "nosuid", "rw", "suid", "noexec"});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->attrs.set, MOUNT_ATTR_NOEXEC);
    EXPECT_EQ(m->attrs.clear, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);

    auto back = plan_mount("tmpfs", "tmpfs", "/t", {"rw", "ro"});
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->attrs.set, MOUNT_ATTR_RDONLY);
    EXPECT_EQ(back->attrs.clear, 0u);
}

TEST(PlanMount, NoatimeThenStrictatimeKeepsOnlyStrictatime) {
    auto m = plan_mount("tmpfs", "tmpfs", "/t", {"noatime", "strictatime"});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->attrs.set & kAtime, MOUNT_ATTR_STRICTATIME);
    EXPECT_EQ(m->attrs.clear, kAtime);
}

TEST(PlanMount, AtimeUndoesNoatime) {
    auto m = plan_mount("tmpfs", "tmpfs", "/t", {"noatime", "atime"});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->attrs.set & kAtime, uint64_t{MOUNT_ATTR_RELATIME});
    EXPECT_EQ(m->attrs.clear, kAtime);
}

TEST(PlanMount, RelatimeReplacesAnEarlierStrictatime) {
    auto m = plan_mount("tmpfs", "tmpfs", "/t", {"strictatime", "relatime"});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->attrs.set & kAtime, uint64_t{MOUNT_ATTR_RELATIME});
    EXPECT_EQ(m->attrs.clear, kAtime);
}

TEST(PlanMount, NorelatimeMeansStrictatime) {
    auto m = plan_mount("tmpfs", "tmpfs", "/t", {"norelatime"});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->attrs.set & kAtime, uint64_t{MOUNT_ATTR_STRICTATIME});
    EXPECT_EQ(m->attrs.clear, kAtime);
}

TEST(PlanMount, RecursiveFormsMarkTheAttributesRecursive) {
    auto m = plan_mount("bind", "/srv", "/srv", {"rbind", "rro", "rnosuid"});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->attrs.set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
    EXPECT_TRUE(m->attrs.recursive);

    auto rrw = plan_mount("bind", "/srv", "/srv", {"rbind", "rrw"});
    ASSERT_TRUE(rrw) << rrw.error().message;
    EXPECT_EQ(rrw->attrs.clear, MOUNT_ATTR_RDONLY);
    EXPECT_TRUE(rrw->attrs.recursive);
}

TEST(PlanMount, Propagation) {
    auto rshared = plan_mount("bind", "/srv", "/srv", {"rbind", "rshared"});
    ASSERT_TRUE(rshared) << rshared.error().message;
    EXPECT_EQ(rshared->attrs.propagation, uint64_t{MS_SHARED});
    EXPECT_TRUE(rshared->attrs.propagation_recursive);

    auto priv = plan_mount("tmpfs", "tmpfs", "/t", {"private"});
    ASSERT_TRUE(priv) << priv.error().message;
    EXPECT_EQ(priv->attrs.propagation, uint64_t{MS_PRIVATE});
    EXPECT_FALSE(priv->attrs.propagation_recursive);

    auto last = plan_mount("tmpfs", "tmpfs", "/t", {"rslave", "unbindable"});
    ASSERT_TRUE(last) << last.error().message;
    EXPECT_EQ(last->attrs.propagation, uint64_t{MS_UNBINDABLE});
    EXPECT_FALSE(last->attrs.propagation_recursive);
    EXPECT_THAT(last->data, IsEmpty()) << "propagation is not filesystem data";
}

TEST(PlanMount, SuperblockFlagsGoToFsconfig) {
    auto m = plan_mount("tmpfs", "tmpfs", "/t", {"sync", "dirsync", "lazytime", "size=1m"});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_THAT(m->sb_flags, ElementsAre("sync", "dirsync", "lazytime"));
    EXPECT_THAT(m->data, ElementsAre(Pair("size", "1m")));
}

TEST(PlanMount, DefaultsAndHelperOptionsAreDropped) {
    auto m =
        plan_mount("tmpfs", "tmpfs", "/t",
                   {"defaults", "async", "nomand", "loud", "x-systemd.automount", "X-mount.mkdir"});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_THAT(m->data, IsEmpty());
    EXPECT_THAT(m->sb_flags, IsEmpty());
    EXPECT_EQ(m->attrs.set, 0u);
}

TEST(PlanMount, FilesystemDataKeepsFlagsAndValues) {
    auto m = plan_mount("devpts", "devpts", "/dev/pts",
                        {"nosuid", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_THAT(m->data, ElementsAre(Pair("newinstance", ""), Pair("ptmxmode", "0666"),
                                     Pair("mode", "0620"), Pair("gid", "5")));
}

TEST(PlanMount, DataValueMayContainEquals) {
    auto m = plan_mount("overlay", "overlay", "/o", {"lowerdir=/a=b"});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_THAT(m->data, ElementsAre(Pair("lowerdir", "/a=b")));
}

// --- destinations ---

TEST(PlanMount, RelativeDestinationIsMadeAbsolute) {
    auto m = plan_mount("tmpfs", "tmpfs", "run/lock", {});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->destination, "/run/lock");
}

TEST(PlanMount, DestinationIsCleaned) {
    auto m = plan_mount("tmpfs", "tmpfs", "/a/./b/../c/", {});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->destination, "/a/c");
    auto up = plan_mount("tmpfs", "tmpfs", "/../../etc", {});
    ASSERT_TRUE(up) << up.error().message;
    EXPECT_EQ(up->destination, "/etc") << "cannot climb above the container's root";
}

TEST(PlanMount, EmptyDestination) {
    EXPECT_EQ(error_of(plan_mount("tmpfs", "tmpfs", "", {}, 4)), "mounts[4]: destination is empty");
}

// --- kinds ---

TEST(PlanMount, TypeBindIsABindMount) {
    auto m = plan_mount("bind", "/srv/data", "/data", {"ro"});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->kind, MountKind::bind);
    EXPECT_FALSE(m->recursive_bind);
    EXPECT_EQ(m->source, "/srv/data");
    EXPECT_EQ(m->attrs.set, MOUNT_ATTR_RDONLY);
}

TEST(PlanMount, BindOptionMakesABindMountWhateverTheType) {
    auto bind = plan_mount("none", "/srv", "/srv", {"bind"});
    ASSERT_TRUE(bind) << bind.error().message;
    EXPECT_EQ(bind->kind, MountKind::bind);
    EXPECT_FALSE(bind->recursive_bind);

    auto rbind = plan_mount("", "/srv", "/srv", {"rbind"});
    ASSERT_TRUE(rbind) << rbind.error().message;
    EXPECT_EQ(rbind->kind, MountKind::bind);
    EXPECT_TRUE(rbind->recursive_bind);
}

TEST(PlanMount, RelativeBindSourceIsBelowTheBundle) {
    auto m = plan_mount("bind", "./volumes/../data", "/data", {"rbind"});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->source, "/bundles/c1/data");
}

TEST(PlanMount, AbsoluteBindSourceIsCleaned) {
    auto m = plan_mount("bind", "/srv//data/", "/data", {"bind"});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->source, "/srv/data");
}

TEST(PlanMount, BindIgnoresFilesystemDataAndSuperblockFlags) {
    auto m = plan_mount("bind", "/srv", "/srv", {"rbind", "mode=755", "sync", "nosuid"});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_THAT(m->data, IsEmpty());
    EXPECT_THAT(m->sb_flags, IsEmpty());
    EXPECT_EQ(m->attrs.set, MOUNT_ATTR_NOSUID);
}

TEST(PlanMount, BindNeedsASource) {
    EXPECT_EQ(error_of(plan_mount("bind", "", "/data", {}, 2)),
              "mounts[2] (/data): a bind mount needs a source");
}

TEST(PlanMount, CgroupType) {
    auto m = plan_mount("cgroup", "", "/sys/fs/cgroup", {"nosuid", "ro"});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->kind, MountKind::cgroup);
    EXPECT_EQ(m->fstype, "cgroup");
    EXPECT_EQ(m->source, "cgroup");
    EXPECT_EQ(m->attrs.set, MOUNT_ATTR_NOSUID | MOUNT_ATTR_RDONLY);
}

TEST(PlanMount, NoTypeAndNoBindIsAnError) {
    EXPECT_EQ(error_of(plan_mount("", "/x", "/x", {"ro"}, 1)),
              "mounts[1] (/x): mount type is missing (neither a filesystem type nor a bind mount)");
    EXPECT_EQ(error_of(plan_mount("none", "/x", "x", {})),
              "mounts[0] (/x): mount type is missing (neither a filesystem type nor a bind mount)");
}

TEST(PlanMount, Tmpcopyup) {
    auto m = plan_mount("tmpfs", "tmpfs", "/etc", {"tmpcopyup"});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_TRUE(m->tmpcopyup);
    EXPECT_THAT(m->data, IsEmpty());
    EXPECT_EQ(error_of(plan_mount("proc", "proc", "/etc", {"tmpcopyup"})),
              "mounts[0] (/etc): tmpcopyup needs a tmpfs mount");
    EXPECT_EQ(error_of(plan_mount("bind", "/x", "/etc", {"tmpcopyup"})),
              "mounts[0] (/etc): tmpcopyup needs a tmpfs mount");
}

// --- idmapped mounts ---

TEST(PlanMount, IdmapNeedsABindMount) {
    EXPECT_EQ(error_of(plan_mount("tmpfs", "tmpfs", "/t", {"idmap"})),
              "mounts[0] (/t): idmap needs a bind mount");
}

TEST(PlanMount, IdmapNeedsBothMappings) {
    EXPECT_EQ(error_of(plan_mount("bind", "/srv", "/srv", {"rbind", "ridmap"})),
              "mounts[0] (/srv): ridmap needs uidMappings and gidMappings");
}

TEST(PlanMount, IdmappedBind) {
    oci::Mount m{.destination = "/data",
                 .type = "bind",
                 .source = "/srv",
                 .options = {"rbind", "ridmap"},
                 .uid_mappings = {map(0, 100000, 65536)},
                 .gid_mappings = {map(0, 200000, 1000)}};
    auto out = build_mount(m, "/bundles/c1", 0);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_TRUE(out->recursive_idmap);
    ASSERT_EQ(out->uid_map.size(), 1u);
    EXPECT_EQ(out->uid_map[0].inside, 0u);
    EXPECT_EQ(out->uid_map[0].outside, 100000u);
    EXPECT_EQ(out->uid_map[0].count, 65536u);
    ASSERT_EQ(out->gid_map.size(), 1u);
    EXPECT_EQ(out->gid_map[0].count, 1000u);
}

TEST(PlanMount, MappingsOnABindMeanIdmappedEvenWithoutTheOption) {
    oci::Mount m{.destination = "/data",
                 .type = "bind",
                 .source = "/srv",
                 .options = {"bind"},
                 .uid_mappings = {map(0, 1000, 1)},
                 .gid_mappings = {map(0, 1000, 1)}};
    auto out = build_mount(m, "/bundles/c1", 0);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_FALSE(out->recursive_idmap);
    EXPECT_EQ(out->uid_map.size(), 1u);
}

TEST(PlanMount, MappingsErrors) {
    oci::Mount tmpfs{.destination = "/t",
                     .type = "tmpfs",
                     .uid_mappings = {map(0, 1000, 1)},
                     .gid_mappings = {map(0, 1000, 1)}};
    EXPECT_EQ(error_of(build_mount(tmpfs, "/b", 0)),
              "mounts[0] (/t): uidMappings/gidMappings need a bind mount");
    oci::Mount half{
        .destination = "/d", .type = "bind", .source = "/s", .uid_mappings = {map(0, 1000, 1)}};
    EXPECT_EQ(error_of(build_mount(half, "/b", 0)),
              "mounts[0] (/d): an idmapped mount needs both uidMappings and gidMappings");
}

// --- through build(): order and the index in errors ---

TEST(PlanMounts, KeptInConfigOrder) {
    auto p = build_with({{"mounts",
                          {{{"destination", "/proc"}, {"type", "proc"}},
                           {{"destination", "/dev"}, {"type", "tmpfs"}},
                           {{"destination", "/data"}, {"type", "bind"}, {"source", "data"}}}}});
    ASSERT_TRUE(p) << p.error().message;
    ASSERT_EQ(p->mounts.size(), 3u);
    EXPECT_EQ(p->mounts[0].destination, "/proc");
    EXPECT_EQ(p->mounts[1].destination, "/dev");
    EXPECT_EQ(p->mounts[2].source, "/bundles/c1/data");
}

TEST(PlanMounts, ABindAtDevMeansNoDeviceSetup) {
    // runc's rule: a /dev bound from elsewhere (the host's) gets no nodes or links.
    for (const char* how : {"bind", "rbind"}) {
        auto bound = build_with({{"mounts",
                                  {{{"destination", "/dev/"},
                                    {"type", "none"},
                                    {"source", "/dev"},
                                    {"options", {how, "ro"}}}}}});
        ASSERT_TRUE(bound) << bound.error().message;
        EXPECT_TRUE(bound->binds_dev()) << how;
    }
    auto tmpfs = build_with({{"mounts", {{{"destination", "/dev"}, {"type", "tmpfs"}}}}});
    ASSERT_TRUE(tmpfs) << tmpfs.error().message;
    EXPECT_FALSE(tmpfs->binds_dev());
    auto below = build_with(
        {{"mounts", {{{"destination", "/dev/shm"}, {"type", "bind"}, {"source", "/dev/shm"}}}}});
    ASSERT_TRUE(below) << below.error().message;
    EXPECT_FALSE(below->binds_dev()) << "only /dev itself";
}

TEST(PlanMounts, ErrorNamesTheEntry) {
    auto p = build_with({{"mounts",
                          {{{"destination", "/proc"}, {"type", "proc"}},
                           {{"destination", "/x"}, {"type", "tmpfs"}, {"options", {"idmap"}}}}}});
    EXPECT_EQ(error_of(p), "mounts[1] (/x): idmap needs a bind mount");
}

}  // namespace
}  // namespace kapsel::plan
