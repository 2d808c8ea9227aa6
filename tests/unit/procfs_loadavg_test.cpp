// procfs/loadavg.cpp: per-container load averages, with a fake task counter and clock.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "procfs/loadavg.hpp"

namespace kapsel::procfs {
namespace {

using namespace std::chrono_literals;

TEST(ProcfsLoadavg, TheAveragesDecayAsTheKernelsDo) {
    Load l;
    decay(l, 1);
    EXPECT_NEAR(1 - std::exp(-5.0 / 60), l.one, 1e-12);
    // One task always runnable: after 15 minutes the 1-minute average is ~1, the
    // 15-minute one 1 - 1/e.
    for (int i = 1; i < 180; ++i) decay(l, 1);
    EXPECT_NEAR(1.0, l.one, 1e-4);
    EXPECT_NEAR(1 - std::exp(-1.0), l.fifteen, 1e-9);
    for (int i = 0; i < 180; ++i) decay(l, 0);
    EXPECT_LT(l.one, 1e-4) << "idle again";
}

TEST(ProcfsLoadavg, TheTextHasFiveFieldsAndNoHostPid) {
    EXPECT_EQ(
        "0.52 0.30 0.11 1/42 0\n",
        loadavg_text(Load{.one = 0.524, .five = 0.3, .fifteen = 0.114, .running = 1, .total = 42}));
}

struct Fixture {
    std::chrono::steady_clock::time_point now{};
    std::map<std::string, TaskCount> cgroups;  // absent: gone
    size_t counts = 0;
    LoadTable table{[this](const std::string& cg) -> std::optional<TaskCount> {
                        ++counts;
                        auto it = cgroups.find(cg);
                        if (it == cgroups.end()) return std::nullopt;
                        return it->second;
                    },
                    [this] { return now; }};
};

TEST(ProcfsLoadavg, AContainerIsSampledFromItsFirstReadOn) {
    Fixture f;
    f.cgroups["kapsel/c1"] = {.running = 2, .uninterruptible = 1, .total = 10};
    f.cgroups["kapsel/c2"] = {.running = 0, .uninterruptible = 0, .total = 3};
    f.table.sample();
    EXPECT_EQ(0u, f.counts) << "nothing read yet, nothing counted";

    auto first = f.table.read("kapsel/c1");
    ASSERT_TRUE(first);
    EXPECT_EQ(0.0, first->one) << "the averages start at 0, as at boot";
    EXPECT_EQ(2u, first->running);
    EXPECT_EQ(10u, first->total);

    for (int i = 0; i < 12; ++i) {  // a minute
        f.now += kLoadInterval;
        f.table.sample();
    }
    auto later = f.table.read("kapsel/c1");
    ASSERT_TRUE(later);
    EXPECT_NEAR(3 * (1 - std::exp(-1.0)), later->one, 1e-9) << "R + D count";
    EXPECT_EQ(1u, f.table.tracked()) << "c2 was never read";
}

TEST(ProcfsLoadavg, AContainerNotReadForTenMinutesOrGoneIsDropped) {
    Fixture f;
    f.cgroups["a"] = {.running = 1, .total = 1};
    f.cgroups["b"] = {.running = 1, .total = 1};
    ASSERT_TRUE(f.table.read("a"));
    ASSERT_TRUE(f.table.read("b"));
    f.now += kLoadIdle - 1s;
    ASSERT_TRUE(f.table.read("b"));
    f.now += 1s;
    f.table.sample();
    EXPECT_EQ(1u, f.table.tracked()) << "a was not read for 10 minutes";
    f.cgroups.erase("b");
    f.table.sample();
    EXPECT_EQ(0u, f.table.tracked()) << "b's cgroup is gone";
    EXPECT_FALSE(f.table.read("b")) << "a gone cgroup is not tracked again";
}

TEST(ProcfsLoadavg, NoMoreThanTheBoundAreTracked) {
    Fixture f;
    for (size_t i = 0; i <= kMaxTracked; ++i) f.cgroups["c" + std::to_string(i)] = {.total = 1};
    for (size_t i = 0; i < kMaxTracked; ++i) ASSERT_TRUE(f.table.read("c" + std::to_string(i)));
    EXPECT_FALSE(f.table.read("c" + std::to_string(kMaxTracked)));
    EXPECT_EQ(kMaxTracked, f.table.tracked());
}

TEST(ProcfsLoadavg, TheKeyIsTheCpuHierarchysPathChecked) {
    cgroups::Layout v1 = cgroups::parse_layout(
        "30 25 0:26 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n", "1:cpu:/\n");
    EXPECT_EQ("kapsel/c1", load_cgroup_of(v1, "2:memory:/m\n1:cpu:/kapsel/c1\n0::/\n"));
    EXPECT_EQ(std::nullopt, load_cgroup_of(v1, "1:cpu:/../../etc\n"));
    EXPECT_EQ(std::nullopt, load_cgroup_of(v1, "2:memory:/m\n"));
}

}  // namespace
}  // namespace kapsel::procfs
