// linux/rootfs.cpp against the recording FakeSys: the exact syscalls that build a
// container's file system, in order, with their flags.
#include "linux/rootfs.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "fake_sys.hpp"
#include "plan/build.hpp"

namespace kapsel::linux {
namespace {

using kapsel::testing::FakeSys;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

plan::Mount planned(std::string type, std::string source, std::string destination,
                    std::vector<std::string> options) {
    oci::Mount m{.destination = std::move(destination),
                 .type = std::move(type),
                 .source = std::move(source),
                 .options = std::move(options)};
    auto out = plan::build_mount(m, "/bundles/c1", 0);
    if (!out) ADD_FAILURE() << out.error().message;
    return out ? *out : plan::Mount{};
}

plan::Plan plan_with_mount_ns() {
    plan::Plan p;
    p.rootfs = "/bundles/c1/rootfs";
    p.namespaces = {{plan::NsType::mount, ""}};
    return p;
}

class RootfsTest : public ::testing::Test {
  protected:
    FakeSys sys;
    int root = sys.open_dir("/rootfs");  // fd 100
    RootfsOptions opts;
};

// --- apply_mount: filesystems ---

TEST_F(RootfsTest, TmpfsIsCreatedConfiguredAndMovedOntoTheResolvedTarget) {
    ASSERT_TRUE(apply_mount(sys, root,
                            planned("tmpfs", "tmpfs", "/dev", {"mode=755", "nosuid", "ro"}), opts));
    EXPECT_THAT(sys.calls, ElementsAre("openat2 100 dev path,directory in_root -> 101",
                                       "fsopen tmpfs -> 102", "fsconfig 102 string source=tmpfs",
                                       "fsconfig 102 string mode=755", "fsconfig 102 create",
                                       "fsmount 102 ro,nosuid -> 103", "move_mount 103 -> 101"));
}

TEST_F(RootfsTest, FilesystemFlagsAndSuperblockFlagsAreSetAsFlags) {
    ASSERT_TRUE(apply_mount(
        sys, root,
        planned("devpts", "devpts", "/dev/pts", {"newinstance", "ptmxmode=0666", "sync", "noexec"}),
        opts));
    EXPECT_THAT(
        sys.calls,
        ElementsAre("openat2 100 dev/pts path,directory in_root -> 101", "fsopen devpts -> 102",
                    "fsconfig 102 string source=devpts", "fsconfig 102 flag newinstance",
                    "fsconfig 102 string ptmxmode=0666", "fsconfig 102 flag sync",
                    "fsconfig 102 create", "fsmount 102 noexec -> 103", "move_mount 103 -> 101"));
}

TEST_F(RootfsTest, AtimeOptionReachesFsmount) {
    ASSERT_TRUE(apply_mount(sys, root, planned("tmpfs", "tmpfs", "/t", {"strictatime"}), opts));
    EXPECT_THAT(sys.calls_of({"fsmount"}), ElementsAre("fsmount 102 strictatime -> 103"));
}

TEST_F(RootfsTest, FilesystemPropagationIsSetAfterTheMove) {
    ASSERT_TRUE(apply_mount(sys, root, planned("tmpfs", "tmpfs", "/shared", {"rshared"}), opts));
    EXPECT_THAT(sys.calls_of({"fsmount", "move_mount", "mount_setattr"}),
                ElementsAre("fsmount 102 0 -> 103", "move_mount 103 -> 101",
                            "mount_setattr 103 recursive propagation=shared"));
}

TEST_F(RootfsTest, MissingMountPointIsCreatedInsideTheRoot) {
    sys.missing("/rootfs/run");
    ASSERT_TRUE(apply_mount(sys, root, planned("tmpfs", "tmpfs", "/run", {}), opts));
    EXPECT_THAT(sys.calls_of({"mkdirat", "move_mount"}),
                ElementsAre("mkdirat 101 run 0755", "move_mount 104 -> 102"));
}

TEST_F(RootfsTest, FilesystemErrorStopsTheMount) {
    sys.fail("fsconfig 102 string size=", EINVAL);
    auto st = apply_mount(sys, root, planned("tmpfs", "tmpfs", "/t", {"size=lots"}), opts);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, EINVAL);
    EXPECT_EQ(sys.calls.back(), "fsconfig 102 string size=lots -> EINVAL");
    EXPECT_THAT(sys.calls_of({"fsmount", "move_mount"}), IsEmpty());
}

// --- apply_mount: bind mounts ---

TEST_F(RootfsTest, RbindReadOnlyIsMountBindRecThenSetattr) {
    ASSERT_TRUE(
        apply_mount(sys, root, planned("bind", "/srv/data", "/data", {"rbind", "ro"}), opts));
    EXPECT_THAT(sys.calls,
                ElementsAre("fstatat cwd /srv/data => dir",
                            "openat2 100 data path,directory in_root -> 101",
                            "mount /srv/data -> /proc/self/fd/101 bind,rec",
                            "openat2 100 data path in_root -> 102", "mount_setattr 102 set=ro"));
}

TEST_F(RootfsTest, RecursiveReadOnlyBind) {
    ASSERT_TRUE(apply_mount(
        sys, root, planned("bind", "/srv/data", "/data", {"rbind", "rro", "nosuid"}), opts));
    EXPECT_THAT(sys.calls_of({"mount", "mount_setattr"}),
                ElementsAre("mount /srv/data -> /proc/self/fd/101 bind,rec",
                            "mount_setattr 102 recursive set=ro,nosuid"));
}

TEST_F(RootfsTest, PlainBindWithoutAttributesIsOneMount) {
    ASSERT_TRUE(apply_mount(sys, root, planned("bind", "/srv/data", "/data", {"bind"}), opts));
    EXPECT_THAT(sys.calls_of({"mount", "mount_setattr", "openat2"}),
                ElementsAre("openat2 100 data path,directory in_root -> 101",
                            "mount /srv/data -> /proc/self/fd/101 bind"));
}

TEST_F(RootfsTest, BindClearsAttributesAndSetsPropagation) {
    ASSERT_TRUE(apply_mount(
        sys, root, planned("bind", "/srv", "/srv", {"rbind", "rw", "exec", "rslave"}), opts));
    EXPECT_THAT(sys.calls_of({"mount_setattr"}),
                ElementsAre("mount_setattr 102 clear=ro,noexec",
                            "mount_setattr 102 recursive propagation=slave"));
}

TEST_F(RootfsTest, BindOfAFileCreatesAnEmptyFileToMountOn) {
    sys.file("/etc/resolv.conf");
    sys.missing("/rootfs/etc/resolv.conf");
    ASSERT_TRUE(apply_mount(
        sys, root, planned("bind", "/etc/resolv.conf", "/etc/resolv.conf", {"bind", "ro"}), opts));
    EXPECT_THAT(
        sys.calls,
        ElementsAre("fstatat cwd /etc/resolv.conf => file",
                    "openat2 100 etc/resolv.conf path in_root -> ENOENT",
                    "openat2 100 etc path,directory in_root -> 101",
                    "openat2 100 etc/resolv.conf rdonly,creat,noctty mode=0644 in_root -> 102",
                    "openat2 100 etc/resolv.conf path in_root -> 103",
                    "mount /etc/resolv.conf -> /proc/self/fd/103 bind",
                    "openat2 100 etc/resolv.conf path in_root -> 104", "mount_setattr 104 set=ro"));
}

TEST_F(RootfsTest, RelativeBindSourceIsTheBundlesPath) {
    ASSERT_TRUE(apply_mount(sys, root, planned("bind", "volumes/data", "/data", {"rbind"}), opts));
    EXPECT_THAT(sys.calls_of({"fstatat", "mount"}),
                ElementsAre("fstatat cwd /bundles/c1/volumes/data => dir",
                            "mount /bundles/c1/volumes/data -> /proc/self/fd/101 bind,rec"));
}

TEST_F(RootfsTest, MissingBindSourceIsReported) {
    sys.missing("/srv/gone");
    auto st = apply_mount(sys, root, planned("bind", "/srv/gone", "/data", {"rbind"}), opts);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, ENOENT);
    EXPECT_THAT(st.error().message, ::testing::StartsWith("bind source /srv/gone: "));
    EXPECT_THAT(sys.calls, ElementsAre("fstatat cwd /srv/gone -> ENOENT"));
}

TEST_F(RootfsTest, BindSourceOpenedByTheParentIsUsedThroughItsFd) {
    // In a user namespace the init may not reach the source by path; create's fd does.
    sys.mode("/proc/self/fd/7", S_IFDIR | 0700);
    ASSERT_TRUE(apply_mount(sys, root, planned("bind", "/srv/private/data", "/data", {"rbind"}),
                            opts, -1, /*source_fd=*/7));
    EXPECT_THAT(sys.calls_of({"fstatat", "mount"}),
                ElementsAre("fstatat cwd /proc/self/fd/7 => dir",
                            "mount /proc/self/fd/7 -> /proc/self/fd/101 bind,rec"));
}

TEST(BindSources, TheParentOpensThemOnlyForAUserNamespace) {
    plan::Plan p;
    p.namespaces = {{plan::NsType::mount, ""}};
    EXPECT_FALSE(bind_sources_from_parent(p)) << "the init is the host's root: paths work";
    p.namespaces.push_back({plan::NsType::user, ""});
    EXPECT_TRUE(bind_sources_from_parent(p));
}

// --- apply_mount: what a user namespace refuses ---

TEST_F(RootfsTest, SysfsRefusedInAUserNamespaceIsTheHostsBoundRecursivelyReadOnly) {
    opts.user_ns = true;
    sys.fail("fsopen sysfs", EPERM);
    ASSERT_TRUE(apply_mount(sys, root, planned("sysfs", "sysfs", "/sys", {"nosuid", "ro"}), opts));
    EXPECT_THAT(sys.calls, ElementsAre("openat2 100 sys path resolve=0x16 -> 101",
                                       "openat2 100 sys path,directory in_root -> 102",
                                       "fsopen sysfs -> EPERM", "mount /sys -> /proc/self/fd/102 bind,rec",
                                       "openat2 100 sys path in_root -> 103",
                                       "mount_setattr 103 recursive set=ro,nosuid"));
}

TEST_F(RootfsTest, SysfsRefusedOutsideAUserNamespaceIsAnError) {
    sys.fail("fsopen sysfs", EPERM);
    EXPECT_FALSE(apply_mount(sys, root, planned("sysfs", "sysfs", "/sys", {"ro"}), opts));
    EXPECT_THAT(sys.calls_of({"mount"}), IsEmpty());
}

TEST_F(RootfsTest, ProcRefusedInAUserNamespaceStaysAnError) {
    opts.user_ns = true;
    sys.fail("fsopen proc", EPERM);
    EXPECT_FALSE(apply_mount(sys, root, planned("proc", "proc", "/proc", {}), opts));
}

TEST_F(RootfsTest, ACgroupMountWithoutACgroupOfItsOwnIsAnEmptyReadOnlyDirectory) {
    // Rootless without a delegated cgroup: no hierarchy to show, and no cgroup namespace.
    ASSERT_TRUE(apply_mount(sys, root, planned("cgroup", "cgroup", "/sys/fs/cgroup", {"ro"}), opts));
    EXPECT_THAT(sys.calls, ElementsAre("openat2 100 sys/fs/cgroup path,directory in_root -> 101",
                                       "fsopen tmpfs -> 102", "fsconfig 102 string source=tmpfs",
                                       "fsconfig 102 string mode=555", "fsconfig 102 string size=0",
                                       "fsconfig 102 create", "fsmount 102 ro -> 103",
                                       "move_mount 103 -> 101"));
}

// --- apply_mount: cgroup mounts ---

TEST_F(RootfsTest, CgroupV2WithCgroupNamespaceIsAFreshCgroup2) {
    opts.new_cgroup_ns = true;
    opts.cgroups = {
        {.name = "", .fs_option = "", .v2 = true, .host_path = "/sys/fs/cgroup/kapsel/c1"}};
    ASSERT_TRUE(apply_mount(sys, root,
                            planned("cgroup", "cgroup", "/sys/fs/cgroup", {"nosuid", "ro"}), opts));
    EXPECT_THAT(sys.calls, ElementsAre("openat2 100 sys/fs/cgroup path,directory in_root -> 101",
                                       "fsopen cgroup2 -> 102",
                                       "fsconfig 102 string source=cgroup2", "fsconfig 102 create",
                                       "fsmount 102 ro,nosuid -> 103", "move_mount 103 -> 101"));
}

TEST_F(RootfsTest, CgroupV2WithoutCgroupNamespaceBindsTheContainersCgroup) {
    opts.cgroups = {
        {.name = "", .fs_option = "", .v2 = true, .host_path = "/sys/fs/cgroup/kapsel/c1"}};
    ASSERT_TRUE(
        apply_mount(sys, root, planned("cgroup", "cgroup", "/sys/fs/cgroup", {"ro"}), opts));
    EXPECT_THAT(sys.calls, ElementsAre("openat2 100 sys/fs/cgroup path,directory in_root -> 101",
                                       "mount /sys/fs/cgroup/kapsel/c1 -> /proc/self/fd/101 bind",
                                       "openat2 100 sys/fs/cgroup path in_root -> 102",
                                       "mount_setattr 102 set=ro"));
}

TEST_F(RootfsTest, CgroupV1IsATmpfsWithOneMountPerHierarchyMadeReadOnlyLast) {
    opts.new_cgroup_ns = true;
    opts.cgroups = {{.name = "cpu,cpuacct",
                     .fs_option = "cpu,cpuacct",
                     .v2 = false,
                     .host_path = "/sys/fs/cgroup/cpu,cpuacct/c1"},
                    {.name = "systemd",
                     .fs_option = "name=systemd",
                     .v2 = false,
                     .host_path = "/sys/fs/cgroup/systemd/c1"}};
    ASSERT_TRUE(apply_mount(sys, root,
                            planned("cgroup", "cgroup", "/sys/fs/cgroup", {"nosuid", "ro"}), opts));
    EXPECT_THAT(
        sys.calls,
        ElementsAre(
            "openat2 100 sys/fs/cgroup path,directory in_root -> 101", "fsopen tmpfs -> 102",
            "fsconfig 102 string source=tmpfs", "fsconfig 102 string mode=755",
            "fsconfig 102 create", "fsmount 102 nosuid -> 103", "move_mount 103 -> 101",
            "openat2 100 sys/fs/cgroup/cpu,cpuacct path,directory in_root -> 104",
            "fsopen cgroup -> 105", "fsconfig 105 string source=cgroup", "fsconfig 105 flag cpu",
            "fsconfig 105 flag cpuacct", "fsconfig 105 create", "fsmount 105 ro,nosuid -> 106",
            "move_mount 106 -> 104",
            "openat2 100 sys/fs/cgroup/systemd path,directory in_root -> 107",
            "fsopen cgroup -> 108", "fsconfig 108 string source=cgroup",
            "fsconfig 108 string name=systemd", "fsconfig 108 create",
            "fsmount 108 ro,nosuid -> 109", "move_mount 109 -> 107", "mount_setattr 103 set=ro"));
}

TEST_F(RootfsTest, CgroupV1WithoutCgroupNamespaceBindsEachHierarchy) {
    opts.cgroups = {
        {.name = "memory",
         .fs_option = "memory",
         .v2 = false,
         .host_path = "/sys/fs/cgroup/memory/c1"},
        {.name = "", .fs_option = "", .v2 = true, .host_path = "/sys/fs/cgroup/unified/c1"}};
    ASSERT_TRUE(apply_mount(sys, root, planned("cgroup", "cgroup", "/sys/fs/cgroup", {}), opts));
    EXPECT_THAT(sys.calls_of({"mount", "fsopen"}),
                ElementsAre("fsopen tmpfs -> 102",
                            "mount /sys/fs/cgroup/memory/c1 -> /proc/self/fd/104 bind",
                            "mount /sys/fs/cgroup/unified/c1 -> /proc/self/fd/105 bind"));
    EXPECT_THAT(
        sys.calls_of({"openat2"}),
        ::testing::Contains("openat2 100 sys/fs/cgroup/unified path,directory in_root -> 105"))
        << "a v2 hierarchy in a hybrid layout is named \"unified\"";
}

TEST_F(RootfsTest, CgroupMountWithoutAnyHierarchyInACgroupNamespaceTriesCgroup2First) {
    // Rootless without a cgroup of its own, with a cgroup namespace: the cgroup it runs in.
    opts.new_cgroup_ns = true;
    ASSERT_TRUE(apply_mount(sys, root, planned("cgroup", "cgroup", "/sys/fs/cgroup", {}), opts));
    EXPECT_THAT(sys.calls_of({"fsopen"}), ElementsAre("fsopen cgroup2 -> 102"));
    sys.calls.clear();
    sys.fail("fsopen cgroup2", EPERM);
    ASSERT_TRUE(apply_mount(sys, root, planned("cgroup", "cgroup", "/sys/fs/cgroup", {}), opts));
    EXPECT_THAT(sys.calls_of({"fsopen"}), ElementsAre("fsopen cgroup2 -> EPERM", "fsopen tmpfs -> 105"))
        << "an empty read-only directory where the kernel refuses";
}

// --- mount_all ---

TEST_F(RootfsTest, MountAllAppliesMountsInOrderThenDevices) {
    sys.empty_dir("/rootfs/dev");
    plan::Plan p = plan_with_mount_ns();
    p.mounts = {planned("proc", "proc", "/proc", {}), planned("tmpfs", "tmpfs", "/dev", {})};
    ASSERT_TRUE(mount_all(sys, root, p, opts));
    EXPECT_THAT(sys.calls_of({"fsopen", "move_mount"}),
                ElementsAre("fsopen proc -> 103", "move_mount 104 -> 102", "fsopen tmpfs -> 106",
                            "move_mount 107 -> 105"));
    EXPECT_EQ(sys.calls_of({"openat2"}).front(), "openat2 100 proc path resolve=0x16 -> 101")
        << "proc's destination is checked first: in the root, no symlink anywhere";
    EXPECT_THAT(sys.calls_of({"symlinkat"}), ::testing::SizeIs(5))
        << "the /dev links follow the mounts";
}

TEST_F(RootfsTest, MountAllMakesNothingInABoundDev) {
    // The bound directory is the host's /dev: not one node, link or unlink in it.
    plan::Plan p = plan_with_mount_ns();
    p.mounts = {planned("bind", "/dev", "/dev", {"rbind", "ro"}),
                planned("devpts", "devpts", "/dev/pts", {})};
    p.devices = {{.path = "/dev/null", .type = 'c', .major = 1, .minor = 3, .mode = 0666}};
    ASSERT_TRUE(mount_all(sys, root, p, opts));
    EXPECT_THAT(sys.calls_of({"mknodat", "symlinkat", "unlinkat", "fchmodat", "fchownat"}),
                IsEmpty());
    EXPECT_THAT(sys.calls_of({"fsopen"}), ElementsAre("fsopen devpts -> 104"));
}

TEST_F(RootfsTest, MountAllNamesTheFailingMount) {
    plan::Plan p = plan_with_mount_ns();
    p.mounts = {planned("proc", "proc", "/proc", {}),
                planned("mqueue", "mqueue", "/dev/mqueue", {})};
    sys.fail("fsopen mqueue", ENODEV);
    auto st = mount_all(sys, root, p, opts);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, ENODEV);
    EXPECT_THAT(st.error().message, ::testing::StartsWith("mount mqueue at /dev/mqueue: "));
    EXPECT_EQ(sys.calls.back(), "fsopen mqueue -> ENODEV");
}

TEST_F(RootfsTest, MountAllNamesAFailingBindBySource) {
    plan::Plan p = plan_with_mount_ns();
    p.mounts = {planned("bind", "/srv/data", "/data", {"rbind"})};
    sys.fail("mount /srv/data", EPERM);
    auto st = mount_all(sys, root, p, opts);
    ASSERT_FALSE(st);
    EXPECT_THAT(st.error().message, ::testing::StartsWith("mount /srv/data at /data: "));
}

// --- devices ---

plan::Plan plan_with_devices() {
    plan::Plan p = plan_with_mount_ns();
    p.devices = {{.path = "/dev/null", .type = 'c', .major = 1, .minor = 3, .mode = 0666},
                 {.path = "/dev/sda",
                  .type = 'b',
                  .major = 8,
                  .minor = 0,
                  .mode = 0660,
                  .uid = 0,
                  .gid = 6}};
    return p;
}

class DevicesTest : public RootfsTest {
  protected:
    // A fresh, empty /dev, as after the config's tmpfs on /dev.
    DevicesTest() { sys.empty_dir("/rootfs/dev"); }
    plan::Plan p = plan_with_devices();
};

TEST_F(DevicesTest, NodesAreMadeWithExactModeAndOwner) {
    ASSERT_TRUE(create_devices(sys, root, p, /*bind_devices=*/false));
    EXPECT_THAT(
        sys.calls,
        ElementsAre("openat2 100 dev path,directory in_root -> 101", "mknodat 101 null c 1:3 0666",
                    "fchmodat 101 null 0666", "fchownat 101 null 0:0 nofollow",
                    "openat2 100 dev path,directory in_root -> 102", "mknodat 102 sda b 8:0 0660",
                    "fchmodat 102 sda 0660", "fchownat 102 sda 0:6 nofollow",
                    "openat2 100 dev path,directory in_root -> 103",
                    "symlinkat 103 fd => /proc/self/fd", "symlinkat 103 stdin => /proc/self/fd/0",
                    "symlinkat 103 stdout => /proc/self/fd/1",
                    "symlinkat 103 stderr => /proc/self/fd/2", "symlinkat 103 core => /proc/kcore",
                    "fstatat 103 pts/ptmx nofollow -> ENOENT"));
}

TEST_F(DevicesTest, ExistingNodeIsLeftAlone) {
    sys.mode("/rootfs/dev/null", S_IFCHR | 0666);
    (void)sys.mknodat(root, "dev/null", S_IFCHR | 0666, makedev(1, 3));
    sys.calls.clear();
    ASSERT_TRUE(create_devices(sys, root, p, false));
    EXPECT_THAT(sys.calls_of({"mknodat", "fchmodat"}),
                ElementsAre("mknodat 101 null c 1:3 0666 -> EEXIST", "mknodat 102 sda b 8:0 0660",
                            "fchmodat 102 sda 0660"));
}

TEST_F(DevicesTest, InAUserNamespaceHostNodesAreBound) {
    p.devices.resize(1);
    ASSERT_TRUE(create_devices(sys, root, p, /*bind_devices=*/true));
    EXPECT_THAT(sys.calls_of({"openat2", "mount", "mknodat"}),
                ElementsAre("openat2 100 dev path,directory in_root -> 101",
                            "openat2 100 dev/null path in_root -> ENOENT",
                            "openat2 100 dev path,directory in_root -> 102",
                            "openat2 100 dev/null rdonly,creat,noctty mode=0644 in_root -> 103",
                            "openat2 100 dev/null path in_root -> 104",
                            "mount /dev/null -> /proc/self/fd/104 bind",
                            "openat2 100 dev path,directory in_root -> 105"));
}

TEST_F(DevicesTest, PtmxLinksToTheContainersDevpts) {
    sys.mode("/rootfs/dev/pts", S_IFDIR | 0755);
    (void)sys.mkdirat(root, "dev/pts", 0755);
    sys.mode("/rootfs/dev/pts/ptmx", S_IFCHR | 0666);
    (void)sys.mknodat(root, "dev/pts/ptmx", S_IFCHR | 0666, makedev(5, 2));
    sys.calls.clear();
    p.devices.clear();
    ASSERT_TRUE(create_devices(sys, root, p, false));
    EXPECT_EQ(sys.calls.back(), "symlinkat 101 ptmx => pts/ptmx");
    EXPECT_THAT(sys.calls_of({"fstatat"}), ElementsAre("fstatat 101 pts/ptmx nofollow => chr",
                                                       "fstatat 101 ptmx nofollow -> ENOENT"));
}

TEST_F(DevicesTest, ExistingPtmxNodeIsReplacedByTheLink) {
    sys.mode("/rootfs/dev/pts/ptmx", S_IFCHR | 0666);
    (void)sys.mknodat(root, "dev/pts/ptmx", S_IFCHR | 0666, makedev(5, 2));
    (void)sys.mknodat(root, "dev/ptmx", S_IFCHR | 0666, makedev(5, 2));
    sys.calls.clear();
    p.devices.clear();
    auto st = create_devices(sys, root, p, false);
    ASSERT_TRUE(st) << st.error().message;
    EXPECT_EQ(sys.calls.back(), "symlinkat 101 ptmx => pts/ptmx");
}

// --- prepare_rootfs ---

TEST(PrepareRootfs, HostRootBecomesRslaveAndTheRootfsIsBoundOntoItself) {
    FakeSys fresh;
    auto fd = prepare_rootfs(fresh, plan_with_mount_ns());
    ASSERT_TRUE(fd) << fd.error().message;
    EXPECT_EQ(fd->get(), 100);
    EXPECT_THAT(fresh.calls, ElementsAre("mount \"\" -> / slave,rec",
                                         "mount /bundles/c1/rootfs -> /bundles/c1/rootfs bind,rec",
                                         "openat2 cwd /bundles/c1/rootfs path,directory -> 100"));
}

TEST(PrepareRootfs, PrivatePropagation) {
    FakeSys fresh;
    plan::Plan p = plan_with_mount_ns();
    p.rootfs_propagation = MS_PRIVATE;
    ASSERT_TRUE(prepare_rootfs(fresh, p));
    EXPECT_EQ(fresh.calls.front(), "mount \"\" -> / private,rec");
}

TEST(PrepareRootfs, UnbindableIsAppliedLater) {
    FakeSys fresh;
    plan::Plan p = plan_with_mount_ns();
    p.rootfs_propagation = MS_UNBINDABLE;
    ASSERT_TRUE(prepare_rootfs(fresh, p));
    EXPECT_EQ(fresh.calls.front(), "mount \"\" -> / slave,rec")
        << "an unbindable rootfs could not be bound to itself";
}

// --- enter_rootfs ---

TEST(EnterRootfs, PivotRootDotDotThenDetachTheOldRoot) {
    FakeSys sys;
    ASSERT_TRUE(enter_rootfs(sys, "/bundles/c1/rootfs", /*no_pivot=*/false));
    EXPECT_THAT(sys.calls, ElementsAre("openat2 cwd / path,directory -> 100",
                                       "openat2 cwd /bundles/c1/rootfs path,directory -> 101",
                                       "fchdir 101", "pivot_root . .", "fchdir 100",
                                       "mount \"\" -> . slave,rec", "umount2 . detach", "chdir /"));
}

TEST(EnterRootfs, NoPivotMovesTheRootfsAndChroots) {
    FakeSys sys;
    ASSERT_TRUE(enter_rootfs(sys, "/bundles/c1/rootfs", /*no_pivot=*/true));
    // Before them: the test host's own /proc and /sys hidden (hide_host_mounts).
    ASSERT_GE(sys.calls.size(), 4u);
    EXPECT_THAT(std::vector<std::string>(sys.calls.end() - 4, sys.calls.end()),
                ElementsAre("chdir /bundles/c1/rootfs", "mount /bundles/c1/rootfs -> / move",
                            "chroot .", "chdir /"));
}

TEST(EnterRootfs, NoPivotFindsTheHostsFullProcAndSysfsOutsideTheRootfs) {
    std::string mountinfo =
        "26 1 254:0 / / rw,relatime master:1 - ext4 /dev/vda rw\n"  // made a slave
        "22 26 0:21 / /proc rw,nosuid - proc proc rw\n"
        "23 26 0:22 / /sys rw,nosuid - sysfs sysfs rw\n"
        "30 23 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
        "31 22 0:21 /sys /proc/sys ro - proc proc rw\n"              // not the whole fs
        "40 26 0:40 / /srv/proc\\040x rw shared:7 - proc proc rw\n"  // a second procfs
        "41 40 0:41 / /srv/proc\\040x/sub rw - sysfs sysfs rw\n"     // below a shared parent
        "50 26 0:50 / /bundles/c1/rootfs rw - ext4 /dev/vdb rw\n"
        "51 50 0:51 / /bundles/c1/rootfs/proc rw - proc proc rw\n"  // the container's own
        "52 50 0:52 / /bundles/c1/rootfs/sys rw - sysfs sysfs rw\n";
    auto hide = host_mounts_to_hide(mountinfo, "/bundles/c1/rootfs");
    std::vector<std::string> got;
    for (auto& h : hide) got.push_back(h.path + (h.unmount ? " unmount" : " cover"));
    EXPECT_THAT(got, ElementsAre("/proc unmount", "/sys unmount", "/srv/proc x unmount",
                                 "/srv/proc x/sub cover"));
}

TEST(EnterRootfs, HostMountsAreMadeSlavesThenDetachedOrCoveredWhereLocked) {
    FakeSys sys;
    sys.fail("umount2 /sys", EINVAL);  // locked to its parent in a user namespace
    ASSERT_TRUE(hide_host_mounts(sys, {{"/proc", true}, {"/sys", true}, {"/x", false}}));
    EXPECT_THAT(
        sys.calls_of({"mount", "umount2"}),
        ElementsAre(
            "mount \"\" -> /proc slave,rec", "umount2 /proc detach", "mount \"\" -> /sys slave,rec",
            "umount2 /sys detach -> EINVAL",
            "mount tmpfs -> /sys rdonly,nosuid,nodev,noexec type=tmpfs data=size=0,mode=000",
            "mount \"\" -> /x slave,rec",
            "mount tmpfs -> /x rdonly,nosuid,nodev,noexec type=tmpfs data=size=0,mode=000"));
}

TEST(EnterRootfs, OldRootIsNotDetachedWhenItCannotBeMadeSlave) {
    FakeSys sys;
    sys.fail("mount \"\" -> . slave", EINVAL);
    EXPECT_FALSE(enter_rootfs(sys, "/r", false));
    EXPECT_THAT(sys.calls_of({"umount2"}), IsEmpty());
}

// --- finalize_rootfs ---

TEST(FinalizeRootfs, ReadonlyPathIsARecursiveReadOnlyCloneMovedOverItself) {
    FakeSys sys;
    plan::Plan p = plan_with_mount_ns();
    p.readonly_paths = {"/proc/sys"};
    ASSERT_TRUE(finalize_rootfs(sys, p));
    EXPECT_THAT(sys.calls,
                ElementsAre("openat2 cwd / path,directory -> 100",
                            "openat2 100 proc/sys path in_root -> 101",
                            "open_tree 101 clone,recursive -> 102",
                            "mount_setattr 102 recursive set=ro", "move_mount 102 -> 101"));
}

TEST(FinalizeRootfs, MaskedDirectoryGetsAnEmptyReadOnlyTmpfs) {
    FakeSys sys;
    plan::Plan p = plan_with_mount_ns();
    p.masked_paths = {"/proc/acpi"};
    ASSERT_TRUE(finalize_rootfs(sys, p));
    EXPECT_THAT(
        sys.calls,
        ElementsAre("openat2 cwd / path,directory -> 100",
                    "openat2 100 proc/acpi path in_root -> 101", "fstatat 101 => dir",
                    "fsopen tmpfs -> 102", "fsconfig 102 string source=tmpfs",
                    "fsconfig 102 string size=0", "fsconfig 102 string mode=755",
                    "fsconfig 102 create", "fsmount 102 ro -> 103", "move_mount 103 -> 101"));
}

TEST(FinalizeRootfs, MaskedFileGetsDevNullBoundOverIt) {
    FakeSys sys;
    sys.file("/proc/kcore");
    plan::Plan p = plan_with_mount_ns();
    p.masked_paths = {"/proc/kcore"};
    ASSERT_TRUE(finalize_rootfs(sys, p));
    EXPECT_THAT(sys.calls,
                ElementsAre("openat2 cwd / path,directory -> 100",
                            "openat2 100 proc/kcore path in_root -> 101", "fstatat 101 => file",
                            "open_tree 100 dev/null clone -> 102", "move_mount 102 -> 101"));
}

TEST(FinalizeRootfs, MissingPathsAreSkipped) {
    FakeSys sys;
    sys.missing("/proc/asound");
    sys.missing("/proc/bus");
    plan::Plan p = plan_with_mount_ns();
    p.readonly_paths = {"/proc/bus"};
    p.masked_paths = {"/proc/asound"};
    ASSERT_TRUE(finalize_rootfs(sys, p));
    EXPECT_THAT(sys.calls, ElementsAre("openat2 cwd / path,directory -> 100",
                                       "openat2 100 proc/bus path in_root -> ENOENT",
                                       "openat2 100 proc/asound path in_root -> ENOENT"));
}

TEST(FinalizeRootfs, OtherLookupErrorsAreReported) {
    FakeSys sys;
    sys.fail("openat2 100 proc/keys", EACCES);
    plan::Plan p = plan_with_mount_ns();
    p.masked_paths = {"/proc/keys"};
    auto st = finalize_rootfs(sys, p);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, EACCES);
    EXPECT_THAT(st.error().message, ::testing::StartsWith("masked path /proc/keys: "));
}

TEST(FinalizeRootfs, ReadonlyPathsComeBeforeMaskedPaths) {
    FakeSys sys;
    sys.file("/proc/kcore");
    plan::Plan p = plan_with_mount_ns();
    p.masked_paths = {"/proc/kcore"};
    p.readonly_paths = {"/proc/sys"};
    ASSERT_TRUE(finalize_rootfs(sys, p));
    EXPECT_THAT(sys.calls_of({"move_mount"}),
                ElementsAre("move_mount 102 -> 101", "move_mount 104 -> 103"));
    EXPECT_THAT(sys.calls[1], HasSubstr("proc/sys"));
}

TEST(FinalizeRootfs, RootfsPropagationAndReadOnlyRootComeLast) {
    FakeSys sys;
    plan::Plan p = plan_with_mount_ns();
    p.rootfs_propagation = MS_SHARED;
    p.rootfs_propagation_recursive = true;
    p.rootfs_readonly = true;
    ASSERT_TRUE(finalize_rootfs(sys, p));
    EXPECT_THAT(sys.calls, ElementsAre("openat2 cwd / path,directory -> 100",
                                       "mount \"\" -> / shared,rec", "mount_setattr 100 set=ro"));
}

TEST(FinalizeRootfs, NonRecursivePropagation) {
    FakeSys sys;
    plan::Plan p = plan_with_mount_ns();
    p.rootfs_propagation = MS_PRIVATE;
    p.rootfs_propagation_recursive = false;
    ASSERT_TRUE(finalize_rootfs(sys, p));
    EXPECT_THAT(sys.calls_of({"mount"}), ElementsAre("mount \"\" -> / private"));
}

TEST(FinalizeRootfs, NothingToDo) {
    FakeSys sys;
    ASSERT_TRUE(finalize_rootfs(sys, plan_with_mount_ns()));
    EXPECT_THAT(sys.calls, ElementsAre("openat2 cwd / path,directory -> 100"));
}

}  // namespace
}  // namespace kapsel::linux

namespace kapsel::linux {
namespace {

// A user's store (issue 16): overlayfs in a user namespace keeps its xattrs as
// user.overlay.* (userxattr), and the kernel refuses redirect_dir=off beside it.
TEST(OverlayRootfs, InAUserNamespaceItIsMountedWithUserxattrAndRedirectsNotFollowed) {
    plan::Plan::Overlay o{.lowers = {"/s/l2", "/s/l1"}, .upper = "/c/upper", .work = "/c/work"};
    auto configs = [&] {
        FakeSys sys;
        EXPECT_TRUE(mount_overlay_at(sys, o, "/c/merged"));
        return sys.calls_of({"fsconfig"});
    };
    EXPECT_THAT(configs(), ElementsAre("fsconfig 101 string lowerdir+=/s/l2", "fsconfig 101 string lowerdir+=/s/l1",
                                       "fsconfig 101 string upperdir=/c/upper", "fsconfig 101 string workdir=/c/work",
                                       "fsconfig 101 string redirect_dir=off", "fsconfig 101 string metacopy=off",
                                       "fsconfig 101 create"));
    o.user_xattr = true;
    EXPECT_THAT(configs(), ElementsAre("fsconfig 101 string lowerdir+=/s/l2", "fsconfig 101 string lowerdir+=/s/l1",
                                       "fsconfig 101 string upperdir=/c/upper", "fsconfig 101 string workdir=/c/work",
                                       "fsconfig 101 flag userxattr", "fsconfig 101 string redirect_dir=nofollow",
                                       "fsconfig 101 string metacopy=off", "fsconfig 101 create"));
}

}  // namespace
}  // namespace kapsel::linux
