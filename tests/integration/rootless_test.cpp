// The low-level runtime run by an ordinary user, as `runc --rootless` is: a bundle
// of `kapsel spec --rootless`, the user's own id or its subordinate ranges mapped,
// state under XDG_RUNTIME_DIR, and no cgroup unless one is delegated to the user.
// The user exists only for the test (as_user.hpp).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "as_user.hpp"
#include "harness.hpp"

namespace kapsel::test {
namespace {

int lines_of(const std::string& text) {
    int n = 0;
    std::istringstream is(text);
    for (std::string line; std::getline(is, line);) n += !line.empty();
    return n;
}

class Rootless : public ::testing::Test {
  protected:
    void SetUp() override {
        REQUIRE_ROOT();
        if (access(fixture_rootfs().c_str(), F_OK) != 0)
            GTEST_SKIP() << "skipped: fixture rootfs " << fixture_rootfs() << " is missing";
        for (auto tool : {"/usr/bin/setpriv", "/usr/bin/unshare"})
            if (access(tool, X_OK) != 0)
                GTEST_SKIP() << "skipped: " << tool << " is missing (util-linux)";
        user_ = std::make_unique<AsUser>();
    }
    void TearDown() override {
        if (!user_) return;
        // Whatever the test left, under the default root, goes as the user made it.
        std::istringstream ids(user_->kapsel({"list", "-q"}).out);
        for (std::string id; std::getline(ids, id);)
            if (!id.empty()) user_->kapsel({"delete", "--force", id});
    }
    bool have_newuidmap() const {
        return access("/usr/bin/newuidmap", X_OK) == 0 && access("/usr/bin/newgidmap", X_OK) == 0;
    }
    std::string state_root() const { return user_->runtime_dir() + "/kapsel"; }
    std::unique_ptr<AsUser> user_;
};

TEST_F(Rootless, SpecRootlessBundleRunsAsRootInsideAndWritesAsTheUser) {
    std::string out = user_->make_dir("out");
    UserBundle b(*user_, "id -u; cat /proc/self/uid_map; echo hello > /out/made");
    b.bind(out, "/out");
    b.write();
    Output o = user_->kapsel({"run", "--bundle", b.dir(), "c1"});
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_EQ("", o.err) << "a config without resources runs without a warning";
    std::istringstream is(o.out);
    std::string id, map;
    std::getline(is, id);
    std::getline(is, map);
    EXPECT_EQ("0", id);
    std::istringstream m(map);
    uint64_t inside = 9, outside = 9, count = 9;
    m >> inside >> outside >> count;
    EXPECT_EQ(0u, inside);
    EXPECT_EQ(AsUser::kUid, outside);
    EXPECT_EQ(1u, count);
    struct stat st {};
    ASSERT_EQ(0, ::stat((out + "/made").c_str(), &st));
    EXPECT_EQ(AsUser::kUid, st.st_uid) << "root inside is the user on the host";
    EXPECT_EQ(AsUser::kGid, st.st_gid);
}

TEST_F(Rootless, SubordinateIdsMapThroughNewuidmap) {
    if (!have_newuidmap())
        GTEST_SKIP() << "skipped: newuidmap/newgidmap are missing (package uidmap)";
    std::string out = user_->make_dir("out", 0777);
    UserBundle b(*user_,
                 "touch /out/f && chown 33:33 /out/f && cat /proc/self/uid_map /proc/self/gid_map");
    b.map_subordinate_ids();
    b.bind(out, "/out");
    for (auto set : {"bounding", "effective", "permitted"})
        b.config["process"]["capabilities"][set].push_back("CAP_CHOWN");
    b.write();
    Output o = user_->kapsel({"run", "--bundle", b.dir(), "c1"});
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_NE(std::string::npos, o.out.find(std::to_string(AsUser::kSubStart + 1))) << o.out;
    struct stat st {};
    ASSERT_EQ(0, ::stat((out + "/f").c_str(), &st));
    EXPECT_EQ(AsUser::kSubStart + 33, st.st_uid) << "uid 33 inside is subordinate id 200033";
    EXPECT_EQ(AsUser::kSubStart + 33, st.st_gid);
}

TEST_F(Rootless, AMapOutsideTheUsersRangesIsRefusedAndLeavesNothing) {
    UserBundle b(*user_, "true");
    b.map_subordinate_ids();
    b.config["linux"]["uidMappings"][1]["hostID"] = 300000;
    b.write();
    Output o = user_->kapsel({"run", "--bundle", b.dir(), "c1"});
    EXPECT_NE(0, o.code);
    EXPECT_EQ(1, lines_of(o.err)) << o.err;
    EXPECT_NE(std::string::npos,
              o.err.find("linux.uidMappings: host ids 300000-365534 are not yours"))
        << o.err;
    EXPECT_NE(std::string::npos, o.err.find("/etc/subuid gives kapseltest 200000-265535")) << o.err;
    EXPECT_FALSE(std::filesystem::exists(state_root() + "/c1")) << "no state dir left behind";
}

TEST_F(Rootless, CreateStartExecKillDeleteWithTheDefaultStateRoot) {
    UserBundle b(*user_, "sleep 1000");
    b.write();
    Output c = user_->kapsel({"create", "--bundle", b.dir(), "c1"});
    ASSERT_EQ(0, c.code) << c.err;
    struct stat st {};
    ASSERT_EQ(0, ::stat(state_root().c_str(), &st)) << "state under $XDG_RUNTIME_DIR/kapsel";
    EXPECT_EQ(0700u, st.st_mode & 07777);
    EXPECT_EQ(AsUser::kUid, st.st_uid);
    ASSERT_EQ(0, ::stat((state_root() + "/c1").c_str(), &st));
    EXPECT_EQ(0700u, st.st_mode & 07777) << "no other user reads a container's state";

    Output s = user_->kapsel({"state", "c1"});
    ASSERT_EQ(0, s.code) << s.err;
    EXPECT_EQ("created", json::parse(s.out)["status"]);
    ASSERT_EQ(0, user_->kapsel({"start", "c1"}).code);
    EXPECT_EQ("running", json::parse(user_->kapsel({"state", "c1"}).out)["status"]);
    Output e =
        user_->kapsel({"exec", "c1", "sh", "-c", "id -u; grep NoNewPrivs /proc/self/status"});
    ASSERT_EQ(0, e.code) << e.err;
    EXPECT_NE(std::string::npos, e.out.find("0\n")) << e.out;
    EXPECT_NE(std::string::npos, e.out.find("NoNewPrivs:\t1")) << e.out;
    Output l = user_->kapsel({"list", "-q"});
    EXPECT_EQ("c1\n", l.out);
    // No cgroup of its own here: ps finds its processes through its pid namespace, and
    // what needs a cgroup says so in one line.
    int init = json::parse(user_->kapsel({"state", "c1"}).out)["pid"];
    Output ps = user_->kapsel({"ps", "--format", "json", "c1"});
    ASSERT_EQ(0, ps.code) << ps.err;
    EXPECT_EQ(json::array({init}), json::parse(ps.out));
    if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) != 0) {
        for (auto args : {std::vector<std::string>{"update", "--memory", "64m", "c1"},
                          std::vector<std::string>{"pause", "c1"}}) {
            Output refused = user_->kapsel(args);
            EXPECT_NE(0, refused.code);
            EXPECT_EQ(1, lines_of(refused.err)) << refused.err;
            EXPECT_NE(std::string::npos, refused.err.find("no cgroup of its own")) << refused.err;
        }
    }
    Output k = user_->kapsel({"kill", "--all", "c1", "KILL"});
    ASSERT_EQ(0, k.code) << k.err;
    Output d = user_->kapsel({"delete", "c1"});
    for (int i = 0; i < 50 && d.code != 0; ++i) {
        ::usleep(100000);
        d = user_->kapsel({"delete", "c1"});
    }
    ASSERT_EQ(0, d.code) << d.err;
    EXPECT_FALSE(std::filesystem::exists(state_root() + "/c1"));
}

TEST_F(Rootless, WithoutXdgRuntimeDirTheStateRootIsAPrivateDirectoryInTmp) {
    std::string root = "/tmp/kapsel-" + std::to_string(AsUser::kUid);
    std::filesystem::remove_all(root);
    UserBundle b(*user_, "true");
    b.write();
    Output o = user_->kapsel({"run", "--bundle", b.dir(), "c1"}, {"XDG_RUNTIME_DIR="});
    EXPECT_EQ(0, o.code) << o.err;
    struct stat st {};
    ASSERT_EQ(0, ::lstat(root.c_str(), &st));
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(0700u, st.st_mode & 07777);
    EXPECT_EQ(AsUser::kUid, st.st_uid);
    std::filesystem::remove_all(root);

    // Anyone may make /tmp/kapsel-UID first: a link to somewhere else is refused.
    std::filesystem::create_directory_symlink(user_->home(), root);
    o = user_->kapsel({"run", "--bundle", b.dir(), "c1"}, {"XDG_RUNTIME_DIR="});
    EXPECT_NE(0, o.code);
    EXPECT_EQ(1, lines_of(o.err)) << o.err;
    EXPECT_NE(std::string::npos, o.err.find("is not a directory of its own")) << o.err;
    std::filesystem::remove(root);
}

TEST_F(Rootless, AStateRootOfAnotherUserIsRefused) {
    TempDir roots;  // root's
    UserBundle b(*user_, "true");
    b.write();
    Output o = user_->kapsel({"--root", roots.path(), "run", "--bundle", b.dir(), "c1"});
    EXPECT_NE(0, o.code);
    EXPECT_EQ(1, lines_of(o.err)) << o.err;
    EXPECT_NE(std::string::npos, o.err.find("belongs to uid 0, not to you (uid 41000)")) << o.err;
    EXPECT_TRUE(std::filesystem::is_empty(roots.path()));
    // list and state too: nothing of another user's state is read.
    EXPECT_NE(0, user_->kapsel({"--root", roots.path(), "list"}).code);
}

TEST_F(Rootless, NoDeviceNodesAndNoNewPrivileges) {
    std::string out = user_->make_dir("out");
    UserBundle b(*user_,
                 "mknod /out/null c 1 3 && echo made; test -c /dev/null && echo null; "
                 "grep NoNewPrivs /proc/self/status");
    b.bind(out, "/out");
    b.write();
    Output o = user_->kapsel({"run", "--bundle", b.dir(), "c1"});
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_EQ(std::string::npos, o.out.find("made")) << "mknod is refused in a user namespace";
    EXPECT_FALSE(std::filesystem::exists(out + "/null"));
    EXPECT_NE(std::string::npos, o.out.find("null")) << "the host's /dev/null is bound";
    EXPECT_NE(std::string::npos, o.out.find("NoNewPrivs:\t1")) << o.out;
}

TEST_F(Rootless, SysfsWithoutANetworkNamespaceIsTheHostsBound) {
    UserBundle b(*user_, "test -d /sys/kernel && echo sys; touch /sys/x || echo ro");
    // The kernel refuses sysfs in a user namespace without a network namespace of the
    // user's: the host's is bound instead (read-only, as asked), as runc does.
    b.drop_namespace("network");
    auto& mounts = b.config["mounts"];
    for (auto it = mounts.begin(); it != mounts.end();)
        it = (*it)["destination"] == "/sys" ? mounts.erase(it) : it + 1;
    mounts.push_back({{"destination", "/sys"},
                      {"type", "sysfs"},
                      {"source", "sysfs"},
                      {"options", {"nosuid", "noexec", "nodev", "ro"}}});
    b.write();
    Output o = user_->kapsel({"run", "--bundle", b.dir(), "c1"});
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_EQ("sys\nro\n", o.out);
}

// On this hybrid host for want of cgroup v2; in the qemu guest's pure v2 for want of a
// delegated subtree (the user runs in root's cgroup there).
TEST_F(Rootless, LimitsWithoutACgroupAreNamedInOneWarning) {
    UserBundle b(*user_, "echo ran");
    b.config["linux"]["resources"] = {{"memory", {{"limit", 64 << 20}}}};
    b.write();
    Output o = user_->kapsel({"run", "--bundle", b.dir(), "c1"});
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_EQ("ran\n", o.out);
    EXPECT_EQ(1, lines_of(o.err)) << o.err;
    EXPECT_NE(std::string::npos, o.err.find("warning")) << o.err;
    EXPECT_NE(std::string::npos, o.err.find("linux.resources.memory")) << o.err;
    EXPECT_EQ(std::string::npos, o.err.find("pids")) << "only what the config asked for";
}

// podman as the same user, with kapsel as its OCI runtime: podman runs it as root of
// its own user namespace (the user's id and its subordinate ranges), with no cgroup on
// this host's v1 controllers. The network is none: pasta/slirp4netns need /dev/net/tun.
TEST_F(Rootless, PodmanAsTheUserRunsAndExecsWithKapselAsItsRuntime) {
    if (access("/usr/bin/podman", X_OK) != 0) GTEST_SKIP() << "skipped: podman is not installed";
    if (access("/etc/containers/policy.json", R_OK) != 0)
        GTEST_SKIP() << "skipped: podman has no /etc/containers/policy.json here";
    if (!have_newuidmap())
        GTEST_SKIP() << "skipped: podman rootless needs newuidmap (package uidmap)";
    std::string archive = std::string(KAPSEL_TEST_IMAGES) + "/docker-archive.tar";
    if (access(archive.c_str(), R_OK) != 0) GTEST_SKIP() << "skipped: " << archive << " is missing";
    std::string image_dir = user_->make_dir("image", 0755);
    ASSERT_EQ(0, run_program({"/bin/cp", archive, image_dir + "/busybox.tar"}).code);
    ::chmod((image_dir + "/busybox.tar").c_str(), 0644);
    std::vector<std::string> env{"XDG_CONFIG_HOME=" + user_->home() + "/.config",
                                 "XDG_DATA_HOME=" + user_->home() + "/.local/share"};
    auto podman = [&](std::vector<std::string> args) {
        std::vector<std::string> argv{"/usr/bin/podman", "--storage-driver", "vfs", "--runtime",
                                      kapsel_binary()};
        argv.insert(argv.end(), args.begin(), args.end());
        return user_->run(argv, env, "", 120000);
    };
    Output info = podman({"info", "--format", "{{.Host.Security.Rootless}}"});
    if (info.code != 0 || info.out.find("true") == std::string::npos)
        GTEST_SKIP() << "skipped: podman cannot run rootless here: "
                     << info.err.substr(0, info.err.find('\n'));
    Output load = podman({"load", "-i", image_dir + "/busybox.tar"});
    ASSERT_EQ(0, load.code) << load.err;

    Output run = podman({"run", "--rm", "--network", "none", "localhost/kapsel-busybox:latest",
                         "sh", "-c", "id -u; true"});
    ASSERT_EQ(0, run.code) << run.err;
    EXPECT_EQ("0\n", run.out);

    Output d = podman({"run", "-d", "--name", "t1", "--network", "none",
                       "localhost/kapsel-busybox:latest", "sleep", "1000"});
    ASSERT_EQ(0, d.code) << d.err;
    Output e = podman({"exec", "t1", "sh", "-c", "echo from exec"});
    EXPECT_EQ(0, e.code) << e.err;
    EXPECT_EQ("from exec\n", e.out);
    Output rm = podman({"rm", "-f", "-t", "0", "t1"});
    EXPECT_EQ(0, rm.code) << rm.err;
}

// Pure cgroup v2 with a subtree delegated to the user (what systemd's Delegate= gives):
// the limits apply. In the qemu guest (scripts/qemu-cgroup2-tests BUILD 'Rootless*').
TEST(RootlessV2, ADelegatedSubtreeGetsTheContainersCgroupAndLimits) {
    REQUIRE_ROOT();
    if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) != 0)
        GTEST_SKIP() << "skipped: needs a pure cgroup v2 host (scripts/qemu-cgroup2-tests)";
    AsUser user;
    std::string deleg = "/sys/fs/cgroup/kapsel-rootless-" + std::to_string(::getpid());
    ASSERT_EQ(0, ::mkdir(deleg.c_str(), 0755));
    std::string leaf = deleg + "/leaf";
    ASSERT_EQ(0, ::mkdir(leaf.c_str(), 0755));
    { std::ofstream(deleg + "/cgroup.subtree_control") << "+memory +pids"; }
    // Delegation as systemd does it: the directory and its process files the user's.
    for (auto f : {deleg, deleg + "/cgroup.procs", deleg + "/cgroup.subtree_control",
                   deleg + "/cgroup.threads", leaf, leaf + "/cgroup.procs"})
        ASSERT_EQ(0, ::chown(f.c_str(), AsUser::kUid, AsUser::kGid)) << f;
    user.cgroup = leaf;
    UserBundle b(user, "sleep 1000");
    b.config["linux"]["cgroupsPath"] = deleg.substr(std::string("/sys/fs/cgroup").size()) + "/c1";
    b.config["linux"]["resources"] = {{"memory", {{"limit", 64 << 20}}}, {"pids", {{"limit", 50}}}};
    b.write();
    Output c = user.kapsel({"create", "--bundle", b.dir(), "c1"});
    EXPECT_EQ(0, c.code) << c.err;
    EXPECT_EQ("", c.err) << "no warning: the limits apply";
    std::ifstream mem(deleg + "/c1/memory.max"), pids(deleg + "/c1/pids.max");
    std::string m, p;
    mem >> m;
    pids >> p;
    EXPECT_EQ(std::to_string(64 << 20), m);
    EXPECT_EQ("50", p);
    Output d = user.kapsel({"delete", "--force", "c1"});
    EXPECT_EQ(0, d.code) << d.err;
    EXPECT_FALSE(std::filesystem::exists(deleg + "/c1"));
    // The test's own processes are gone; its cgroups go with them.
    for (int i = 0; i < 50 && ::rmdir(leaf.c_str()) != 0; ++i) ::usleep(100000);
    ::rmdir(deleg.c_str());
}

}  // namespace
}  // namespace kapsel::test
