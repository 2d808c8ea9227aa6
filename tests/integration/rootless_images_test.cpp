// The image verbs run by an ordinary user (issue 16, part 2): a store of the user's own
// under XDG_DATA_HOME, layers unpacked with their real owners inside podman's mapping
// (0 the user, 1.. its subordinate ids), containers run from them, and what a user may
// not do refused. The user exists only for the test (as_user.hpp).
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "as_user.hpp"
#include "harness.hpp"
#include "registry_support.hpp"

namespace kapsel::test {
namespace {

namespace fsys = std::filesystem;

std::string first_line(const std::string& text) {
    return text.substr(0, text.find('\n'));
}

class RootlessImages : public ::testing::Test {
  protected:
    void SetUp() override {
        REQUIRE_ROOT();
        if (access(fixture_rootfs().c_str(), F_OK) != 0)
            GTEST_SKIP() << "skipped: fixture rootfs " << fixture_rootfs() << " is missing";
        for (auto tool :
             {"/usr/bin/setpriv", "/usr/bin/unshare", "/usr/bin/newuidmap", "/usr/bin/newgidmap"})
            if (access(tool, X_OK) != 0) GTEST_SKIP() << "skipped: " << tool << " is missing";
        user_ = std::make_unique<AsUser>();
        data_ = user_->make_dir("data");
        // Images are made here by root (readable by all) and read by the user.
        images_ = user_->base() + "/images";
        ::mkdir(images_.c_str(), 0755);
    }
    void TearDown() override {
        if (!user_) return;
        std::istringstream ids(k({"ps", "-a", "-q"}).out);
        for (std::string id; std::getline(ids, id);)
            if (!id.empty()) k({"rm", "-f", id});
    }
    // kapsel as the user, with its XDG_DATA_HOME.
    Output k(const std::vector<std::string>& args) const {
        return user_->kapsel(args, {"XDG_DATA_HOME=" + data_});
    }
    std::string store() const { return data_ + "/kapsel"; }
    std::string tools() const { return KAPSEL_TEST_TOOLS; }
    std::string busybox_tar() {
        std::string path = images_ + "/busybox.tar";
        if (access(path.c_str(), F_OK) != 0) {
            EXPECT_EQ(0, run_program({"/bin/tar", "-C", fixture_rootfs(), "-cf", path, "."}).code);
        }
        return path;
    }
    std::string tar(const std::string& name, const json& entries) {
        std::string path = images_ + "/" + name + ".tar";
        Output o = run_program({"/usr/bin/python3", tools() + "/mktar.py", path, entries.dump()});
        EXPECT_EQ(0, o.code) << o.err;
        return path;
    }
    // An OCI layout of the layers (busybox's rootfs first when `with_busybox`), pulled as
    // the user; returns the image's name.
    std::string pull(const std::string& name, std::vector<std::string> layers,
                     bool with_busybox = true) {
        if (with_busybox) layers.insert(layers.begin(), busybox_tar());
        std::string dir = images_ + "/" + name + "-oci", ref = "localhost/" + name + ":latest";
        std::vector<std::string> argv = {"/usr/bin/python3", tools() + "/mkimage.py", dir, ref};
        argv.insert(argv.end(), layers.begin(), layers.end());
        Output m = run_program(argv);
        EXPECT_EQ(0, m.code) << m.err;
        Output o = k({"pull", "-q", "oci:" + dir + ":" + ref});
        EXPECT_EQ(0, o.code) << o.err;
        return ref;
    }
    void load_busybox() {
        Output o = k({"load", "-q", "-i", std::string(KAPSEL_TEST_IMAGES) + "/docker-archive.tar"});
        ASSERT_EQ(0, o.code) << o.err;
    }
    json images() { return json::parse(k({"images", "--format", "json"}).out); }
    std::string layer_dir(const std::string& diff_id) const {
        return store() + "/layers/" + diff_id.substr(7);
    }

    std::unique_ptr<AsUser> user_;
    std::string data_, images_;
};

TEST_F(RootlessImages, LoadPutsTheStoreInTheUsersDataHome) {
    load_busybox();
    struct stat st;
    ASSERT_EQ(0, stat(store().c_str(), &st)) << "the store is $XDG_DATA_HOME/kapsel";
    EXPECT_EQ(AsUser::kUid, st.st_uid);
    EXPECT_EQ(0700u, st.st_mode & 07777);
    Output o = k({"images"});
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_NE(std::string::npos, o.out.find("localhost/kapsel-busybox")) << o.out;
    EXPECT_FALSE(fsys::exists(user_->home() + "/.local/share/kapsel")) << "only XDG_DATA_HOME's";
    // Without XDG_DATA_HOME: ~/.local/share/kapsel, as podman.
    Output d = user_->kapsel(
        {"load", "-q", "-i", std::string(KAPSEL_TEST_IMAGES) + "/docker-archive.tar"});
    ASSERT_EQ(0, d.code) << d.err;
    EXPECT_TRUE(fsys::exists(user_->home() + "/.local/share/kapsel/images.json"));
}

TEST_F(RootlessImages, RunIsRootInsideAndFilesKeepTheImagesOwners) {
    std::string ref = pull(
        "owned",
        {tar("owned", {{{"name", "srv"}, {"type", "dir"}, {"uid", 33}, {"gid", 33}},
                       {{"name", "srv/www"}, {"data", "hi"}, {"uid", 33}, {"gid", 33}},
                       {{"name", "etc/shadowish"}, {"data", "s"}, {"mode", 0600}},
                       {{"name", "dev2"}, {"type", "dir"}},
                       {{"name", "dev2/null"}, {"type", "char"}, {"major", 1}, {"minor", 3}}})});
    Output o = k({"run", "--rm", ref, "/bin/sh", "-c",
                  "id -u; stat -c '%u:%g' /srv/www /srv; cat /etc/shadowish; ls /dev2 | wc -l"});
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_EQ("0\n33:33\n33:33\ns0\n", o.out)
        << "a layer's device node is left out in a user namespace";
    EXPECT_EQ("", o.err) << "no warning: the user has subordinate ids";
    std::string layer = layer_dir(images()[0]["layers"][1]);
    struct stat st;
    ASSERT_EQ(0, stat((layer + "/srv/www").c_str(), &st));
    EXPECT_EQ(AsUser::kSubStart + 33 - 1, st.st_uid) << "host uid = subuid start + 33 - 1";
    EXPECT_EQ(AsUser::kSubStart + 33 - 1, st.st_gid);
    ASSERT_EQ(0, stat((layer + "/etc/shadowish").c_str(), &st));
    EXPECT_EQ(AsUser::kUid, st.st_uid) << "0 in the image is the user";
}

TEST_F(RootlessImages, WhiteoutsAndOpaqueDirectoriesHideWhatIsBelow) {
    std::string base = tar("base", {{{"name", "etc/gone"}, {"data", "g"}},
                                    {{"name", "opaque"}, {"type", "dir"}},
                                    {{"name", "opaque/old"}, {"data", "o"}}});
    std::string upper = tar("upper", {{{"name", "etc/.wh.gone"}, {"data", ""}},
                                      {{"name", "opaque"}, {"type", "dir"}},
                                      {{"name", "opaque/.wh..wh..opq"}, {"data", ""}},
                                      {{"name", "opaque/new"}, {"data", "n"}}});
    // A user's opaque directories are user.overlay.opaque: tmpfs has user xattrs only
    // from Linux 6.6 on (the qemu guest's /tmp on 6.1 has none). There the layer is
    // refused in one line that says so.
    std::string probe = data_ + "/probe";
    ::mkdir(probe.c_str(), 0700);
    bool user_xattrs =
        ::setxattr(probe.c_str(), "user.kapsel-probe", "y", 1, 0) == 0 || errno != EOPNOTSUPP;
    ::rmdir(probe.c_str());
    if (!user_xattrs) {
        std::string dir = images_ + "/wh-oci";
        ASSERT_EQ(0, run_program({"/usr/bin/python3", tools() + "/mkimage.py", dir,
                                  "localhost/wh:latest", base, upper})
                         .code);
        Output o = k({"pull", "-q", "oci:" + dir + ":localhost/wh:latest"});
        EXPECT_EQ(1, o.code);
        EXPECT_NE(std::string::npos, o.err.find("mark opaque opaque: the file system of " +
                                                store() + " has no user xattrs"))
            << o.err;
        EXPECT_EQ(1, std::count(o.err.begin(), o.err.end(), '\n')) << o.err;
        GTEST_SKIP() << "skipped: the file system of " << data_
                     << " has no user xattrs (refused as it should be)";
    }
    std::string ref = pull("wh", {base, upper});
    Output o = k({"run", "--rm", ref, "/bin/sh", "-c", "ls /etc/gone 2>&1; ls /opaque"});
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_NE(std::string::npos, o.out.find("/etc/gone: No such file")) << o.out;
    EXPECT_EQ(std::string::npos, o.out.find("old"))
        << "the opaque directory hides the lower one: " << o.out;
    EXPECT_NE(std::string::npos, o.out.find("new")) << o.out;
}

TEST_F(RootlessImages, DetachedContainerExecLogsStopRm) {
    load_busybox();
    Output r = k({"run", "-d", "--name", "web", "localhost/kapsel-busybox", "sh", "-c",
                  "echo started; exec sleep 100"});
    ASSERT_EQ(0, r.code) << r.err;
    std::string id = first_line(r.out);
    Output ps = k({"ps"});
    EXPECT_NE(std::string::npos, ps.out.find("web")) << ps.out << ps.err;
    Output e = k({"exec", "web", "sh", "-c", "id -u; cat /proc/1/cmdline | tr '\\0' ' '"});
    EXPECT_EQ(0, e.code) << e.err;
    EXPECT_EQ("0\nsleep 100 ", e.out);
    std::string logs;
    for (int i = 0; i < 50 && logs.find("started") == std::string::npos; ++i, usleep(100000))
        logs = k({"logs", "web"}).out;
    EXPECT_EQ("started\n", logs);
    Output s = k({"stop", "-t", "1", "web"});
    EXPECT_EQ(0, s.code) << s.err;
    Output rm = k({"rm", "web"});
    EXPECT_EQ(0, rm.code) << rm.err;
    EXPECT_FALSE(fsys::exists(store() + "/containers/" + id)) << "rm leaves nothing of it";
    EXPECT_EQ("", k({"ps", "-a", "-q"}).out);
}

TEST_F(RootlessImages, CommitAndDiffOfAUsersContainer) {
    load_busybox();
    Output r =
        k({"run", "-d", "--name", "c", "localhost/kapsel-busybox", "sh", "-c",
           "mkdir /data; echo x > /data/f; chown 33:33 /data/f; rm /bin/true; exec sleep 100"});
    ASSERT_EQ(0, r.code) << r.err;
    Output d;
    for (int i = 0; i < 50; ++i, usleep(100000)) {
        d = k({"diff", "c"});
        if (d.out.find("A /data/f") != std::string::npos) break;
    }
    EXPECT_EQ(0, d.code) << d.err;
    EXPECT_NE(std::string::npos, d.out.find("A /data/f")) << d.out;
    EXPECT_NE(std::string::npos, d.out.find("D /bin/true")) << d.out;
    Output c = k({"commit", "c", "localhost/committed"});
    ASSERT_EQ(0, c.code) << c.err;
    Output o = k({"run", "--rm", "localhost/committed", "sh", "-c",
                  "stat -c '%u' /data/f; cat /data/f; ls /bin/true 2>&1 || :"});
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_NE(std::string::npos, o.out.find("33\nx\n")) << o.out;
    EXPECT_NE(std::string::npos, o.out.find("No such file"))
        << "the deletion is committed: " << o.out;
}

TEST_F(RootlessImages, PullFromARegistryOnLoopback) {
    FakeRegistry registry({});
    if (!registry.unavailable().empty()) GTEST_SKIP() << "skipped: " << registry.unavailable();
    Output p = k({"pull", "-q", registry.host() + "/busybox:latest"});
    ASSERT_EQ(0, p.code) << p.err;
    Output o = k({"run", "--rm", registry.host() + "/busybox:latest", "id", "-u"});
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ("0\n", o.out);
}

TEST_F(RootlessImages, TwoImagesShareAFileAsOneInode) {
    json common = {
        {"name", "usr/bin/tool"}, {"data", std::string(50000, 'x')}, {"mode", 0755}, {"uid", 33}};
    pull("a",
         {tar("la", {{{"name", "usr/bin"}, {"type", "dir"}},
                     common,
                     {{"name", "a-only"}, {"data", "a"}}})},
         false);
    pull("b",
         {tar("lb", {{{"name", "usr/bin"}, {"type", "dir"}, {"mtime", 5}},
                     common,
                     {{"name", "b-only"}, {"data", "b"}}})},
         false);
    json list = images();
    ASSERT_EQ(2u, list.size());
    std::string la = layer_dir(list[0]["layers"][0]), lb = layer_dir(list[1]["layers"][0]);
    ASSERT_NE(la, lb);
    struct stat sa, sb;
    ASSERT_EQ(0, stat((la + "/usr/bin/tool").c_str(), &sa));
    ASSERT_EQ(0, stat((lb + "/usr/bin/tool").c_str(), &sb));
    EXPECT_EQ(sa.st_ino, sb.st_ino) << "one inode in the user's store";
    EXPECT_EQ(AsUser::kSubStart + 32, sa.st_uid);
    // rmi of one keeps the other's file; rmi of both leaves no file behind.
    ASSERT_EQ(0, k({"rmi", "localhost/a"}).code);
    EXPECT_TRUE(fsys::exists(lb + "/usr/bin/tool"));
    Output rb = k({"rmi", "localhost/b"});
    ASSERT_EQ(0, rb.code) << rb.err;
    size_t files = 0;
    for (auto& e : fsys::recursive_directory_iterator(store() + "/files"))
        files += e.is_regular_file();
    EXPECT_EQ(0u, files) << "files owned by subordinate ids are removed too";
}

TEST_F(RootlessImages, AnotherUsersStoreIsRefusedAndLeftAlone) {
    std::vector<std::string> roots{user_->base() + "/roots-store"};
    if (fsys::exists("/var/lib/kapsel")) roots.push_back("/var/lib/kapsel");
    for (auto& root : roots) {
        ::mkdir(root.c_str(), 0755);  // root's, and open to all
        auto before = fsys::exists(root + "/images.json");
        Output o = user_->kapsel({"--storage-root", root, "load", "-i",
                                  std::string(KAPSEL_TEST_IMAGES) + "/docker-archive.tar"});
        EXPECT_EQ(1, o.code) << root;
        EXPECT_EQ("kapsel: the image store " + root +
                      " belongs to another user: use a store of your own (--storage-root)\n",
                  o.err);
        EXPECT_EQ(before, fsys::exists(root + "/images.json"));
        Output r = user_->kapsel(
            {"--storage-root", root, "run", "--rm", "localhost/kapsel-busybox", "true"});
        EXPECT_EQ(1, r.code);
        EXPECT_NE(std::string::npos, r.err.find("belongs to another user")) << r.err;
    }
    EXPECT_TRUE(fsys::is_empty(user_->base() + "/roots-store")) << "nothing written into it";
}

TEST_F(RootlessImages, HostileLayersAreStillRefused) {
    struct Case {
        const char* what;
        json entries;
        const char* message;
    } cases[] = {
        {"through a symlink out",
         {{{"name", "link"}, {"type", "symlink"}, {"link", "/tmp"}},
          {{"name", "link/planted"}, {"data", "x"}}},
         "symlink that leads outside"},
        {"dot-dot", {{{"name", "../escape"}, {"data", "x"}}}, "contains \"..\""},
        {"hardlink out",
         {{{"name", "h"}, {"type", "hardlink"}, {"link", "/etc/passwd"}}},
         "points outside the layer"},
    };
    for (auto& c : cases) {
        std::string dir = images_ + "/evil-oci";
        fsys::remove_all(dir);
        ASSERT_EQ(0, run_program({"/usr/bin/python3", tools() + "/mkimage.py", dir,
                                  "localhost/evil:latest", tar("evil", c.entries)})
                         .code);
        Output o = k({"pull", "-q", "oci:" + dir + ":localhost/evil:latest"});
        EXPECT_EQ(1, o.code) << c.what;
        EXPECT_NE(std::string::npos, o.err.find(c.message)) << c.what << ": " << o.err;
        EXPECT_EQ(1, std::count(o.err.begin(), o.err.end(), '\n'))
            << c.what << ": one line: " << o.err;
        EXPECT_FALSE(fsys::exists("/tmp/planted")) << c.what;
        for (auto sub : {"/layers", "/tmp"})
            for (auto& e : fsys::directory_iterator(store() + sub))
                ADD_FAILURE() << c.what << ": left " << e.path();
    }
}

TEST_F(RootlessImages, NetworkAndProcfsAsAUser) {
    load_busybox();
    Output d = k({"run", "--rm", "localhost/kapsel-busybox", "sh", "-c",
                  "ls /sys/class/net | tr '\\n' ' '"});
    ASSERT_EQ(0, d.code) << d.err;
    struct stat tun {};
    bool tun_open = ::stat("/dev/net/tun", &tun) == 0 && (tun.st_mode & 0006) == 0006;
    if (!tun_open)
        EXPECT_EQ("lo ", d.out) << "private by default where /dev/net/tun is closed to the user: only loopback";
    else
        EXPECT_NE(std::string::npos, d.out.find("eth0")) << "pasta by default where the user may open /dev/net/tun";
    EXPECT_EQ("", d.err);
    Output b = k({"run", "--rm", "--network", "bridge", "localhost/kapsel-busybox", "true"});
    EXPECT_EQ(1, b.code);
    EXPECT_EQ("kapsel: bridge networks need root; use --network pasta, private, none or host\n", b.err);
    for (auto mode : {"none", "host"}) {
        Output o = k({"run", "--rm", "--network", mode, "localhost/kapsel-busybox", "true"});
        EXPECT_EQ(0, o.code) << mode << ": " << o.err;
    }
    EXPECT_EQ("", k({"ps", "-a", "-q"}).out) << "refused runs leave no container";
}

TEST_F(RootlessImages, LimitsWithoutADelegatedCgroupAreOneWarning) {
    if (!user_->cgroup.empty()) GTEST_SKIP() << "skipped: the user has a delegated cgroup";
    load_busybox();
    Output o = k({"run", "--rm", "--memory", "64m", "localhost/kapsel-busybox", "true"});
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_NE(std::string::npos,
              o.err.find("so these limits are not applied: linux.resources.memory"))
        << o.err;
    EXPECT_EQ(1, std::count(o.err.begin(), o.err.end(), '\n')) << o.err;
}

TEST_F(RootlessImages, NoDeviceNodesAndNoSetuidEscalationInside) {
    load_busybox();
    Output o = k({"run", "--rm", "localhost/kapsel-busybox", "sh", "-c",
                  "mknod /m c 1 3 2>&1; echo mknod=$?; cat /proc/self/uid_map | tr -s ' '"});
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_NE(std::string::npos, o.out.find("mknod=1")) << o.out;
    EXPECT_NE(std::string::npos, o.out.find(" 0 41000 1\n 1 200000 65536\n"))
        << "podman's mapping: " << o.out;
    Output n = k({"run", "--rm", "--security-opt", "no-new-privileges", "localhost/kapsel-busybox",
                  "grep", "NoNewPrivs", "/proc/self/status"});
    EXPECT_EQ(0, n.code) << n.err;
    EXPECT_NE(std::string::npos, n.out.find("NoNewPrivs:\t1")) << n.out;
}

TEST_F(RootlessImages, WithoutSubordinateIdsOnlyTheUsersOwnIdAndOneWarning) {
    user_ = std::make_unique<AsUser>(/*subordinate_ids=*/false);
    data_ = user_->make_dir("data");
    images_ = user_->base() + "/images";
    ::mkdir(images_.c_str(), 0755);
    const std::string warning =
        "kapsel: warning: /etc/subuid gives kapseltest no subordinate ids: only your own id is "
        "mapped, and an image with files of other owners cannot be loaded\n";
    // The busybox fixture has /home/user owned by 1000: refused in one line after the
    // warning (podman without ids refuses such an image too), leaving nothing.
    Output l = k({"load", "-q", "-i", std::string(KAPSEL_TEST_IMAGES) + "/docker-archive.tar"});
    EXPECT_EQ(1, l.code);
    EXPECT_EQ(0u, l.err.find(warning)) << l.err;
    EXPECT_NE(std::string::npos,
              l.err.find("layer entry \"home/user/\" is owned by 1000:1000, which your user "
                         "namespace does not map"))
        << l.err;
    EXPECT_EQ(2, std::count(l.err.begin(), l.err.end(), '\n')) << l.err;
    for (auto sub : {"/layers", "/tmp"})
        for (auto& e : fsys::directory_iterator(store() + sub))
            ADD_FAILURE() << "left " << e.path();
    // All of it the image's root's: loaded and run, with the user alone mapped.
    std::string rootfs_tar = images_ + "/rootonly.tar";
    ASSERT_EQ(0, run_program({"/bin/tar", "--owner=0", "--group=0", "-C", fixture_rootfs(), "-cf",
                              rootfs_tar, "."})
                     .code);
    std::string ref = pull("rootonly", {rootfs_tar}, false);
    Output o = k({"run", "--rm", ref, "/bin/cat", "/proc/self/uid_map"});
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_EQ(warning, o.err) << "one warning";
    EXPECT_NE(std::string::npos, o.out.find(" 0      41000          1\n")) << o.out;
    EXPECT_EQ(std::string::npos, o.out.find("200000")) << o.out;
}

TEST_F(RootlessImages, CheckpointIsRefusedInOneLineAndTheContainerRunsOn) {
    load_busybox();
    Output r = k({"run", "-d", "--name", "cp", "localhost/kapsel-busybox", "sleep", "100"});
    ASSERT_EQ(0, r.code) << r.err;
    std::string dir = user_->make_dir("cp-images");
    Output c = k({"checkpoint", "--image-path", dir, "cp"});
    EXPECT_EQ(1, c.code);
    EXPECT_EQ("kapsel: checkpoint needs root: CRIU cannot dump a container run by a user\n", c.err);
    EXPECT_TRUE(fsys::is_empty(dir)) << "CRIU never ran";
    Output e = k({"exec", "cp", "true"});
    EXPECT_EQ(0, e.code) << "still running: " << e.err;
}

}  // namespace
}  // namespace kapsel::test
