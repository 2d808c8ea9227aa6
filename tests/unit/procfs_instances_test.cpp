// Each container's own inodes, and when an answer goes through the page cache
// (procfs/instances.hpp).
#include "procfs/instances.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "procfs/files.hpp"
#include "procfs/sysfs.hpp"

namespace kapsel::procfs {
namespace {

TEST(ProcfsInstances, AContainersInodesAreTheTreesWithItsSlotAbove) {
    uint64_t ino = join_ino(7, 4);
    EXPECT_EQ(split_ino(ino).slot, 7u);
    EXPECT_EQ(split_ino(ino).base, 4u);
    // The passed-through sysfs entries' numbers fit below the slot too.
    uint64_t last = PassthroughInodes::kFirst + PassthroughInodes::kMaxEntries;
    EXPECT_EQ(split_ino(join_ino(1, last)).base, last);
    EXPECT_EQ(split_ino(join_ino(1, last)).slot, 1u);
    EXPECT_EQ(join_ino(0, kRootIno), kRootIno);
}

TEST(ProcfsInstances, NamesAreTheContainerIdAndLongIdsTheirDigest) {
    EXPECT_EQ(instance_name("web-1"), "ct-web-1");
    EXPECT_TRUE(is_instance_name(instance_name("a+b_c.d-e")));
    std::string long_id(300, 'x');
    std::string name = instance_name(long_id);
    EXPECT_EQ(name.size(), 3u + 64u);  // fits a file name, which 300 characters do not
    EXPECT_TRUE(is_instance_name(name));
    EXPECT_NE(instance_name(std::string(300, 'y')), name);
    for (const char* bad : {"ct-", "meminfo", "ct-a/b", "ct-..\n", "CT-a", "ct-a b"})
        EXPECT_FALSE(is_instance_name(bad)) << bad;
    EXPECT_FALSE(is_instance_name("ct-" + std::string(129, 'a')));
}

TEST(ProcfsInstances, ANameKeepsItsSlotAndTwoNamesNeverShareOne) {
    Instances in(5);
    uint64_t a = in.slot_of("ct-a");
    uint64_t b = in.slot_of("ct-b");
    EXPECT_NE(a, b);
    EXPECT_NE(a, 0u);
    EXPECT_EQ(in.slot_of("ct-a"), a);
    // A start near the limit, or 0 (the mount root's slot), starts at 1 instead.
    EXPECT_NE(Instances(0).slot_of("ct-a"), 0u);
    EXPECT_EQ(Instances(~uint64_t{0}).slot_of("ct-a") < (uint64_t{1} << 30), true);
}

TEST(ProcfsInstances, ForgottenNamesNeverGetAnotherNamesSlot) {
    Instances in(1);
    uint64_t first = in.slot_of("ct-first");
    std::set<uint64_t> seen{first};
    for (size_t i = 0; i < 3 * Instances::kMax; ++i)
        EXPECT_TRUE(seen.insert(in.slot_of("ct-" + std::to_string(i))).second) << i;
    // "first" was forgotten on the way: it gets a new slot, not one in use.
    EXPECT_TRUE(seen.insert(in.slot_of("ct-first")).second);
}

TEST(ProcfsInstances, APageCacheBeyondItsBoundForgetsClosedInodesOnly) {
    PageCache c;
    EXPECT_TRUE(c.open(1, 100, 10).cached);  // stays open
    for (uint64_t ino = 2; ino < 2 + PageCache::kMax; ++ino) {
        c.open(ino, ino + 1000, 10);
        c.release(ino, ino + 1000);
    }
    EXPECT_FALSE(c.size_of(2).has_value()) << "a closed inode was forgotten";
    EXPECT_EQ(c.size_of(1), 10u) << "the open one was kept";
    EXPECT_FALSE(c.open(1, 101, 10).cached) << "and still counts as open";
}

TEST(ProcfsInstances, TheFirstOpenIsCachedAndOpensMeanwhileReadFromTheServer) {
    PageCache c;
    OpenPlan first = c.open(10, 100, 1200);
    EXPECT_TRUE(first.cached);
    EXPECT_TRUE(first.invalidate_attrs);  // the kernel's size is not known yet
    EXPECT_EQ(c.size_of(10), 1200u);
    // A second open while the first may still read the page cache: direct I/O, and the
    // size stays the first one's.
    OpenPlan second = c.open(10, 101, 900);
    EXPECT_FALSE(second.cached);
    EXPECT_FALSE(second.invalidate_attrs);
    EXPECT_EQ(c.size_of(10), 1200u);
    // Another inode (another container's copy) is not affected.
    EXPECT_TRUE(c.open(join_ino(3, 10), 102, 900).cached);
    c.release(10, 100);
    // Cached only when no other file of the inode is open.
    EXPECT_FALSE(c.open(10, 103, 900).cached);
    c.release(10, 101);
    c.release(10, 103);
    // None open: cached again; the same size needs no new getattr, another does.
    OpenPlan same = c.open(10, 104, 1200);
    EXPECT_TRUE(same.cached);
    EXPECT_FALSE(same.invalidate_attrs);
    c.release(10, 104);
    OpenPlan shorter = c.open(10, 105, 1100);
    EXPECT_TRUE(shorter.cached);
    EXPECT_TRUE(shorter.invalidate_attrs);
    EXPECT_EQ(c.size_of(10), 1100u);
}

TEST(ProcfsInstances, ADoubtedSizeIsSetAgainByTheNextCachedOpen) {
    PageCache c;
    c.open(10, 100, 50);
    c.doubt_size(10);  // a short read: the kernel's size may have shrunk
    EXPECT_EQ(c.size_of(10), 50u) << "what the open reading the page cache needs";
    c.release(10, 100);
    OpenPlan next = c.open(10, 101, 50);
    EXPECT_TRUE(next.cached);
    EXPECT_TRUE(next.invalidate_attrs) << "same length, but the kernel's may differ";
}

TEST(ProcfsInstances, AReleaseOfAnInodeWithNoOpenIsIgnored) {
    PageCache c;
    c.release(10, 100);
    EXPECT_TRUE(c.open(10, 101, 5).cached);
    EXPECT_FALSE(c.open(10, 102, 5).cached);
}

}  // namespace
}  // namespace kapsel::procfs
