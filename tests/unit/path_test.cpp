// linux/path.cpp: paths inside the rootfs are only ever resolved with openat2
// RESOLVE_IN_ROOT, and mkdir -p creates each missing level below a directory
// reached that way.
#include "linux/path.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_sys.hpp"

namespace kapsel::linux {
namespace {

using kapsel::testing::FakeSys;
using ::testing::ElementsAre;

class InRootTest : public ::testing::Test {
  protected:
    FakeSys sys;
    int root = sys.open_dir("/rootfs");  // fd 100
};

TEST_F(InRootTest, ExistingDirectoryIsOneLookup) {
    auto fd = mkdir_in_root(sys, root, "/etc/ssl");
    ASSERT_TRUE(fd) << fd.error().message;
    EXPECT_EQ(fd->get(), 101);
    EXPECT_THAT(sys.calls, ElementsAre("openat2 100 etc/ssl path,directory in_root -> 101"));
}

TEST_F(InRootTest, MissingParentsAreCreatedOneLevelAtATime) {
    sys.missing("/rootfs/a");
    auto fd = mkdir_in_root(sys, root, "/a/b/c", 0700);
    ASSERT_TRUE(fd) << fd.error().message;
    EXPECT_EQ(fd->get(), 104);
    EXPECT_THAT(
        sys.calls,
        ElementsAre("openat2 100 a/b/c path,directory in_root -> ENOENT",
                    "openat2 100 . path,directory in_root -> 101",
                    "openat2 100 a path,directory in_root -> ENOENT", "mkdirat 101 a 0700",
                    "openat2 100 a path,directory in_root -> 102",
                    "openat2 100 a/b path,directory in_root -> ENOENT", "mkdirat 102 b 0700",
                    "openat2 100 a/b path,directory in_root -> 103",
                    "openat2 100 a/b/c path,directory in_root -> ENOENT", "mkdirat 103 c 0700",
                    "openat2 100 a/b/c path,directory in_root -> 104"));
    EXPECT_TRUE(sys.exists("/rootfs/a/b/c"));
}

TEST_F(InRootTest, ExistingLevelsAreWalkedNotCreated) {
    sys.missing("/rootfs/var/lib");
    ASSERT_TRUE(mkdir_in_root(sys, root, "/var/lib"));
    EXPECT_THAT(sys.calls_of({"mkdirat"}), ElementsAre("mkdirat 102 lib 0755"));
    EXPECT_THAT(sys.calls, ::testing::Contains("openat2 100 var path,directory in_root -> 102"));
}

TEST_F(InRootTest, PathIsCleanedAndCannotClimbOutOfTheRoot) {
    ASSERT_TRUE(mkdir_in_root(sys, root, "/../../etc/./ssl//"));
    EXPECT_THAT(sys.calls, ElementsAre("openat2 100 etc/ssl path,directory in_root -> 101"));
}

TEST_F(InRootTest, RootItselfIsDot) {
    ASSERT_TRUE(mkdir_in_root(sys, root, "/"));
    EXPECT_THAT(sys.calls, ElementsAre("openat2 100 . path,directory in_root -> 101"));
}

TEST_F(InRootTest, OtherLookupErrorsAreReturnedUntouched) {
    sys.fail("openat2 100 secret", EACCES);
    auto fd = mkdir_in_root(sys, root, "/secret/x");
    ASSERT_FALSE(fd);
    EXPECT_EQ(fd.error().code, EACCES);
    EXPECT_THAT(sys.calls, ElementsAre("openat2 100 secret/x path,directory in_root -> EACCES"));
}

TEST_F(InRootTest, FailedMkdirNamesThePathAsked) {
    sys.missing("/rootfs/ro");
    sys.fail("mkdirat 101 ro", EROFS);
    auto fd = mkdir_in_root(sys, root, "/ro/dir");
    ASSERT_FALSE(fd);
    EXPECT_EQ(fd.error().code, EROFS);
    EXPECT_THAT(fd.error().message, ::testing::StartsWith("create /ro/dir: "));
}

TEST_F(InRootTest, OpenInRootResolvesInTheRoot) {
    ASSERT_TRUE(open_in_root(sys, root, "/etc/passwd", O_RDONLY));
    EXPECT_THAT(sys.calls, ElementsAre("openat2 100 etc/passwd rdonly in_root -> 101"));
}

TEST_F(InRootTest, MountpointForAFileIsAnEmptyFileInACreatedDirectory) {
    sys.missing("/rootfs/run");
    auto fd = ensure_mountpoint(sys, root, "/run/secrets/token", /*directory=*/false);
    ASSERT_TRUE(fd) << fd.error().message;
    EXPECT_THAT(sys.calls_of({"mkdirat"}),
                ElementsAre("mkdirat 101 run 0755", "mkdirat 102 secrets 0755"));
    EXPECT_EQ(sys.calls.back(), "openat2 100 run/secrets/token path in_root -> 105");
    EXPECT_EQ(fd->get(), 105);
}

TEST_F(InRootTest, ExistingMountpointIsKept) {
    sys.file("/rootfs/etc/hosts");
    ASSERT_TRUE(ensure_mountpoint(sys, root, "/etc/hosts", false));
    EXPECT_THAT(sys.calls, ElementsAre("openat2 100 etc/hosts path in_root -> 101"));
}

TEST_F(InRootTest, MountpointForADirectoryIsMkdirP) {
    sys.missing("/rootfs/data");
    ASSERT_TRUE(ensure_mountpoint(sys, root, "/data", true));
    EXPECT_THAT(sys.calls_of({"mkdirat"}), ElementsAre("mkdirat 101 data 0755"));
}

}  // namespace
}  // namespace kapsel::linux
