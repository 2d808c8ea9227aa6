// Checkpoint/restore of `kapsel run IMAGE` containers with the container-aware procfs
// (issue 14): CRIU restores kapsel's procfs seccomp filter without its listener, so
// restore first makes that filter allow everything. After a restore sysinfo(2) and
// sched_getaffinity(2) work (with the host's numbers) instead of failing with ENOSYS.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace kapsel::test {
namespace {

namespace fsys = std::filesystem;
using namespace std::chrono_literals;

// Each round prints busybox free's Mem: line (sysinfo) and nproc (sched_getaffinity).
constexpr const char* kSizer =
    "while true; do free -m | grep Mem: ; echo nproc $(nproc); sleep 0.1; done";

class CheckpointProcfs : public ImageStoreTest {
  protected:
    void SetUp() override {
        ImageStoreTest::SetUp();
        if (IsSkipped()) return;
        REQUIRE_PATH("/dev/fuse", "the procfs service needs FUSE");
        const char* criu = "/opt/kapsel-criu/bin/criu";
        if (access(criu, X_OK) != 0)
            GTEST_SKIP() << "skipped: CRIU is missing (" << criu
                         << "; scripts/install-criu installs it)";
        Output check = run_program({criu, "check"});
        if (check.code != 0) GTEST_SKIP() << "skipped: `criu check` fails on this kernel: " << check.err;
    }
    std::string images() { return root() + "/ck"; }
    std::string seccomp_img() {
        std::ifstream f(images() + "/seccomp.img", std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(f), {});
    }
    // What the container's rounds printed, from the log's line `from` on.
    struct Sizes {
        std::vector<long> mem_totals, nprocs;
        size_t lines = 0;
    };
    Sizes sizes(size_t from = 0) {
        Sizes s;
        std::istringstream is(k({"logs", "c1"}).out);
        for (std::string line; std::getline(is, line); ++s.lines) {
            if (s.lines < from) continue;
            std::istringstream ls(line);
            std::string key;
            long value = -1;
            ls >> key >> value;
            if (key == "Mem:") s.mem_totals.push_back(value);
            if (key == "nproc") s.nprocs.push_back(value);
        }
        return s;
    }
    Sizes wait_for_rounds(size_t from, size_t rounds) {
        Sizes s;
        for (auto until = std::chrono::steady_clock::now() + 20s;
             std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(50ms)) {
            s = sizes(from);
            if (s.mem_totals.size() >= rounds && s.nprocs.size() >= rounds) break;
        }
        return s;
    }
    static long host_mem_mib() {
        std::ifstream f("/proc/meminfo");
        std::string key;
        long kb = 0;
        f >> key >> kb;
        return kb / 1024;
    }
};

TEST_F(CheckpointProcfs, SysinfoAndAffinityWorkAfterARestore) {
    ASSERT_EQ(0, k({"run", "-d", "--name", "c1", "--memory", "256m", "--cpus", "1", kImage, "sh",
                    "-c", kSizer})
                     .code);
    Sizes before = wait_for_rounds(0, 3);
    ASSERT_GE(before.mem_totals.size(), 3u) << k({"logs", "c1"}).out;
    EXPECT_EQ(256, before.mem_totals[0]) << "the procfs service answers sysinfo before the dump";
    EXPECT_EQ(1, before.nprocs[0]);

    Output ck = k({"checkpoint", "--image-path", images(), "c1"});
    ASSERT_EQ(0, ck.code) << ck.err;
    ASSERT_TRUE(wait_for_status("c1", "checkpointed")) << status_of("c1");
    std::string dumped = seccomp_img();
    ASSERT_FALSE(dumped.empty()) << "CRIU dumped the container's seccomp filters";
    size_t at_dump = sizes().lines;

    Output rs = k({"restore", "c1"});
    ASSERT_EQ(0, rs.code) << rs.err;
    EXPECT_EQ("running", status_of("c1"));
    Sizes after = wait_for_rounds(at_dump, 3);
    ASSERT_GE(after.mem_totals.size(), 3u) << k({"logs", "c1"}).out;
    // Without a listener the calls failed with ENOSYS, and busybox printed whatever its
    // buffer held (17592186041662 MiB); now they are the host's.
    for (long total : after.mem_totals) {
        EXPECT_GT(total, 0);
        EXPECT_LE(total, host_mem_mib() + 1);
    }
    for (long n : after.nprocs) {
        EXPECT_GE(n, 1);
        EXPECT_LE(n, sysconf(_SC_NPROCESSORS_CONF));
    }
    // The /proc files are still the container's (bind mounts from the service), and a
    // process exec'd into the restored container gets a filter and listener of its own.
    Output e = k({"exec", "c1", "sh", "-c", "grep MemTotal /proc/meminfo; free -m | grep Mem:"});
    EXPECT_EQ(0, e.code) << e.err;
    EXPECT_NE(std::string::npos, e.out.find("MemTotal:         262144 kB")) << e.out;
    std::istringstream exec_free(e.out.substr(e.out.find('\n') + 1));
    std::string key;
    long exec_total = 0;
    exec_free >> key >> exec_total;
    EXPECT_EQ(256, exec_total) << e.out;

    // The rewritten image replaced the original in one rename: nothing else is left.
    EXPECT_TRUE(dumped != seccomp_img()) << "kapsel's filter was rewritten";
    EXPECT_FALSE(fsys::exists(images() + "/seccomp.img.kapsel-new"));
}

TEST_F(CheckpointProcfs, WithoutTheProcfsTheSeccompImageIsRestoredAsDumped) {
    ASSERT_EQ(0, k({"run", "-d", "--name", "c1", "--procfs=false", kImage, "sh", "-c", kSizer}).code);
    ASSERT_GE(wait_for_rounds(0, 1).mem_totals.size(), 1u);
    Output ck = k({"checkpoint", "--image-path", images(), "c1"});
    ASSERT_EQ(0, ck.code) << ck.err;
    ASSERT_TRUE(wait_for_status("c1", "checkpointed")) << status_of("c1");
    std::string dumped = seccomp_img();
    ASSERT_FALSE(dumped.empty()) << "the default profile's filter is dumped";
    Output rs = k({"restore", "c1"});
    ASSERT_EQ(0, rs.code) << rs.err;
    EXPECT_TRUE(dumped == seccomp_img()) << "seccomp.img was changed";
}

TEST_F(CheckpointProcfs, AMalformedSeccompImageIsOneClearErrorAndChangesNothing) {
    ASSERT_EQ(0, k({"run", "-d", "--name", "c1", kImage, "sh", "-c", kSizer}).code);
    ASSERT_GE(wait_for_rounds(0, 1).mem_totals.size(), 1u);
    Output ck = k({"checkpoint", "--image-path", images(), "c1"});
    ASSERT_EQ(0, ck.code) << ck.err;
    ASSERT_TRUE(wait_for_status("c1", "checkpointed")) << status_of("c1");
    // An entry that claims more bytes than the file has.
    std::string bad = seccomp_img().substr(0, 8) + std::string("\xff\xff\xff\x7f", 4) + "x";
    std::ofstream(images() + "/seccomp.img", std::ios::binary | std::ios::trunc) << bad;
    Output rs = k({"restore", "c1"});
    EXPECT_NE(0, rs.code);
    EXPECT_NE(std::string::npos,
              rs.err.find(images() + "/seccomp.img: seccomp image: entry 0 at byte 8: size "
                                     "2147483647 is past the end of the file"))
        << rs.err;
    EXPECT_EQ(1, std::count(rs.err.begin(), rs.err.end(), '\n')) << rs.err;
    EXPECT_TRUE(bad == seccomp_img()) << "seccomp.img was changed";
    EXPECT_EQ("checkpointed", status_of("c1")) << "the container waits for a good checkpoint";
}

}  // namespace
}  // namespace kapsel::test
