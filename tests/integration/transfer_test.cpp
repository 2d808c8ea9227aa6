// checkpoint --export and restore --import (issue 17): a container of `kapsel run IMAGE`
// moves to another store as one archive and goes on there (its processes, its files, its
// log); a damaged or foreign archive, a missing image or a name in use is one line at the
// destination and leaves nothing there.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.hpp"
#include "registry_support.hpp"

namespace kapsel::test {
namespace {

using namespace std::chrono_literals;

const char* kCriu = "/opt/kapsel-criu/bin/criu";

class Transfer : public ImageStoreTest {
  protected:
    void SetUp() override {
        ImageStoreTest::SetUp();
        if (IsSkipped()) return;
        if (access(kCriu, X_OK) != 0) GTEST_SKIP() << "skipped: CRIU is missing (scripts/install-criu)";
        if (run_program({kCriu, "check"}).code != 0) GTEST_SKIP() << "skipped: `criu check` fails here";
    }
    void TearDown() override {
        std::istringstream is(k2({"ps", "-aq"}).out);
        for (std::string id; std::getline(is, id);)
            if (!id.empty()) k2({"rm", "-f", id});
        ImageStoreTest::TearDown();
    }
    // The destination: a second store (and runtime root) on this host.
    std::string other() const { return root() + "/other"; }
    Output k2(const std::vector<std::string>& args) {
        std::vector<std::string> a = {"--root", root() + "/other-state", "--storage-root", other()};
        a.insert(a.end(), args.begin(), args.end());
        return run_program([&] {
            std::vector<std::string> argv = {kapsel_binary()};
            argv.insert(argv.end(), a.begin(), a.end());
            return argv;
        }(), "", 60000);
    }
    int last_tick(Output o) {
        std::string s = o.out;
        while (!s.empty() && s.back() == '\n') s.pop_back();
        size_t nl = s.rfind('\n');
        std::string line = s.substr(nl == std::string::npos ? 0 : nl + 1);
        return line.rfind("tick ", 0) == 0 ? std::atoi(line.c_str() + 5) : 0;
    }
    // A counter that keeps a file open and a pipe between two of its processes.
    void start_counter() {
        ASSERT_EQ(0, k({"run", "-d", "--name", "counter", "--network", "none", kImage, "sh", "-c",
                        "echo made > /made; exec 3>/tmp/open; (while true; do sleep 0.05; echo p; done) | "
                        "(i=0; while read x; do i=$((i+1)); echo tick $i; echo $i >&3; done)"})
                         .code);
        for (int i = 0; i < 200 && last_tick(k({"logs", "counter"})) < 5; ++i) std::this_thread::sleep_for(20ms);
    }
    std::string archive() const { return root() + "/counter.tar.zst"; }
    // What the destination holds: its containers' names and directories.
    std::string destination_state() {
        return k2({"ps", "-a", "--format", "{{.Names}}"}).out +
               run_program({"/bin/sh", "-c", "ls " + other() + "/containers 2>/dev/null"}).out;
    }
};

TEST_F(Transfer, AnExportedContainerGoesOnInAnotherStore) {
    start_counter();
    Output ex = k({"checkpoint", "--export", archive(), "counter"});
    ASSERT_EQ(0, ex.code) << ex.err;
    EXPECT_TRUE(wait_for_status("counter", "checkpointed")) << status_of("counter");
    int at_dump = last_tick(k({"logs", "counter"}));
    ASSERT_GT(at_dump, 0);

    ASSERT_EQ(0, k2({"load", "-q", "-i", std::string(KAPSEL_TEST_IMAGES) + "/docker-archive.tar"}).code);
    Output im = k2({"restore", "--import", archive(), "--name", "moved"});
    ASSERT_EQ(0, im.code) << im.err;
    EXPECT_EQ(64u, im.out.size() - 1) << im.out;
    int now = 0;
    for (int i = 0; i < 200 && (now = last_tick(k2({"logs", "moved"}))) < at_dump + 3; ++i)
        std::this_thread::sleep_for(20ms);
    EXPECT_GE(now, at_dump + 3) << "the counter goes on, its log too";
    Output log = k2({"logs", "moved"});
    EXPECT_NE(std::string::npos, log.out.find("tick 1\n")) << "the log from before the move is there";
    Output inside = k2({"exec", "moved", "sh", "-c", "cat /made; tail -1 /tmp/open"});
    EXPECT_EQ(0, inside.code) << inside.err;
    EXPECT_EQ("made\n", inside.out.substr(0, 5)) << "its writable layer came along";
    EXPECT_EQ("checkpointed", status_of("counter")) << "the source stays as a checkpoint";
    Output check = k2({"system", "check"});
    EXPECT_EQ(0, check.code) << check.out << check.err;
    EXPECT_EQ("", check.out) << "the destination's store is whole";
    // Once more from the same archive: the id is in use there now.
    Output twice = k2({"restore", "--import", archive(), "--name", "again"});
    EXPECT_NE(0, twice.code);
    EXPECT_NE(std::string::npos, twice.err.find("exists here already")) << twice.err;
}

// --with-image: the destination has no image at all, and gets it from the archive.
TEST_F(Transfer, WithItsImageToAStoreThatHasNone) {
    start_counter();
    Output ex = k({"checkpoint", "--export", archive(), "--with-image", "counter"});
    ASSERT_EQ(0, ex.code) << ex.err;
    int at_dump = last_tick(k({"logs", "counter"}));
    Output im = k2({"restore", "--import", archive()});
    ASSERT_EQ(0, im.code) << im.err;
    EXPECT_NE(std::string::npos, k2({"images"}).out.find("localhost/kapsel-busybox")) << "loaded from the archive";
    int now = 0;
    for (int i = 0; i < 200 && (now = last_tick(k2({"logs", "counter"}))) < at_dump + 3; ++i)
        std::this_thread::sleep_for(20ms);
    EXPECT_GE(now, at_dump + 3);
    Output check = k2({"system", "check"});
    EXPECT_EQ(0, check.code) << check.out << check.err;
}

// A bridged container is put on the same network again at the destination, with its
// address and its published port. On one host the checkpointed source holds both (the
// network is the host's): the import says so until the source is removed.
TEST_F(Transfer, ABridgedContainerComesBackWithItsAddressAndPort) {
    if (access("/usr/lib/podman/netavark", X_OK) != 0) GTEST_SKIP() << "skipped: netavark is not installed";
    int port = free_port();
    ASSERT_EQ(0, k({"run", "-d", "--name", "web", "-p", "127.0.0.1:" + std::to_string(port) + ":80", kImage, "sh", "-c",
                    "mkdir -p /www && echo hello from web > /www/index.html; while true; do sleep 0.1; done"})
                     .code);
    json before = json::parse(k({"inspect", "web"}).out)[0]["NetworkSettings"];
    std::string ip = before.value("IPAddress", "");
    ASSERT_FALSE(ip.empty());
    ASSERT_EQ(0, k({"checkpoint", "--export", archive(), "web"}).code);
    ASSERT_EQ(0, k2({"load", "-q", "-i", std::string(KAPSEL_TEST_IMAGES) + "/docker-archive.tar"}).code);
    std::string empty = destination_state();
    Output held = k2({"restore", "--import", archive()});
    EXPECT_NE(0, held.code);
    EXPECT_NE(std::string::npos, held.err.find("still holds its network on this host")) << held.err;
    EXPECT_EQ(empty, destination_state());
    EXPECT_EQ(ip, json::parse(k({"inspect", "web"}).out)[0]["NetworkSettings"].value("IPAddress", ""))
        << "the source's network untouched";

    ASSERT_EQ(0, k({"rm", "web"}).code);
    Output im = k2({"restore", "--import", archive()});
    ASSERT_EQ(0, im.code) << im.err;
    EXPECT_EQ(ip, json::parse(k2({"inspect", "web"}).out)[0]["NetworkSettings"].value("IPAddress", ""));
    ASSERT_EQ(0, k2({"exec", "-d", "web", "httpd", "-f", "-p", "80", "-h", "/www"}).code);
    Output got;
    for (int i = 0; i < 50 && (got = run_program({"/bin/busybox", "wget", "-q", "-O", "-",
                                                  "http://127.0.0.1:" + std::to_string(port) + "/"}, "", 10000))
                                  .out.empty();
         ++i)
        std::this_thread::sleep_for(100ms);
    EXPECT_EQ("hello from web\n", got.out) << "its published port, forwarded at the destination";
}

TEST_F(Transfer, ABadArchiveIsOneLineAndLeavesNothing) {
    start_counter();
    ASSERT_EQ(0, k({"checkpoint", "--export", archive(), "counter"}).code);
    // Without the image at the destination.
    std::string before = destination_state();
    Output no_image = k2({"restore", "--import", archive()});
    EXPECT_NE(0, no_image.code);
    EXPECT_NE(std::string::npos, no_image.err.find("is not in this store: load or pull it first")) << no_image.err;
    EXPECT_EQ(before, destination_state());
    ASSERT_EQ(0, k2({"load", "-q", "-i", std::string(KAPSEL_TEST_IMAGES) + "/docker-archive.tar"}).code);
    before = destination_state();

    std::string work = root() + "/bad";
    ASSERT_EQ(0, run_program({"/bin/sh", "-c", "mkdir -p " + work + " && cd " + work + " && zstd -qdc " + archive() +
                                                   " | tar -x"}).code);
    struct Case {
        std::string what, script, says;
    } cases[] = {
        {"cut short", "head -c 20000 " + archive() + " > $OUT", "import"},
        {"not zstd, not tar", "head -c 3000 /dev/urandom > $OUT", "import"},
        {"another architecture",
         "sed -i 's/\"arch\": \"[^\"]*\"/\"arch\": \"s390x\"/' export.json && tar -cf - export.json config.json etc log "
         "checkpoint upper.tar | zstd -q > $OUT",
         "made on s390x"},
        {"another CRIU", "sed -i 's/\"criu\": \"[^\"]*\"/\"criu\": \"3.17\"/' export.json && tar -cf - export.json "
                         "config.json etc log checkpoint upper.tar | zstd -q > $OUT",
         "made with CRIU 3.17"},
        {"fields of the wrong type",
         "python3 -c 'import json; d=json.load(open(\"export.json\")); c=d[\"container\"]; "
         "c.update(name=5, rm=\"yes\", command=\"x\", network=[], created={}, image_id=7); "
         "d[\"with_image\"]=\"no\"; json.dump(d, open(\"export.json\", \"w\"))' && tar -cf - export.json "
         "config.json etc log checkpoint upper.tar | zstd -q > $OUT",
         "is not in this store"},
        {"an entry out of place", "tar -cf - export.json config.json ../bad/upper.tar 2>/dev/null | zstd -q > $OUT",
         "unexpected entry"},
        {"a hostile layer",
         "python3 " + std::string(KAPSEL_TEST_TOOLS) + "/mktar.py upper.tar '[{\"name\": \"esc\", \"type\": \"symlink\", "
         "\"link\": \"/etc\"}, {\"name\": \"esc/kapsel-pwned\", \"data\": \"x\"}]' && tar -cf - export.json config.json "
         "checkpoint upper.tar | zstd -q > $OUT",
         "writable layer"},
    };
    for (auto& c : cases) {
        // Each case from a fresh copy of the archive's content.
        std::string dir = root() + "/case";
        std::string out = root() + "/case.tar.zst";
        ASSERT_EQ(0, run_program({"/bin/sh", "-c", "rm -rf " + dir + " && cp -a " + work + " " + dir}).code);
        Output made = run_program({"/bin/sh", "-c", "cd " + dir + " && OUT=" + out + " && " + c.script});
        ASSERT_EQ(0, made.code) << c.what << ": " << made.err;
        Output o = k2({"restore", "--import", out});
        EXPECT_NE(0, o.code) << c.what;
        EXPECT_EQ(1, std::count(o.err.begin(), o.err.end(), '\n')) << c.what << ": " << o.err;
        EXPECT_NE(std::string::npos, o.err.find(c.says)) << c.what << ": " << o.err;
        EXPECT_EQ(before, destination_state()) << c.what;
    }
    EXPECT_FALSE(access("/etc/kapsel-pwned", F_OK) == 0) << "nothing was written through the symlink";
}

TEST_F(Transfer, OnlyWhatCanMoveIsExported) {
    Output bridged = k({"run", "-d", "--name", "b", "--network", "private", kImage, "sleep", "600"});
    ASSERT_EQ(0, bridged.code) << bridged.err;
    Output pre = k({"checkpoint", "--export", archive(), "--pre-dump", "b"});
    EXPECT_NE(0, pre.code);
    EXPECT_NE(std::string::npos, pre.err.find("--export and --pre-dump")) << pre.err;
    Output with = k({"checkpoint", "--with-image", "b"});
    EXPECT_NE(0, with.code);
    EXPECT_NE(std::string::npos, with.err.find("--with-image goes with --export")) << with.err;
    EXPECT_EQ("running", status_of("b"));
    Output joined = k({"run", "-d", "--name", "j", "--network", "container:b", kImage, "sleep", "600"});
    ASSERT_EQ(0, joined.code) << joined.err;
    Output other = k({"checkpoint", "--export", archive(), "j"});
    EXPECT_NE(0, other.code);
    EXPECT_NE(std::string::npos, other.err.find("its network is another's")) << other.err;
    EXPECT_EQ("running", status_of("j")) << "refused before anything was done";
    EXPECT_NE(0, access(archive().c_str(), F_OK)) << "no archive";
}

}  // namespace
}  // namespace kapsel::test
