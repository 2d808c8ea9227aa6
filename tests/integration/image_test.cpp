// The image store: archives and layouts in, file-level sharing between images,
// every layer feature, and hostile layers refused without a trace.
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "harness.hpp"

namespace kapsel::test {
namespace {

namespace fsys = std::filesystem;

class Images : public KapselTest {
protected:
    std::string store() { return root() + "/store"; }
    Output k(const std::vector<std::string>& args) {
        std::vector<std::string> a = {"--storage-root", store()};
        a.insert(a.end(), args.begin(), args.end());
        return kapsel(a);
    }
    std::string tools() { return std::string(KAPSEL_TEST_TOOLS); }
    // A layer tar from a JSON list of entries (tools/mktar.py).
    std::string tar(const std::string& name, const json& entries) {
        std::string path = root() + "/" + name + ".tar";
        Output o = run_program({"/usr/bin/python3", tools() + "/mktar.py", path, entries.dump()});
        EXPECT_EQ(0, o.code) << o.err;
        return path;
    }
    // An OCI layout image from layer tars (tools/mkimage.py); returns "oci:DIR:TAG".
    std::string image(const std::string& name, const std::vector<std::string>& layers,
                      const std::vector<std::string>& extra = {}) {
        std::string dir = root() + "/" + name + "-oci";
        std::vector<std::string> argv = {"/usr/bin/python3", tools() + "/mkimage.py", dir, "localhost/" + name + ":latest"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.insert(argv.end(), layers.begin(), layers.end());
        Output o = run_program(argv);
        EXPECT_EQ(0, o.code) << o.err;
        return "oci:" + dir + ":localhost/" + name + ":latest";
    }
    json images() { return json::parse(k({"images", "--format", "json"}).out); }
    std::string layer_dir(const std::string& diff_id) { return store() + "/layers/" + diff_id.substr(7); }
    // The store holds nothing but what it held before a refused import.
    void expect_store_clean() {
        EXPECT_TRUE(images().empty());
        if (fsys::exists(store() + "/layers"))
            for (auto& e : fsys::directory_iterator(store() + "/layers")) ADD_FAILURE() << "layer left: " << e.path();
        if (fsys::exists(store() + "/tmp"))
            for (auto& e : fsys::directory_iterator(store() + "/tmp")) ADD_FAILURE() << "temp left: " << e.path();
    }
};

TEST_F(Images, LoadsDockerAndOciArchivesAndLayouts) {
    std::string fix = std::string(KAPSEL_TEST_IMAGES);
    Output d = k({"load", "-i", fix + "/docker-archive.tar"});
    ASSERT_EQ(0, d.code) << d.err;
    EXPECT_EQ("Loaded image: localhost/kapsel-busybox:latest\n", d.out);
    ASSERT_EQ(0, k({"load", "-q", "-i", fix + "/oci-archive.tar"}).code);
    ASSERT_EQ(0, k({"pull", "-q", "oci:" + fix + "/oci:latest"}).code);
    json list = images();
    ASSERT_EQ(1u, list.size()) << "the same image three times is one image";
    EXPECT_EQ("localhost/kapsel-busybox:latest", list[0]["names"][0]);
    EXPECT_EQ(1u, list[0]["layers"].size());
    Output table = k({"images"});
    EXPECT_NE(std::string::npos, table.out.find("localhost/kapsel-busybox")) << table.out;
}

TEST_F(Images, IdenticalFilesInIndependentImagesAreOneInode) {
    json common = {{"name", "usr/bin/tool"}, {"data", std::string(100000, 'x')}, {"mode", 0755}};
    std::string a = image("a", {tar("la", {{{"name", "usr/bin"}, {"type", "dir"}}, common, {{"name", "a-only"}, {"data", "a"}}})});
    ASSERT_EQ(0, k({"pull", "-q", a}).code);
    size_t files_after_a = 0;
    for (auto& e : fsys::recursive_directory_iterator(store() + "/files")) files_after_a += e.is_regular_file();
    // Built separately: another tar, another layer digest, the same file.
    std::string b = image("b", {tar("lb", {{{"name", "usr/bin"}, {"type", "dir"}, {"mtime", 5}}, common, {{"name", "b-only"}, {"data", "b"}}})});
    ASSERT_EQ(0, k({"pull", "-q", b}).code);
    json list = images();
    ASSERT_EQ(2u, list.size());
    std::string la = layer_dir(list[0]["layers"][0]), lb = layer_dir(list[1]["layers"][0]);
    ASSERT_NE(la, lb);
    struct stat sa, sb;
    ASSERT_EQ(0, stat((la + "/usr/bin/tool").c_str(), &sa));
    ASSERT_EQ(0, stat((lb + "/usr/bin/tool").c_str(), &sb));
    EXPECT_EQ(sa.st_ino, sb.st_ino) << "one inode: one copy on disk and in the page cache";
    size_t files_after_b = 0;
    for (auto& e : fsys::recursive_directory_iterator(store() + "/files")) files_after_b += e.is_regular_file();
    EXPECT_EQ(files_after_a + 1, files_after_b) << "the second import wrote only b-only";
}

TEST_F(Images, SameContentWithOtherOwnerOrModeIsAnotherInode) {
    std::string a = image("a", {tar("la", {{{"name", "f"}, {"data", "same"}, {"mode", 0644}}})});
    std::string b = image("b", {tar("lb", {{{"name", "f"}, {"data", "same"}, {"mode", 0755}}})});
    ASSERT_EQ(0, k({"pull", "-q", a}).code);
    ASSERT_EQ(0, k({"pull", "-q", b}).code);
    json list = images();
    struct stat sa, sb;
    ASSERT_EQ(0, stat((layer_dir(list[0]["layers"][0]) + "/f").c_str(), &sa));
    ASSERT_EQ(0, stat((layer_dir(list[1]["layers"][0]) + "/f").c_str(), &sb));
    EXPECT_NE(sa.st_ino, sb.st_ino) << "hardlinks share the mode: different modes must not be merged";
}

TEST_F(Images, EveryKindOfEntryKeepsItsMetadata) {
    std::string l = tar("l", {
        {{"name", "bin"}, {"type", "dir"}, {"mode", 0755}, {"mtime", 1000}},
        {{"name", "bin/prog"}, {"data", "#!/bin/sh\n"}, {"mode", 04755}, {"uid", 0}, {"gid", 0}, {"mtime", 2000}},
        {{"name", "bin/alias"}, {"type", "hardlink"}, {"link", "bin/prog"}},
        {{"name", "bin/sym"}, {"type", "symlink"}, {"link", "/bin/prog"}},
        {{"name", "owned"}, {"data", "x"}, {"uid", 1234}, {"gid", 5678}, {"mode", 02640}},
        {{"name", "dev-null"}, {"type", "char"}, {"major", 1}, {"minor", 3}, {"mode", 0666}},
        {{"name", "pipe"}, {"type", "fifo"}},
        {{"name", "tagged"}, {"data", "x"}, {"xattrs", {{"user.kapsel", "yes"}}}},
    });
    ASSERT_EQ(0, k({"pull", "-q", image("meta", {l}, {"--compress", "gzip"})}).code);
    std::string dir = layer_dir(images()[0]["layers"][0]);
    struct stat st;
    ASSERT_EQ(0, stat((dir + "/bin/prog").c_str(), &st));
    EXPECT_EQ(04755u, st.st_mode & 07777) << "setuid kept";
    EXPECT_EQ(2000, st.st_mtime);
    struct stat alias;
    ASSERT_EQ(0, stat((dir + "/bin/alias").c_str(), &alias));
    EXPECT_EQ(st.st_ino, alias.st_ino) << "a hardlink stays a hardlink";
    EXPECT_EQ("/bin/prog", fsys::read_symlink(dir + "/bin/sym").string());
    ASSERT_EQ(0, stat((dir + "/owned").c_str(), &st));
    EXPECT_EQ(1234u, st.st_uid);
    EXPECT_EQ(5678u, st.st_gid);
    EXPECT_EQ(02640u, st.st_mode & 07777) << "setgid survives chown";
    ASSERT_EQ(0, lstat((dir + "/dev-null").c_str(), &st));
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(makedev(1, 3), st.st_rdev);
    ASSERT_EQ(0, lstat((dir + "/pipe").c_str(), &st));
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
    char v[16] = {};
    EXPECT_EQ(3, getxattr((dir + "/tagged").c_str(), "user.kapsel", v, sizeof v));
    EXPECT_STREQ("yes", v);
    ASSERT_EQ(0, stat((dir + "/bin").c_str(), &st));
    EXPECT_EQ(1000, st.st_mtime) << "directory times are set after their content";
}

TEST_F(Images, ZstdLayers) {
    ASSERT_EQ(0, k({"pull", "-q", image("z", {tar("l", {{{"name", "hello"}, {"data", "zstd"}}})}, {"--compress", "zstd"})}).code);
    std::ifstream f(layer_dir(images()[0]["layers"][0]) + "/hello");
    std::string s;
    f >> s;
    EXPECT_EQ("zstd", s);
}

TEST_F(Images, WhiteoutsAndOpaqueDirectoriesWorkInAContainer) {
    std::string base = tar("base", {{{"name", "etc"}, {"type", "dir"}},
                                    {{"name", "etc/keep"}, {"data", "k"}},
                                    {{"name", "etc/gone"}, {"data", "g"}},
                                    {{"name", "opaque"}, {"type", "dir"}},
                                    {{"name", "opaque/old"}, {"data", "o"}},
                                    {{"name", "bin"}, {"type", "symlink"}, {"link", "/busybox/bin"}}});
    std::string upper = tar("upper", {{{"name", "etc/.wh.gone"}, {"data", ""}},
                                      {{"name", "opaque"}, {"type", "dir"}},
                                      {{"name", "opaque/.wh..wh..opq"}, {"data", ""}},
                                      {{"name", "opaque/new"}, {"data", "n"}}});
    ASSERT_EQ(0, k({"pull", "-q", image("wh", {base, upper})}).code);
    // The busybox image's layer underneath gives the container a shell.
    std::string fix = std::string(KAPSEL_TEST_IMAGES);
    ASSERT_EQ(0, k({"load", "-q", "-i", fix + "/oci-archive.tar"}).code);
    json list = images();
    std::string bb_layer, wh_base, wh_upper;
    for (auto& i : list) {
        if (i["names"][0] == "localhost/kapsel-busybox:latest") bb_layer = i["layers"][0];
        else wh_base = i["layers"][0], wh_upper = i["layers"][1];
    }
    struct stat st;
    ASSERT_EQ(0, lstat((layer_dir(wh_upper) + "/etc/gone").c_str(), &st));
    EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == 0) << "an overlay whiteout";
    char v[4] = {};
    EXPECT_EQ(1, getxattr((layer_dir(wh_upper) + "/opaque").c_str(), "trusted.overlay.opaque", v, sizeof v));
    // Put the busybox layer under both and look from inside a container.
    std::string dir = root() + "/stack-oci";
    std::vector<std::string> argv = {"/usr/bin/python3", tools() + "/mkimage.py", dir, "localhost/stack:latest"};
    // Reuse the layer tars: busybox's rootfs as the bottom layer.
    Output bbt = run_program({"/bin/tar", "-C", fixture_rootfs(), "-cf", root() + "/bb.tar", "."});
    ASSERT_EQ(0, bbt.code) << bbt.err;
    std::string bb2 = root() + "/bb.tar";
    argv.push_back(bb2);
    argv.push_back(tar("base2", {{{"name", "etc/keep"}, {"data", "k"}}, {{"name", "etc/gone"}, {"data", "g"}},
                                 {{"name", "opaque"}, {"type", "dir"}}, {{"name", "opaque/old"}, {"data", "o"}}}));
    argv.push_back(upper);
    ASSERT_EQ(0, run_program(argv).code);
    ASSERT_EQ(0, k({"pull", "-q", "oci:" + dir + ":localhost/stack:latest"}).code);
    Output o = k({"run", "--rm", "localhost/stack", "sh", "-c", "ls /etc/keep /etc/gone 2>&1; ls /opaque"});
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_NE(std::string::npos, o.out.find("/etc/keep")) << o.out;
    EXPECT_NE(std::string::npos, o.out.find("/etc/gone: No such file")) << o.out;
    EXPECT_NE(std::string::npos, o.out.find("new")) << o.out;
    EXPECT_EQ(std::string::npos, o.out.find("old")) << "the opaque directory hides the lower one: " << o.out;
}

TEST_F(Images, HostileLayersAreRefusedAndLeaveNothing) {
    struct Case {
        const char* what;
        json entries;
        const char* message;
    } cases[] = {
        {"dot-dot", {{{"name", "../escape"}, {"data", "x"}}}, "contains \"..\""},
        {"absolute", {{{"name", "/etc/escape"}, {"data", "x"}}}, "absolute path"},
        {"through a symlink out", {{{"name", "link"}, {"type", "symlink"}, {"link", "/tmp"}}, {{"name", "link/planted"}, {"data", "x"}}},
         "symlink that leads outside"},
        {"through a relative symlink out", {{{"name", "up"}, {"type", "symlink"}, {"link", "../../../../../../tmp"}}, {{"name", "up/planted"}, {"data", "x"}}},
         "symlink that leads outside"},
        {"hardlink out", {{{"name", "h"}, {"type", "hardlink"}, {"link", "../../../etc/passwd"}}}, "points outside the layer"},
        {"hardlink absolute", {{{"name", "h"}, {"type", "hardlink"}, {"link", "/etc/passwd"}}}, "points outside the layer"},
    };
    for (auto& c : cases) {
        std::string ref = image("evil", {tar("evil", c.entries)});
        Output o = k({"pull", "-q", ref});
        EXPECT_EQ(1, o.code) << c.what;
        EXPECT_NE(std::string::npos, o.err.find(c.message)) << c.what << ": " << o.err;
        EXPECT_EQ(1, std::count(o.err.begin(), o.err.end(), '\n')) << c.what << ": one line: " << o.err;
        expect_store_clean();
        EXPECT_FALSE(fsys::exists("/tmp/planted")) << c.what;
        fsys::remove_all(root() + "/evil-oci");
    }
}

// Issue 12, break 1: a directory's metadata was applied by path at the end of its layer,
// after a later entry had replaced the directory with a symlink to a host file, so the
// chmod followed the symlink and made the host file setuid. Each route into the store
// (load, import, pull) unpacks alike; load and import are the two an attacker's file reaches.
TEST_F(Images, ADirectoryReplacedByASymlinkDoesNotPassItsModeToTheTarget) {
    std::string host_file = root() + "/host-file";
    { std::ofstream(host_file) << "host"; }
    ASSERT_EQ(0, ::chmod(host_file.c_str(), 0644));
    ASSERT_EQ(0, ::chown(host_file.c_str(), 0, 0));
    struct stat before;
    ASSERT_EQ(0, ::stat(host_file.c_str(), &before));
    std::string l = tar("evil", {{{"name", "d"}, {"type", "dir"}, {"mode", 04777}, {"uid", 1234}, {"gid", 1234}, {"mtime", 7}},
                                 {{"name", "d"}, {"type", "symlink"}, {"link", host_file}},
                                 {{"name", "e"}, {"type", "dir"}, {"mode", 06777}, {"xattrs", {{"user.evil", "x"}}}},
                                 {{"name", "e"}, {"type", "symlink"}, {"link", host_file}},
                                 {{"name", "ok"}, {"data", "fine"}}});
    auto expect_host_file_untouched = [&](const char* how) {
        struct stat st;
        ASSERT_EQ(0, ::stat(host_file.c_str(), &st));
        EXPECT_EQ(before.st_mode, st.st_mode) << how << ": the host file's mode changed to " << std::oct << st.st_mode;
        EXPECT_EQ(0u, st.st_uid) << how;
        EXPECT_EQ(before.st_mtime, st.st_mtime) << how;
        char v[8];
        EXPECT_LT(::getxattr(host_file.c_str(), "user.evil", v, sizeof v), 0) << how;
    };
    auto expect_symlink_in_layer = [&](const char* how) {
        json list = images();
        ASSERT_EQ(1u, list.size()) << how;
        struct stat st;
        ASSERT_EQ(0, ::lstat((layer_dir(list[0]["layers"][0]) + "/d").c_str(), &st)) << how;
        EXPECT_TRUE(S_ISLNK(st.st_mode)) << how << ": the later entry wins";
    };

    std::string dir = root() + "/evil-oci";
    ASSERT_EQ(0, run_program({"/usr/bin/python3", tools() + "/mkimage.py", dir, "localhost/evil:latest", l}).code);
    ASSERT_EQ(0, run_program({"/bin/tar", "-C", dir, "-cf", root() + "/evil-oci.tar", "."}).code);
    Output load = k({"load", "-q", "-i", root() + "/evil-oci.tar"});
    ASSERT_EQ(0, load.code) << load.err;
    expect_host_file_untouched("load");
    expect_symlink_in_layer("load");

    ASSERT_EQ(0, k({"rmi", "localhost/evil"}).code);
    Output imp = k({"import", "-q", l, "localhost/evil-import"});
    ASSERT_EQ(0, imp.code) << imp.err;
    expect_host_file_untouched("import");
    expect_symlink_in_layer("import");
    EXPECT_EQ(0, k({"system", "check"}).code);
}

// A later directory entry for the same directory wins, as with tar; an earlier one that
// was replaced (the directory removed and made again) leaves nothing behind.
TEST_F(Images, TheLastEntryForADirectoryDecidesItsMetadata) {
    std::string l = tar("l", {{{"name", "a"}, {"type", "dir"}, {"mode", 0700}, {"mtime", 100}},
                              {{"name", "a"}, {"type", "dir"}, {"mode", 0751}, {"mtime", 200}},
                              {{"name", "b"}, {"type", "dir"}, {"mode", 01777}, {"mtime", 300}},
                              {{"name", "b"}, {"data", "now a file"}, {"mode", 0600}},
                              {{"name", "b"}, {"type", "symlink"}, {"link", "a"}},
                              {{"name", "c"}, {"type", "dir"}, {"mode", 02775}, {"mtime", 400}},
                              {{"name", ".wh.c"}, {"data", ""}},
                              {{"name", "c"}, {"type", "dir"}, {"mode", 0705}, {"mtime", 500}}});
    ASSERT_EQ(0, k({"pull", "-q", image("last", {l})}).code);
    std::string dir = layer_dir(images()[0]["layers"][0]);
    struct stat st;
    ASSERT_EQ(0, ::lstat((dir + "/a").c_str(), &st));
    EXPECT_EQ(0751u, st.st_mode & 07777);
    EXPECT_EQ(200, st.st_mtime);
    ASSERT_EQ(0, ::lstat((dir + "/b").c_str(), &st));
    EXPECT_TRUE(S_ISLNK(st.st_mode));
    ASSERT_EQ(0, ::lstat((dir + "/a").c_str(), &st));
    EXPECT_EQ(0751u, st.st_mode & 07777) << "b's mode did not reach a through the symlink b -> a";
    ASSERT_EQ(0, ::lstat((dir + "/c").c_str(), &st));
    EXPECT_EQ(0705u, st.st_mode & 07777);
    EXPECT_EQ(500, st.st_mtime);
}

// Issue 12, break 2: identical files of two images are one inode; image B's layer had a
// directory entry and then a file of the same name with A's content, and the directory's
// mode, applied at the end of the layer, landed on the shared inode: A's file became
// -rwsrwsrwx. A stored inode is never changed once published.
TEST_F(Images, OneImageCannotChangeTheFilesItSharesWithAnother) {
    std::string a = image("a", {tar("la", {{{"name", "bin"}, {"type", "dir"}},
                                           {{"name", "bin/tool"}, {"data", "the same tool"}, {"mode", 0755}}})});
    ASSERT_EQ(0, k({"pull", "-q", a}).code);
    std::string a_layer = images()[0]["layers"][0];
    std::string a_tool = layer_dir(a_layer) + "/bin/tool";
    struct stat before;
    ASSERT_EQ(0, ::stat(a_tool.c_str(), &before));

    std::string b = image("b", {tar("lb", {{{"name", "bin"}, {"type", "dir"}},
                                           {{"name", "bin/tool"}, {"type", "dir"}, {"mode", 06777}, {"uid", 1234}, {"mtime", 99},
                                            {"xattrs", {{"user.evil", "x"}}}},
                                           {{"name", "bin/tool"}, {"data", "the same tool"}, {"mode", 0755}}})});
    ASSERT_EQ(0, k({"pull", "-q", b}).code);
    std::string b_layer;
    for (auto& img : images())
        if (img["layers"][0] != a_layer) b_layer = img["layers"][0];
    struct stat after, in_b;
    ASSERT_EQ(0, ::stat(a_tool.c_str(), &after));
    ASSERT_EQ(0, ::stat((layer_dir(b_layer) + "/bin/tool").c_str(), &in_b));
    EXPECT_EQ(before.st_ino, in_b.st_ino) << "still shared: B's file is the same file";
    EXPECT_EQ(0100755u, after.st_mode) << "A's file became " << std::oct << after.st_mode;
    EXPECT_EQ(0u, after.st_uid);
    EXPECT_EQ(before.st_mtime, after.st_mtime);
    char v[8];
    EXPECT_LT(::getxattr(a_tool.c_str(), "user.evil", v, sizeof v), 0);
    Output c = k({"system", "check"});
    EXPECT_EQ(0, c.code) << c.out << c.err;
    EXPECT_EQ("", c.out);
}

// What a hard link shares is the whole inode: files that differ in any of it are not one.
TEST_F(Images, FilesDifferingInMtimeOrXattrsAreNotShared) {
    std::string a = image("a", {tar("la", {{{"name", "f"}, {"data", "same"}, {"mtime", 1000}},
                                           {{"name", "g"}, {"data", "same"}, {"mtime", 1000}, {"xattrs", {{"user.k", "1"}}}}})});
    std::string b = image("b", {tar("lb", {{{"name", "f"}, {"data", "same"}, {"mtime", 2000}},
                                           {{"name", "g"}, {"data", "same"}, {"mtime", 1000}, {"xattrs", {{"user.k", "2"}}}}})});
    ASSERT_EQ(0, k({"pull", "-q", a}).code);
    ASSERT_EQ(0, k({"pull", "-q", b}).code);
    json list = images();
    ASSERT_EQ(2u, list.size());
    std::string la = layer_dir(list[0]["layers"][0]), lb = layer_dir(list[1]["layers"][0]);
    struct stat fa, fb, ga, gb;
    ASSERT_EQ(0, ::stat((la + "/f").c_str(), &fa));
    ASSERT_EQ(0, ::stat((lb + "/f").c_str(), &fb));
    ASSERT_EQ(0, ::stat((la + "/g").c_str(), &ga));
    ASSERT_EQ(0, ::stat((lb + "/g").c_str(), &gb));
    EXPECT_NE(fa.st_ino, fb.st_ino);
    EXPECT_EQ(1000, fa.st_mtime);
    EXPECT_EQ(2000, fb.st_mtime);
    EXPECT_NE(ga.st_ino, gb.st_ino);
    char v[4] = {};
    EXPECT_EQ(1, ::getxattr((la + "/g").c_str(), "user.k", v, sizeof v));
    EXPECT_EQ('1', v[0]);
    EXPECT_EQ(1, ::getxattr((lb + "/g").c_str(), "user.k", v, sizeof v));
    EXPECT_EQ('2', v[0]);
    Output c = k({"system", "check"});
    EXPECT_EQ(0, c.code) << c.out << c.err;
}

// overlayfs interprets its own xattrs on lower layers (a redirect sends a lookup
// elsewhere, metacopy takes a file's data from elsewhere): a layer's own are dropped,
// its other xattrs kept, and its whiteouts still become overlay xattrs.
TEST_F(Images, OverlayXattrsFromALayerAreDroppedAndOthersKept) {
    json overlay_and_mine = {{"trusted.overlay.redirect", "/etc"}, {"trusted.overlay.metacopy", ""},
                             {"trusted.overlay.opaque", "y"}, {"user.overlay.redirect", "/etc"},
                             {"user.overlay.origin", "x"}, {"user.foo", "kept"}};
    std::string l = tar("l", {{{"name", "d"}, {"type", "dir"}, {"xattrs", overlay_and_mine}},
                              {{"name", "d/f"}, {"data", "file"}, {"xattrs", overlay_and_mine}},
                              {{"name", "w"}, {"type", "dir"}},
                              {{"name", "w/.wh..wh..opq"}, {"data", ""}}});
    ASSERT_EQ(0, k({"pull", "-q", image("ovl", {l})}).code);
    std::string dir = layer_dir(images()[0]["layers"][0]);
    for (std::string path : {dir + "/d", dir + "/d/f"}) {
        char names[4096];
        ssize_t n = ::llistxattr(path.c_str(), names, sizeof names);
        ASSERT_GE(n, 0) << path;
        for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(std::strlen(names + i)) + 1) {
            std::string name(names + i);
            EXPECT_EQ(std::string::npos, name.find(".overlay.")) << path << " carries " << name;
        }
        char v[8] = {};
        EXPECT_EQ(4, ::lgetxattr(path.c_str(), "user.foo", v, sizeof v)) << path;
        EXPECT_EQ("kept", std::string(v, 4));
    }
    char v[4] = {};
    EXPECT_EQ(1, ::lgetxattr((dir + "/w").c_str(), "trusted.overlay.opaque", v, sizeof v)) << "the whiteout's own";
    EXPECT_EQ(0, k({"system", "check"}).code);
}

// A layer tar holding one file of `bytes` zeros (gzip-compressed when the name ends in .gz):
// a few kilobytes that unpack to as much as a test wants.
std::string zeros_tar(const std::string& path, const std::string& file, uint64_t bytes) {
    const char* script = R"(
import io, sys, tarfile
out, name, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
class Zeros(io.RawIOBase):
    def __init__(self, n): self.n = n
    def readable(self): return True
    def readinto(self, b):
        k = min(len(b), self.n); b[:k] = bytes(k); self.n -= k; return k
with tarfile.open(out, "w:gz" if out.endswith(".gz") else "w", format=tarfile.PAX_FORMAT) as t:
    i = tarfile.TarInfo(name); i.size = size; t.addfile(i, Zeros(size))
)";
    Output o = run_program({"/usr/bin/python3", "-c", script, path, file, std::to_string(bytes)}, "", 120000);
    EXPECT_EQ(0, o.code) << o.err;
    return path;
}

// --max-size: a command stops unpacking once its layers' files pass the maximum, says so
// in one line naming the layer, and leaves no image and no layer (only garbage for prune).
TEST_F(Images, AMaximumUnpackedSizeRefusesALargerImageAndLeavesNothing) {
    std::string small = tar("small", {{{"name", "s"}, {"data", "small"}}});
    std::string big = zeros_tar(root() + "/big.tar", "big", 3 << 20);
    std::string dir = root() + "/max-oci";
    ASSERT_EQ(0, run_program({"/usr/bin/python3", tools() + "/mkimage.py", dir, "localhost/max:latest", small, big}).code);
    ASSERT_EQ(0, run_program({"/bin/tar", "-C", dir, "-cf", root() + "/max-oci.tar", "."}).code);
    auto expect_refused = [&](const Output& o, const std::string& how, const std::string& layer_named) {
        EXPECT_EQ(1, o.code) << how;
        EXPECT_NE(std::string::npos, o.err.find("the image's files pass the maximum unpacked size of 2.1 MB (--max-size)"))
            << how << ": " << o.err;
        EXPECT_NE(std::string::npos, o.err.find(layer_named)) << how << ": names the layer: " << o.err;
        EXPECT_EQ(1, std::count(o.err.begin(), o.err.end(), '\n')) << how << ": one line: " << o.err;
        EXPECT_TRUE(images().empty()) << how;
        Output c = k({"system", "check"});
        EXPECT_EQ(0, c.code) << how << ": garbage only:\n" << c.out;
        ASSERT_EQ(0, k({"system", "prune"}).code);
        EXPECT_EQ("", k({"system", "check"}).out) << how;
    };
    std::string big_layer = "blobs/sha256/" + run_program({"/bin/sh", "-c", "sha256sum " + big + " | cut -c1-64"}).out.substr(0, 64);
    expect_refused(k({"load", "-q", "--max-size", "2m", "-i", root() + "/max-oci.tar"}), "load", big_layer);
    expect_refused(k({"pull", "-q", "--max-size", "2m", "oci:" + dir + ":localhost/max:latest"}), "pull", big_layer);
    expect_refused(k({"import", "-q", "--max-size", "2m", big, "localhost/big"}), "import", big);

    // Within the maximum, or without one, the same image loads.
    Output ok = k({"load", "-q", "--max-size", "4m", "-i", root() + "/max-oci.tar"});
    EXPECT_EQ(0, ok.code) << ok.err;
    for (const char* bad : {"0", "lots", "-1"}) {
        Output o = k({"load", "-q", "--max-size", bad, "-i", root() + "/max-oci.tar"});
        EXPECT_EQ(1, o.code) << bad;
        EXPECT_NE(std::string::npos, o.err.find("--max-size")) << bad << ": " << o.err;
        EXPECT_EQ(1, std::count(o.err.begin(), o.err.end(), '\n')) << o.err;
    }
    EXPECT_NE(std::string::npos, k({"pull", "--help"}).out.find("--max-size"));
    EXPECT_NE(std::string::npos, k({"import", "--help"}).out.find("--max-size"));
}

// A layer that would fill the store's file system is refused before it gets there: the
// file system keeps 5% (at most 1 GiB) free. Here the store is on a 64 MiB tmpfs and
// the layer is 100 MB of zeros in 100 kB of gzip.
TEST_F(Images, ALayerThatWouldFillTheStoresFileSystemIsRefused) {
    if (!have_root()) GTEST_SKIP() << "skipped: needs root (mounts a small tmpfs for the store)";
    std::string small = root() + "/small";
    fsys::create_directories(small);
    ASSERT_EQ(0, ::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=64m,mode=0700")) << strerror(errno);
    std::string big = zeros_tar(root() + "/huge.tar.gz", "huge", 100u << 20);
    std::vector<std::string> on_small = {"--storage-root", small + "/store"};
    auto ks = [&](std::vector<std::string> args) {
        args.insert(args.begin(), on_small.begin(), on_small.end());
        return kapsel(args);
    };
    Output o = ks({"import", "-q", big, "localhost/huge"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find(big + ": the file system of " + small + "/store has ")) << o.err;
    EXPECT_NE(std::string::npos, o.err.find("(5%, at most 1 GiB) free: the layer does not fit")) << o.err;
    EXPECT_EQ(1, std::count(o.err.begin(), o.err.end(), '\n')) << o.err;
    EXPECT_EQ("[]\n", ks({"images", "--format", "json"}).out);
    Output c = ks({"system", "check"});
    EXPECT_EQ(0, c.code) << c.out;
    ASSERT_EQ(0, ks({"system", "prune"}).code);
    EXPECT_EQ("", ks({"system", "check"}).out);
    struct statvfs v;
    ASSERT_EQ(0, ::statvfs(small.c_str(), &v));
    EXPECT_GT(v.f_bavail * v.f_frsize, 60u << 20) << "all of it given back";
    // What fits still loads.
    Output fine = ks({"import", "-q", zeros_tar(root() + "/fine.tar", "fine", 1 << 20), "localhost/fine"});
    EXPECT_EQ(0, fine.code) << fine.err;
}

TEST_F(Images, ALayerWhoseDigestDoesNotMatchIsRefused) {
    std::string ref = image("bad", {tar("l", {{{"name", "f"}, {"data", "x"}}})}, {"--corrupt-layer", "0"});
    Output o = k({"pull", "-q", ref});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("digest mismatch")) << o.err;
    expect_store_clean();
    std::string ref2 = image("bad2", {tar("l2", {{{"name", "f"}, {"data", "y"}}})}, {"--wrong-diffid", "0"});
    Output o2 = k({"pull", "-q", ref2});
    EXPECT_EQ(1, o2.code);
    EXPECT_NE(std::string::npos, o2.err.find("diff id")) << o2.err;
}

TEST_F(Images, ImportMakesAOneLayerImage) {
    Output t = run_program({"/bin/sh", "-c", "tar -C " + fixture_rootfs() + " -czf " + root() + "/rootfs.tgz ."});
    ASSERT_EQ(0, t.code) << t.err;
    Output o = k({"import", "-q", root() + "/rootfs.tgz", "localhost/imported:1"});
    ASSERT_EQ(0, o.code) << o.err;
    Output r = k({"run", "--rm", "localhost/imported:1", "echo", "from", "an", "imported", "rootfs"});
    EXPECT_EQ("from an imported rootfs\n", r.out) << r.err;
    // A name without a registry is localhost's, as podman names what it makes.
    ASSERT_EQ(0, k({"import", "-q", root() + "/rootfs.tgz", "short"}).code);
    bool found = false;
    for (auto& img : images())
        for (auto& n : img["names"]) found |= n == "localhost/short:latest";
    EXPECT_TRUE(found) << images().dump();
    EXPECT_EQ("short\n", k({"run", "--rm", "short", "echo", "short"}).out);
}

TEST_F(Images, MissingImageIsAClearError) {
    Output o = k({"run", "--rm", "localhost/nothing:here", "true"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("not in the store")) << o.err;
    Output l = k({"load", "-i", "/nonexistent.tar"});
    EXPECT_EQ(1, l.code);
    EXPECT_NE(std::string::npos, l.err.find("/nonexistent.tar")) << l.err;
}

}  // namespace
}  // namespace kapsel::test
