// The multi-layer Debian image (scripts/make-debian-image): a real distribution in four
// layers, written by debootstrap, umoci and skopeo, with whiteouts and an opaque directory.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "harness.hpp"

namespace kapsel::test {
namespace {

namespace fsys = std::filesystem;

const std::string kImage = "localhost/kapsel-debian:latest";

class DebianImage : public KapselTest {
protected:
    void SetUp() override {
        KapselTest::SetUp();
        REQUIRE_ROOT();
        if (access((fixture() + "/name").c_str(), F_OK) != 0)
            GTEST_SKIP() << "skipped: the Debian image fixture is missing (" << fixture()
                         << "; the debian_image_fixture test builds it and needs the Debian mirror)";
    }
    std::string fixture() { return KAPSEL_TEST_DEBIAN; }
    std::string store() { return root() + "/store"; }
    Output k(const std::vector<std::string>& args, int timeout_ms = 60000) {
        std::vector<std::string> a = {"--storage-root", store()};
        a.insert(a.end(), args.begin(), args.end());
        return kapsel(a, "", timeout_ms);
    }
    void load() {
        Output o = k({"load", "-q", "-i", fixture() + "/docker-archive.tar"}, 120000);
        ASSERT_EQ(0, o.code) << o.err;
    }
    // `sh -c SCRIPT` in a fresh container of the image; its stdout.
    std::string sh(const std::string& script, const std::vector<std::string>& opts = {}) {
        std::vector<std::string> a = {"run", "--rm"};
        a.insert(a.end(), opts.begin(), opts.end());
        a.insert(a.end(), {kImage, "sh", "-c", script});
        Output o = k(a);
        EXPECT_EQ(0, o.code) << script << ": " << o.err;
        return o.out;
    }
};

TEST_F(DebianImage, EveryFormLoadsAsTheSameFourLayerImage) {
    load();
    ASSERT_EQ(0, k({"load", "-q", "-i", fixture() + "/oci-archive.tar"}, 120000).code);
    ASSERT_EQ(0, k({"pull", "-q", "oci:" + fixture() + "/oci:" + kImage}, 120000).code);
    json list = json::parse(k({"images", "--format", "json"}).out);
    ASSERT_EQ(1u, list.size()) << list.dump();
    EXPECT_EQ(kImage, list[0]["names"][0]);
    EXPECT_EQ(4u, list[0]["layers"].size());
}

TEST_F(DebianImage, AContainerSeesTheLayersMerged) {
    load();
    // Layer 2 installed python3 and procps; layer 3 removed pmap, /etc/motd and a doc tree
    // (whiteouts); layer 4 replaced /opt/data as a whole (an opaque directory).
    EXPECT_EQ("2\n", sh("python3 -c 'print(1+1)'"));
    EXPECT_EQ("gone gone gone\n",
              sh("for p in /usr/bin/pmap /etc/motd /usr/share/doc/procps; do [ -e $p ] && echo -n 'there ' || "
                 "echo -n 'gone '; done | sed 's/ $//'; echo"));
    EXPECT_EQ("from layer 3\n", sh("cat /etc/kapsel-layer3"));
    EXPECT_EQ("new\n", sh("ls /opt/data"));
    // procps from layer 2 works in the merged tree, and the container's command is pid 1.
    EXPECT_EQ("1\n", sh("ps -o pid= -p 1 | tr -d ' '"));
}

TEST_F(DebianImage, UserNamesResolveThroughTheImagesPasswd) {
    load();
    EXPECT_EQ("1000:1000:/home/app\n", sh("echo $(id -u):$(id -g):$HOME", {"-u", "app"}));
}

TEST_F(DebianImage, ContainersShareOneCopyOfEachFile) {
    load();
    // Two containers, each with its own copy-on-write upper: one inode for the same binary
    // (so one copy in the page cache), and a write in one is not seen in the other.
    std::string a = sh("stat -L -c %i /usr/bin/python3; echo changed > /etc/kapsel-layer3; cat /etc/kapsel-layer3");
    std::string b = sh("stat -L -c %i /usr/bin/python3; cat /etc/kapsel-layer3");
    EXPECT_EQ(a.substr(0, a.find('\n')), b.substr(0, b.find('\n')));
    EXPECT_NE(std::string::npos, a.find("changed"));
    EXPECT_NE(std::string::npos, b.find("from layer 3"));
    struct stat in_store;
    std::string python;
    for (auto& e : fsys::recursive_directory_iterator(store() + "/layers"))
        if (e.path().filename() == "python3.11" && e.path().parent_path().filename() == "bin") python = e.path();
    ASSERT_FALSE(python.empty());
    ASSERT_EQ(0, ::stat(python.c_str(), &in_store));
    EXPECT_EQ(std::to_string(in_store.st_ino), a.substr(0, a.find('\n'))) << "the container's file is the store's inode";
}

TEST_F(DebianImage, CommitTurnsAContainersChangesIntoALayer) {
    load();
    Output run = k({"run", "--name", "builder", kImage, "sh", "-c",
                    "rm /etc/kapsel-layer3 && rm -r /opt/data && mkdir /opt/data && echo built > /opt/data/x"});
    ASSERT_EQ(0, run.code) << run.err;
    Output diff = k({"diff", "builder"});
    ASSERT_EQ(0, diff.code) << diff.err;
    EXPECT_NE(std::string::npos, diff.out.find("D /etc/kapsel-layer3")) << diff.out;
    ASSERT_EQ(0, k({"commit", "builder", "localhost/built:1"}).code);
    EXPECT_EQ("gone\nx\n", k({"run", "--rm", "localhost/built:1", "sh", "-c",
                              "[ -e /etc/kapsel-layer3 ] && echo there || echo gone; ls /opt/data"})
                               .out);
    json list = json::parse(k({"images", "--format", "json"}).out);
    for (auto& img : list)
        if (img["names"][0] == "localhost/built:1") EXPECT_EQ(5u, img["layers"].size());
    ASSERT_EQ(0, k({"rm", "builder"}).code);
}

}  // namespace
}  // namespace kapsel::test
