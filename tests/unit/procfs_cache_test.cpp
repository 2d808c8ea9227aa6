// procfs/cache.hpp: the server's short-lived, bounded cache (a cgroup's limits, the
// host's CPU list) with a clock the test moves.
#include <gtest/gtest.h>

#include "procfs/cache.hpp"

namespace kapsel::procfs {
namespace {

using namespace std::chrono_literals;

struct FakeClock {
    std::chrono::steady_clock::time_point now{};
    SteadyClock fn() {
        return [this] { return now; };
    }
};

TEST(ProcfsCache, AnEntryIsAnsweredUntilItsTimeIsUp) {
    FakeClock clock;
    TtlCache<int> cache(100ms, 10, clock.fn());
    cache.put("0::/kapsel/c1", 256);
    clock.now += 99ms;
    EXPECT_EQ(256, cache.get("0::/kapsel/c1"));
    clock.now += 1ms;
    EXPECT_EQ(std::nullopt, cache.get("0::/kapsel/c1")) << "a changed limit shows after 100 ms";
    EXPECT_EQ(0u, cache.size()) << "an expired entry is dropped when met";
}

TEST(ProcfsCache, APutReplacesTheValueAndRestartsItsTime) {
    FakeClock clock;
    TtlCache<int> cache(100ms, 10, clock.fn());
    cache.put("k", 1);
    clock.now += 80ms;
    cache.put("k", 2);
    clock.now += 80ms;
    EXPECT_EQ(2, cache.get("k"));
}

TEST(ProcfsCache, NoMoreEntriesThanTheBoundAreKept) {
    FakeClock clock;
    TtlCache<int> cache(100ms, 3, clock.fn());
    for (int i = 0; i < 3; ++i) cache.put("old" + std::to_string(i), i);
    clock.now += 100ms;
    cache.put("new", 9);
    EXPECT_EQ(1u, cache.size()) << "the expired ones made room";
    EXPECT_EQ(9, cache.get("new"));

    for (int i = 0; i < 1000; ++i) cache.put("caller" + std::to_string(i), i);
    EXPECT_LE(cache.size(), 3u) << "fresh entries from many callers never pass the bound";
    EXPECT_EQ(999, cache.get("caller999")) << "the newest is kept";
}

}  // namespace
}  // namespace kapsel::procfs
