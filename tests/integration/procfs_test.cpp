// procfs/limits on the real kernel: what limits_of reads for a running container is
// what it was given (issue 14), on this host's layout (hybrid here, pure v2 in the
// qemu guest: scripts/qemu-cgroup2-tests build 'Procfs*').
#include <gtest/gtest.h>

#include <vector>

#include "harness.hpp"
#include "procfs/limits.hpp"

namespace kapsel::test {
namespace {

class Procfs : public ImageStoreTest {};

TEST_F(Procfs, ARunContainersMemoryAndCpuLimitsAreRead) {
    Output run = k({"run", "-d", "--rm", "-m", "256m", "--cpus", "1", "--name", "limited", kImage,
                    "sleep", "100"});
    ASSERT_EQ(0, run.code) << run.err;
    Output st = k({"state", "limited"});
    ASSERT_EQ(0, st.code) << st.err;
    int pid = json::parse(st.out).value("pid", 0);
    ASSERT_GT(pid, 0) << st.out;

    auto limits = procfs::limits_of(pid);
    ASSERT_TRUE(limits) << limits.error().message;
    EXPECT_EQ(uint64_t(256) << 20, limits->memory_limit);
    EXPECT_GT(limits->memory_usage, 0u) << "the container's sleep is charged to it";
    ASSERT_TRUE(limits->cpu_quota);
    EXPECT_DOUBLE_EQ(1.0, *limits->cpu_quota);

    auto age = procfs::process_age(pid);
    ASSERT_TRUE(age) << age.error().message;
    EXPECT_GE(*age, 0.0);
    EXPECT_LT(*age, 30.0);
}

TEST_F(Procfs, ACpusetLimitedContainerHasItsCpus) {
    Bundle b("sleep 100");
    b.config["linux"]["resources"] = {{"cpu", {{"cpus", "0"}, {"mems", "0"}}}};
    b.write();
    Output c = kapsel({"create", "--bundle", b.dir(), "c1"});
    ASSERT_EQ(0, c.code) << c.err;
    int pid = state("c1").value("pid", 0);
    ASSERT_GT(pid, 0);

    auto limits = procfs::limits_of(pid);
    EXPECT_TRUE(limits) << limits.error().message;
    if (limits) {
        EXPECT_EQ(std::vector<unsigned>{0}, limits->cpuset);
        EXPECT_EQ(std::nullopt, limits->cpu_quota);
        EXPECT_EQ(std::nullopt, limits->memory_limit);
    }
    EXPECT_EQ(0, kapsel({"delete", "-f", "c1"}).code);
}

}  // namespace
}  // namespace kapsel::test
