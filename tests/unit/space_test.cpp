// image/space.cpp: the free-space reserve, the size parser, and the running tally of
// an import against its maximum.
#include <gtest/gtest.h>

#include <string>

#include "image/space.hpp"

namespace kapsel::image {
namespace {

constexpr uint64_t GiB = 1ull << 30, MiB = 1ull << 20;

TEST(SpaceReserve, FivePercentAtMostOneGiB) {
    EXPECT_EQ(5 * MiB, space_reserve({.size = 100 * MiB}));
    EXPECT_EQ(GiB, space_reserve({.size = 250 * GiB}));
    EXPECT_EQ(50000u, inode_reserve({.inodes = 1000000}));
    EXPECT_EQ(1000000u, inode_reserve({.inodes = 100000000}));
}

TEST(SpaceReserve, ALayerFitsOnlyAboveTheReserve) {
    FsSpace fs{.size = 100 * MiB, .free = 20 * MiB, .inodes = 1000, .free_inodes = 500};
    EXPECT_TRUE(fits(fs, 15 * MiB, 10, "/s"));
    EXPECT_FALSE(fits(fs, 15 * MiB + 1, 10, "/s"));
    EXPECT_FALSE(fits(fs, 0, 451, "/s")) << "inodes too";
    fs.inodes = 0;  // a file system that does not count inodes
    EXPECT_TRUE(fits(fs, 0, 1000000, "/s"));
    fs.free = 4 * MiB;  // below the reserve already
    auto st = fits(fs, 0, 0, "/s");
    ASSERT_FALSE(st);
    EXPECT_EQ("the file system of /s has 4.2 MB free and keeps 5.2 MB (5%, at most 1 GiB) free: the layer does not fit",
              st.error().message);
}

TEST(ParseSize, UnitsArePowersOf1024) {
    EXPECT_EQ(512u, *parse_size("512"));
    EXPECT_EQ(10 * 1024u, *parse_size("10k"));
    EXPECT_EQ(10 * 1024u, *parse_size("10KiB"));
    EXPECT_EQ(512 * MiB, *parse_size("512m"));
    EXPECT_EQ(2 * GiB + GiB / 2, *parse_size("2.5G"));
    EXPECT_EQ(1ull << 40, *parse_size("1t"));
    for (const char* bad : {"", "m", ".", "1.", "-1", "1x", "1 m", "99999999999999999999", "16777216t"})
        EXPECT_FALSE(parse_size(bad)) << bad;
    EXPECT_EQ(0u, *parse_max_size(""));
    EXPECT_FALSE(parse_max_size("0"));
}

TEST(SpaceGuard, StopsAtTheMaximumAcrossLayers) {
    uint64_t unpacked = 0;
    SpaceGuard first("/", 10 * MiB, unpacked);
    ASSERT_TRUE(first.start());
    EXPECT_TRUE(first.add(6 * MiB));
    SpaceGuard second("/", 10 * MiB, unpacked);  // the next layer of the same command
    EXPECT_TRUE(second.add(4 * MiB));
    auto st = second.add(1);
    ASSERT_FALSE(st);
    EXPECT_EQ("the image's files pass the maximum unpacked size of 10.5 MB (--max-size)", st.error().message);
}

}  // namespace
}  // namespace kapsel::image
