// A container whose cgroupsPath names a cgroup that already exists: a frozen one
// (or one below a frozen parent) is refused with runc's text instead of a create
// that waits forever for its frozen init; a non-empty one gets runc 1.1's warning.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "harness.hpp"

namespace kapsel::test {
namespace {

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream f(path);
    f << text;
    return static_cast<bool>(f.flush());
}

// The hierarchy that can freeze a cgroup: the v1 freezer, or a cgroup2 mount (the
// whole tree on a pure v2 host, the "unified" one on a hybrid host).
struct Freezer {
    std::string mount, file, frozen, thawed;
};

std::vector<Freezer> freezers() {
    std::vector<Freezer> out;
    if (access("/sys/fs/cgroup/freezer/freezer.state", F_OK) == 0 ||
        access("/sys/fs/cgroup/freezer/tasks", F_OK) == 0)
        out.push_back({"/sys/fs/cgroup/freezer", "freezer.state", "FROZEN", "THAWED"});
    if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
        out.push_back({"/sys/fs/cgroup", "cgroup.freeze", "1", "0"});
    else if (access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0)
        out.push_back({"/sys/fs/cgroup/unified", "cgroup.freeze", "1", "0"});
    return out;
}

class ExistingCgroup : public KapselTest {
  protected:
    void TearDown() override {
        KapselTest::TearDown();
        // Thaw first: a frozen cgroup's processes cannot die, and its directory stays.
        for (auto& f : freezers()) {
            write_file(f.mount + name_ + "/" + f.file, f.thawed);
            rmdir((f.mount + name_ + "/c1").c_str());
        }
        for (const char* h : {"freezer", "unified", "pids", "memory", "cpu", "cpuacct", "cpuset",
                              "devices", "blkio", "systemd", "net_cls", "net_prio", "hugetlb",
                              "perf_event", "rdma", "misc", ""}) {
            std::string base = std::string("/sys/fs/cgroup/") + h + name_;
            rmdir((base + "/c1").c_str());
            rmdir(base.c_str());
        }
    }
    // A cgroup path of this test's own, absolute so it is the same in every hierarchy.
    std::string name_ = "/kapsel-test-existing-" + std::to_string(getpid());
};

TEST_F(ExistingCgroup, CreateIntoAFrozenCgroupIsRefused) {
    auto all = freezers();
    if (all.empty()) GTEST_SKIP() << "skipped: no freezer on this host (v1 freezer or cgroup2)";
    for (auto& f : all) {
        SCOPED_TRACE(f.mount);
        std::string dir = f.mount + name_;
        ASSERT_TRUE(mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST);
        ASSERT_TRUE(write_file(dir + "/" + f.file, f.frozen));
        Bundle b("echo ran");
        b.config["linux"]["cgroupsPath"] = name_;
        b.write();
        // Before the fix the init froze on its first instruction and create never returned.
        Output o = kapsel({"create", "--bundle", b.dir(), "c1"}, "", 15000);
        EXPECT_EQ(1, o.code) << o.err;
        EXPECT_NE(std::string::npos, o.err.find("container's cgroup unexpectedly frozen")) << o.err;
        EXPECT_NE(std::string::npos, o.err.find(dir + "/" + f.file)) << o.err;
        expect_nothing_left("c1", b);
        struct stat st;
        EXPECT_EQ(0, stat(dir.c_str(), &st)) << "the cgroup that was there before must stay";
        write_file(dir + "/" + f.file, f.thawed);
    }
}

TEST_F(ExistingCgroup, CreateBelowAFrozenParentIsRefused) {
    auto all = freezers();
    if (all.empty()) GTEST_SKIP() << "skipped: no freezer on this host (v1 freezer or cgroup2)";
    for (auto& f : all) {
        SCOPED_TRACE(f.mount);
        std::string parent = f.mount + name_;
        ASSERT_TRUE(mkdir(parent.c_str(), 0755) == 0 || errno == EEXIST);
        ASSERT_TRUE(write_file(parent + "/" + f.file, f.frozen));
        Bundle b("echo ran");
        b.config["linux"]["cgroupsPath"] = name_ + "/c1";
        b.write();
        Output o = kapsel({"create", "--bundle", b.dir(), "c1"}, "", 15000);
        EXPECT_EQ(1, o.code) << o.err;
        EXPECT_NE(std::string::npos, o.err.find("container's cgroup unexpectedly frozen")) << o.err;
        struct stat st;
        EXPECT_NE(0, stat((parent + "/c1").c_str(), &st)) << "the cgroup create made must go";
        write_file(parent + "/" + f.file, f.thawed);
    }
}

TEST_F(ExistingCgroup, CreateIntoACgroupWithProcessesWarnsAsRunc) {
    // A container that shares another's cgroup (its path given twice).
    Bundle first("sleep 30");
    first.config["linux"]["cgroupsPath"] = name_;
    first.write();
    ASSERT_EQ(0, kapsel({"create", "--bundle", first.dir(), "c0"}).code);
    Bundle b("echo ran");
    b.config["linux"]["cgroupsPath"] = name_;
    Output o = run(b, "c1");
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ("ran\n", o.out);
    EXPECT_NE(std::string::npos, o.err.find("container's cgroup is not empty: 1 process(es) found"))
        << o.err;
    // A cgroup of its own says nothing.
    Bundle alone("true");
    Output quiet = run(alone, "c2");
    EXPECT_EQ(0, quiet.code) << quiet.err;
    EXPECT_EQ(std::string::npos, quiet.err.find("not empty")) << quiet.err;
}

}  // namespace
}  // namespace kapsel::test
