// procfs/io.cpp: a container's block I/O counters in /proc/diskstats, from v2 io.stat
// and v1 blkio.throttle files.
#include <gtest/gtest.h>

#include "procfs/io.hpp"

namespace kapsel::procfs {
namespace {

const char* kHost =
    "   7       0 loop0 588 0 25080 126 0 0 0 0 0 68 126 0 0 0 0 0 0\n"
    " 254       0 vda 827824 41815 26577842 1399151 736871 1720431 357186976 3797983 0 436316 "
    "5547088 1186325 16 338649008 270792 77101 79161\n"
    "   8       0 sda 10 0 80 1 20 0 160 2 0 3 3\n";

TEST(ProcfsIo, IoStatGivesEachDevicesCounters) {
    auto io = parse_io_stat(
        "254:0 rbytes=1048576 wbytes=4096 rios=12 wios=1 dbytes=512 dios=1\n"
        "8:0 rbytes=0 wbytes=0 rios=0 wios=0 dbytes=0 dios=0\n"
        "junk line\n9:x rbytes=1\n");
    ASSERT_EQ(2u, io.size());
    EXPECT_EQ(1048576u, io["254:0"].rbytes);
    EXPECT_EQ(12u, io["254:0"].rios);
    EXPECT_EQ(1u, io["254:0"].dios);
}

TEST(ProcfsIo, BlkioThrottleFilesGiveEachDevicesCounters) {
    auto io = parse_blkio_throttle("254:0 Read 12\n254:0 Write 3\n254:0 Total 15\nTotal 15\n",
                                   "254:0 Read 8192\n254:0 Write 1024\nTotal 9216\n");
    ASSERT_EQ(1u, io.size());
    EXPECT_EQ(12u, io["254:0"].rios);
    EXPECT_EQ(3u, io["254:0"].wios);
    EXPECT_EQ(8192u, io["254:0"].rbytes);
    EXPECT_EQ(1024u, io["254:0"].wbytes);
}

TEST(ProcfsIo, DiskstatsHasTheHostsDevicesWithTheContainersCounters) {
    IoStats io;
    io["254:0"] = {
        .rbytes = 1048576, .wbytes = 4096, .rios = 12, .wios = 1, .dbytes = 1024, .dios = 2};
    EXPECT_EQ(
        "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
        " 254       0 vda 12 0 2048 0 1 0 8 0 0 0 0 2 0 2 0 0 0\n"
        "   8       0 sda 0 0 0 0 0 0 0 0 0 0 0\n",
        diskstats(kHost, io))
        << "no I/O: zeros; sectors of 512 bytes; the host's field counts kept";
}

TEST(ProcfsIo, LinesThatAreNotDiskstatsAreLeftOut) {
    EXPECT_EQ("", diskstats("garbage\n1 2\nx y vda 1 2 3 4 5 6 7 8 9 10 11\n", {}));
}

TEST(ProcfsIo, OnlyTheThreePressureFilesAreRead) {
    cgroups::Layout none;
    auto r = pressure_in(none, "0::/\n", "../../etc/passwd");
    ASSERT_FALSE(r);
    EXPECT_NE(std::string::npos, r.error().message.find("not a resource"));
    auto v1 = pressure_in(none, "0::/\n", "cpu");
    ASSERT_TRUE(v1);
    EXPECT_FALSE(*v1) << "no cgroup2 hierarchy: the caller shows the host's";
}

}  // namespace
}  // namespace kapsel::procfs
