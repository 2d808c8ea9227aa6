// `kapsel run --storage-opt size=`: a container's writable layer limited with the
// project quotas of the store's file system, or refused where there are none.
#include <fcntl.h>
#include <linux/dqblk_xfs.h>
#include <linux/quota.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>

#include "harness.hpp"

namespace kapsel::test {
namespace {

namespace fsys = std::filesystem;
const std::string kImage = "localhost/kapsel-busybox:latest";

// Whether the file system of `dir` enforces project quotas.
bool enforces_project_quotas(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return false;
    fs_quota_stat st{};
    bool on = ::syscall(SYS_quotactl_fd, fd, QCMD(Q_XGETQSTAT, PRJQUOTA), 0, &st) == 0 &&
              (st.qs_flags & FS_QUOTA_PDQ_ENFD);
    ::close(fd);
    return on;
}

class StorageLimit : public KapselTest {
  protected:
    void SetUp() override {
        KapselTest::SetUp();
        REQUIRE_ROOT();
    }
    Output k(const std::string& store, std::vector<std::string> args) {
        args.insert(args.begin(), {"--storage-root", store});
        return kapsel(args);
    }
    void load(const std::string& store) {
        Output o = k(store, {"load", "-q", "-i", std::string(KAPSEL_TEST_IMAGES) + "/docker-archive.tar"});
        ASSERT_EQ(0, o.code) << o.err;
    }
};

// A limit that the file system would not keep is an error, not a silent no-op, and
// leaves no container behind.
TEST_F(StorageLimit, IsRefusedWhereTheStoresFileSystemHasNoProjectQuotas) {
    std::string store = root() + "/store";
    load(store);
    if (enforces_project_quotas(store))
        GTEST_SKIP() << "skipped: this store's file system enforces project quotas";
    Output o = k(store, {"run", "--rm", "--storage-opt", "size=10m", kImage, "true"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos,
              o.err.find("kapsel: --storage-opt size needs project quotas on the file system of " + store))
        << o.err;
    EXPECT_EQ(1, std::count(o.err.begin(), o.err.end(), '\n')) << o.err;
    EXPECT_TRUE(fsys::is_empty(store + "/containers")) << "a container was left";
    EXPECT_EQ("[]\n", k(store, {"ps", "-a", "--format", "json"}).out);

    Output bad = k(store, {"run", "--rm", "--storage-opt", "size=lots", kImage, "true"});
    EXPECT_EQ(1, bad.code);
    EXPECT_NE(std::string::npos, bad.err.find("--storage-opt size: \"lots\" is not a size above 0"))
        << bad.err;
    Output other = k(store, {"run", "--rm", "--storage-opt", "dm.basesize=1g", kImage, "true"});
    EXPECT_EQ(1, other.code);
    EXPECT_NE(std::string::npos, other.err.find("--storage-opt \"dm.basesize=1g\" is not supported"))
        << other.err;
}

// On an ext4 with project quotas (a loop file made for the test), the container can
// write up to its limit and no further; removing it lifts the limit.
TEST_F(StorageLimit, LimitsTheWritableLayer) {
    std::string img = root() + "/fs.img", mnt = root() + "/mnt";
    fsys::create_directories(mnt);
    ASSERT_EQ(0, run_program({"/usr/bin/truncate", "-s", "128M", img}).code);
    Output mkfs = run_program({"/usr/sbin/mkfs.ext4", "-q", "-F", "-O", "quota,project", img});
    if (mkfs.code != 0) GTEST_SKIP() << "skipped: mkfs.ext4 -O quota,project failed: " << mkfs.err;
    Output m = run_program({"/usr/bin/mount", "-o", "loop,prjquota", img, mnt});
    if (m.code != 0)
        GTEST_SKIP() << "skipped: this kernel cannot mount ext4 with project quotas (it needs "
                        "CONFIG_QUOTA and CONFIG_QFMT_V2): "
                     << m.err;
    std::string store = mnt + "/store";
    load(store);
    ASSERT_TRUE(enforces_project_quotas(store));

    Output small = k(store, {"run", "--rm", "--storage-opt", "size=4m", kImage, "sh", "-c",
                             "dd if=/dev/zero of=/half bs=64k count=32 2>&1 && echo wrote"});
    EXPECT_EQ(0, small.code) << small.err;
    EXPECT_NE(std::string::npos, small.out.find("wrote")) << small.out;

    Output big = k(store, {"run", "--name", "big", "--storage-opt", "size=4m", kImage, "sh", "-c",
                           "dd if=/dev/zero of=/big bs=64k count=160 2>&1; echo rc=$?"});
    EXPECT_NE(std::string::npos, big.out.find("Disk quota exceeded")) << big.out << big.err;
    EXPECT_EQ(std::string::npos, big.out.find("rc=0")) << big.out;
    json meta = json::parse(k(store, {"inspect", "big"}).out)[0]["Container"];
    uint32_t project = meta["quota_project"];
    EXPECT_LE(fsys::file_size(store + "/containers/" + std::string(meta["id"]) + "/upper/big"),
              4u << 20);

    int fd = ::open(store.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if_dqblk q{};
    ASSERT_EQ(0, ::syscall(SYS_quotactl_fd, fd, QCMD(Q_GETQUOTA, PRJQUOTA), project, &q));
    EXPECT_EQ(4096u, q.dqb_bhardlimit);
    ASSERT_EQ(0, k(store, {"rm", "-f", "big"}).code);
    q = {};
    ASSERT_EQ(0, ::syscall(SYS_quotactl_fd, fd, QCMD(Q_GETQUOTA, PRJQUOTA), project, &q));
    EXPECT_EQ(0u, q.dqb_bhardlimit) << "the limit outlived its container";
    // The upper dir's files are freed once the last overlay reference to them (the
    // container's mount namespace, torn down after it exits) is gone.
    for (int i = 0; i < 100 && q.dqb_curspace != 0; ++i) {
        ::usleep(50000);
        ASSERT_EQ(0, ::syscall(SYS_quotactl_fd, fd, QCMD(Q_GETQUOTA, PRJQUOTA), project, &q));
    }
    EXPECT_EQ(0u, q.dqb_curspace);
    ::close(fd);
}

}  // namespace
}  // namespace kapsel::test
