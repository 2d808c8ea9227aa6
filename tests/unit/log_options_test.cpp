// run --log-opt as docker's json-file takes it, and the cuts the log keeper makes.
#include "plan/log_options.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kapsel::plan {
namespace {

using ::testing::HasSubstr;

TEST(LogSize, TakesDockersUnitsInPowersOf1024) {
    EXPECT_EQ(10u << 20, *parse_log_size("10m"));
    EXPECT_EQ(10u << 20, *parse_log_size("10M"));
    EXPECT_EQ(10u << 20, *parse_log_size("10mb"));
    EXPECT_EQ(10u << 20, *parse_log_size("10MiB"));
    EXPECT_EQ(10u << 20, *parse_log_size("10 m"));
    EXPECT_EQ(1536u, *parse_log_size("1.5k"));
    EXPECT_EQ(512u, *parse_log_size("512"));
    EXPECT_EQ(512u, *parse_log_size("512b"));
    EXPECT_EQ(uint64_t{3} << 30, *parse_log_size("3g"));
    EXPECT_EQ(uint64_t{1} << 40, *parse_log_size("1t"));
}

TEST(LogSize, RefusesWhatIsNotASize) {
    for (const char* bad :
         {"", "m", "10x", "-1", "1.2.3", "10mbb", "10bb", "10kab", "1e3", "10  m", "0x10", "ten"}) {
        auto r = parse_log_size(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_THAT(r.error().message, HasSubstr("is not a size")) << bad;
    }
    EXPECT_THAT(parse_log_size("0").error().message, HasSubstr("more than 0"));
    EXPECT_THAT(parse_log_size("0.1b").error().message, HasSubstr("more than 0"));
    EXPECT_THAT(parse_log_size("2p").error().message, HasSubstr("too large"));
    EXPECT_THAT(parse_log_size("99999999999999999999999999g").error().message,
                HasSubstr("too large"));
}

TEST(LogOptions, MaxSizeAndMaxFileAsDockersJsonFile) {
    EXPECT_EQ((LogOptions{}), *parse_log_options({}));
    EXPECT_EQ((LogOptions{.max_size = 1 << 20, .max_file = 1}),
              *parse_log_options({"max-size=1m"}));
    EXPECT_EQ((LogOptions{.max_size = 10 << 20, .max_file = 3}),
              *parse_log_options({"max-size=10m", "max-file=3"}));
    EXPECT_EQ((LogOptions{.max_size = 2048, .max_file = 2}),
              *parse_log_options({"max-file=2", "max-size=1k", "max-size=2k"}))
        << "order does not matter; a later one wins";
}

TEST(LogOptions, BadOnesAreOneClearError) {
    struct Case {
        std::vector<std::string> opts;
        const char* says;
    } cases[] = {
        {{"max-file=3"}, "max-file can only be used with max-size"},
        {{"max-size=1m", "max-file=0"}, "max-file \"0\" is not a number from 1 to 100"},
        {{"max-size=1m", "max-file=101"}, "from 1 to 100"},
        {{"max-size=1m", "max-file=three"}, "max-file \"three\""},
        {{"max-size=1m", "max-file=-2"}, "max-file \"-2\""},
        {{"max-size=lots"}, "--log-opt: max-size \"lots\" is not a size"},
        {{"max-size"}, "expected KEY=VALUE"},
        {{"compress=true"}, "unknown option \"compress\""},
    };
    for (auto& c : cases) {
        auto r = parse_log_options(c.opts);
        ASSERT_FALSE(r) << c.says;
        EXPECT_THAT(r.error().message, HasSubstr(c.says));
        EXPECT_EQ(std::string::npos, r.error().message.find('\n'));
    }
}

TEST(LogOptions, RecordRoundTripsAndADamagedOneIsAnError) {
    LogOptions o{.max_size = 1 << 20, .max_file = 3};
    EXPECT_EQ(o, *log_options_from_json(log_options_json(o)));
    for (const char* bad :
         {R"(null)", R"([])", R"({"max-size": 1})", R"({"max-size": "1m", "max-file": 1})",
          R"({"max-size": 1048576, "max-file": 0})", R"({"max-size": 1048576, "max-file": 1000})",
          R"({"max-size": -5, "max-file": 1})", R"({"max-size": 1.5, "max-file": 1})",
          R"({"max-size": 0, "max-file": 3})"}) {
        auto r = log_options_from_json(nlohmann::json::parse(bad));
        EXPECT_FALSE(r) << bad;
    }
}

TEST(LogOptions, MaxSizeIsAtLeastTwoBlocks) {
    EXPECT_TRUE(check_log_block_size({.max_size = 8192, .max_file = 1}, 4096));
    EXPECT_TRUE(check_log_block_size({}, 4096)) << "no bound, no rule";
    auto r = check_log_block_size({.max_size = 8191, .max_file = 3}, 4096);
    ASSERT_FALSE(r);
    EXPECT_THAT(r.error().message, HasSubstr("below two blocks"));
}

TEST(LogCut, NothingBelowMaxSize) {
    LogOptions o{.max_size = 1 << 20, .max_file = 3};
    EXPECT_EQ(0u, plan_log_cut(o, (1 << 20) - 1, 4096).cut);
    EXPECT_EQ(0u, plan_log_cut({}, uint64_t{1} << 40, 4096).cut) << "unbounded";
}

TEST(LogCut, AtMaxSizeTheHeadBecomesCtrLog1) {
    LogOptions o{.max_size = 1 << 20, .max_file = 3};
    // 1 MiB + 100 bytes: all whole blocks but the last partial one go.
    LogCut c = plan_log_cut(o, (1 << 20) + 100, 4096);
    EXPECT_EQ(uint64_t{1} << 20, c.cut);
    EXPECT_EQ(std::vector<uint64_t>{1 << 20}, c.chunks);
    // Exactly 1 MiB: the cut never reaches the end of the file.
    c = plan_log_cut(o, 1 << 20, 4096);
    EXPECT_EQ((1u << 20) - 4096, c.cut);
    EXPECT_EQ(c.cut, c.kept());
}

TEST(LogCut, ALogPastMaxSizeIsCutOneFileAtATime) {
    LogOptions o{.max_size = 1 << 20, .max_file = 3};
    // 1.3 MiB: one full ctr.log.1; the rest stays, below max-size (ctr.log.1 before
    // becomes .2 rather than being pushed out by a small file).
    LogCut c = plan_log_cut(o, 1363148, 4096);
    EXPECT_EQ(uint64_t{1} << 20, c.cut);
    EXPECT_EQ(std::vector<uint64_t>{1 << 20}, c.chunks);
    // 1.9 MiB, max-size not a whole number of blocks: files stay within max-size.
    o.max_size = 1000000;
    c = plan_log_cut(o, 1900000, 4096);
    EXPECT_EQ(999424u, c.cut);
}

TEST(LogCut, ABurstBeyondAllFilesKeepsTheirWorthAndDropsTheRest) {
    LogOptions o{.max_size = 1 << 20, .max_file = 3};
    // 5 MiB + 10 arrived before the keeper could look: two files of 1 MiB are kept
    // (ctr.log.1 and .2), the 3 MiB before them dropped.
    LogCut c = plan_log_cut(o, (5 << 20) + 10, 4096);
    EXPECT_EQ(uint64_t{5} << 20, c.cut);
    EXPECT_EQ((std::vector<uint64_t>{1 << 20, 1 << 20}), c.chunks);
}

TEST(LogCut, OneFileKeepsItsNewerHalf) {
    LogOptions o{.max_size = 1 << 20, .max_file = 1};
    LogCut c = plan_log_cut(o, 1 << 20, 4096);
    EXPECT_TRUE(c.chunks.empty());
    EXPECT_EQ(uint64_t{1} << 19, c.cut);
    c = plan_log_cut(o, (1 << 20) + 5000, 4096);
    uint64_t stays = (1 << 20) + 5000 - c.cut;
    EXPECT_EQ(0u, c.cut % 4096);
    EXPECT_GE(stays, uint64_t{1} << 19);
    EXPECT_LT(stays, (uint64_t{1} << 19) + 4096);
}

TEST(LogCut, EveryFileStaysWithinMaxSize) {
    // Whatever the size, the keeper's cuts until the log is below max-size: each
    // rotated file within max-size, at most max-file - 1 of them made, a few cuts.
    for (int files : {1, 2, 3, 7}) {
        for (uint64_t max : {40000u, 40960u, 8192u}) {
            LogOptions o{.max_size = max, .max_file = files};
            for (uint64_t size = max; size < 600000; size += 7919) {
                uint64_t now = size;
                int cuts = 0;
                while (now >= max) {
                    LogCut c = plan_log_cut(o, now, 4096);
                    ASSERT_GT(c.cut, 0u) << now;
                    EXPECT_LT(c.cut, now);
                    EXPECT_EQ(0u, c.cut % 4096);
                    EXPECT_LE(c.chunks.size(), static_cast<size_t>(files - 1));
                    for (auto len : c.chunks) EXPECT_LE(len, max);
                    EXPECT_LE(c.kept(), c.cut);
                    now -= c.cut;
                    ASSERT_LE(++cuts, files + 1) << size;
                }
            }
        }
    }
}

}  // namespace
}  // namespace kapsel::plan
