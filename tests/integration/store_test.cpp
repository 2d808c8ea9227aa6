// The image store's upkeep and robustness: rmi (what it frees, what it refuses),
// system check (damage found and repaired), system prune (leftovers, abandoned
// containers), concurrent imports, run racing rmi, loads killed at random points,
// and the progress display on a terminal.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace kapsel::test {
namespace {

namespace fsys = std::filesystem;

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream is(s);
    for (std::string l; std::getline(is, l);)
        if (!l.empty()) out.push_back(l);
    return out;
}

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

size_t entries_below(const std::string& dir) {
    size_t n = 0;
    std::error_code ec;
    if (fsys::exists(dir))
        for (auto& e : fsys::recursive_directory_iterator(dir, ec)) n += e.is_regular_file() || e.is_directory();
    return n;
}

class StoreTest : public KapselTest {
public:
    std::string store() { return root() + "/store"; }
    std::vector<std::string> base(const std::vector<std::string>& args) {
        std::vector<std::string> a = {kapsel_binary(), "--root", root() + "/state", "--storage-root", store()};
        a.insert(a.end(), args.begin(), args.end());
        return a;
    }
    Output k(const std::vector<std::string>& args, int timeout_ms = 60000) {
        return run_program(base(args), "", timeout_ms);
    }
    std::string tools() { return std::string(KAPSEL_TEST_TOOLS); }
    std::string fixtures() { return std::string(KAPSEL_TEST_IMAGES); }
    std::string tar(const std::string& name, const json& entries) {
        std::string path = root() + "/" + name + ".tar";
        Output o = run_program({"/usr/bin/python3", tools() + "/mktar.py", path, entries.dump()});
        EXPECT_EQ(0, o.code) << o.err;
        return path;
    }
    std::string big_tar(const std::string& name, int mb, int files) {
        std::string path = root() + "/" + name + ".tar";
        Output o = run_program({"/usr/bin/python3", tools() + "/mkbigtar.py", path, std::to_string(mb), std::to_string(files), name});
        EXPECT_EQ(0, o.code) << o.err;
        return path;
    }
    // An OCI layout (tools/mkimage.py); returns its directory.
    std::string layout(const std::string& name, const std::vector<std::string>& layers) {
        std::string dir = root() + "/" + name + "-oci";
        std::vector<std::string> argv = {"/usr/bin/python3", tools() + "/mkimage.py", dir, "localhost/" + name + ":latest"};
        argv.insert(argv.end(), layers.begin(), layers.end());
        Output o = run_program(argv);
        EXPECT_EQ(0, o.code) << o.err;
        return dir;
    }
    std::string image(const std::string& name, const std::vector<std::string>& layers) {
        return "oci:" + layout(name, layers) + ":localhost/" + name + ":latest";
    }
    // The same image as an oci-archive.
    std::string archive(const std::string& name, const std::vector<std::string>& layers) {
        std::string dir = layout(name, layers), path = root() + "/" + name + "-oci.tar";
        Output o = run_program({"/bin/tar", "-C", dir, "-cf", path, "."});
        EXPECT_EQ(0, o.code) << o.err;
        return path;
    }
    json images() { return json::parse(k({"images", "--format", "json"}).out); }
    std::string layer_dir(const std::string& diff_id) { return store() + "/layers/" + diff_id.substr(7); }
    std::string blob(const std::string& digest) { return store() + "/blobs/sha256/" + digest.substr(7); }

    void expect_check_clean(const char* when) {
        Output c = k({"system", "check"}, 120000);
        EXPECT_EQ(0, c.code) << when << ":\n" << c.out << c.err;
        EXPECT_EQ("", c.out) << when;
    }
    // Every line of `check` is garbage that prune removes, none is damage: the store is
    // consistent, and check says so with exit status 0.
    void expect_only_garbage(const Output& c, const std::string& when) {
        EXPECT_EQ(0, c.code) << when << ": " << c.out << c.err;
        for (auto& l : lines_of(c.out))
            EXPECT_NE(std::string::npos, l.find("(prune removes it)")) << when << ": damage: " << l;
    }
    void expect_empty(const std::string& sub) {
        for (auto& e : fsys::directory_iterator(store() + "/" + sub)) ADD_FAILURE() << sub << " still holds " << e.path();
    }
    json container(const std::string& name) {
        Output o = k({"inspect", name});
        if (o.code != 0) return json();
        json j = json::parse(o.out);  // an array of one, as podman inspect prints
        return j.is_array() ? (j.empty() ? json() : j[0]) : j;
    }
};

// A process of ours to kill at a chosen moment.
pid_t spawn(const std::vector<std::string>& argv) {
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        exec_argv(argv);
    }
    return pid;
}

int wait_code(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Runs a program on a pseudo-terminal (stdin, stdout and stderr; with `stdout_file`,
// stdout goes to that file instead); returns what it wrote to the terminal.
Output run_on_pty(const std::vector<std::string>& argv, const std::string& stdout_file = "",
                  int timeout_ms = 60000) {
    int master = -1;
    winsize ws{24, 120, 0, 0};
    pid_t pid = forkpty(&master, nullptr, nullptr, &ws);
    if (pid == 0) {
        if (!stdout_file.empty()) {
            int fd = open(stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) _exit(126);
        }
        exec_argv(argv);
    }
    Output o;
    int64_t deadline = now_ms() + timeout_ms;
    char buf[4096];
    while (now_ms() < deadline) {
        pollfd p{master, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) {
            int status = 0;
            if (waitpid(pid, &status, WNOHANG) == pid) {  // gone, and nothing left to read
                o.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                close(master);
                return o;
            }
            continue;
        }
        ssize_t n = read(master, buf, sizeof buf);
        if (n <= 0) break;  // EIO: the slave side is closed
        o.out.append(buf, static_cast<size_t>(n));
    }
    close(master);
    if (now_ms() >= deadline) kill(pid, SIGKILL);
    o.code = wait_code(pid);
    return o;
}

TEST_F(StoreTest, RmiRemovesWhatOnlyThatImageUsed) {
    json shared_file = {{"name", "usr/bin/tool"}, {"data", std::string(50000, 's')}, {"mode", 0755}};
    std::string base_layer = tar("base", {{{"name", "usr"}, {"type", "dir"}}, {{"name", "usr/bin"}, {"type", "dir"}},
                                          {{"name", "etc-base"}, {"data", "base"}}});
    std::string la = tar("la", {shared_file, {{"name", "a-only"}, {"data", std::string(30000, 'a')}}});
    std::string lb = tar("lb", {shared_file, {{"name", "b-only"}, {"data", "b"}}, {{"name", "pad"}, {"data", "x"}}});
    ASSERT_EQ(0, k({"pull", "-q", image("a", {base_layer, la})}).code);
    ASSERT_EQ(0, k({"pull", "-q", image("b", {base_layer, lb})}).code);
    json a, b;
    for (auto& i : images()) (i["names"][0] == "localhost/a:latest" ? a : b) = i;
    ASSERT_EQ(a["layers"][0], b["layers"][0]) << "the base layer is shared";
    struct stat st;
    ASSERT_EQ(0, stat((layer_dir(a["layers"][1]) + "/a-only").c_str(), &st));
    ino_t a_only = st.st_ino;
    ASSERT_EQ(0, stat((layer_dir(a["layers"][1]) + "/usr/bin/tool").c_str(), &st));
    EXPECT_EQ(3u, st.st_nlink) << "the tool: in files/ and in both images' layers";

    Output r = k({"rmi", "localhost/a"});
    ASSERT_EQ(0, r.code) << r.err;
    EXPECT_EQ("Untagged: localhost/a:latest\nDeleted: " + a["id"].get<std::string>().substr(7) + "\n", r.out);
    EXPECT_FALSE(fsys::exists(blob(a["id"]))) << "the config blob goes";
    EXPECT_FALSE(fsys::exists(blob(a["digest"]))) << "the manifest blob goes";
    EXPECT_FALSE(fsys::exists(layer_dir(a["layers"][1]))) << "its own layer goes";
    EXPECT_FALSE(fsys::exists(layer_dir(a["layers"][1]) + ".json")) << "with its marker";
    EXPECT_TRUE(fsys::exists(layer_dir(a["layers"][0]) + ".json")) << "the shared layer stays";
    EXPECT_TRUE(fsys::exists(blob(b["id"])));
    // a-only's stored copy went; the tool's stays, now linked twice.
    bool a_only_left = false;
    for (auto& e : fsys::recursive_directory_iterator(store() + "/files"))
        if (e.is_regular_file() && (stat(e.path().c_str(), &st), st.st_ino == a_only)) a_only_left = true;
    EXPECT_FALSE(a_only_left) << "a stored file no layer uses is removed";
    ASSERT_EQ(0, stat((layer_dir(b["layers"][1]) + "/usr/bin/tool").c_str(), &st));
    EXPECT_EQ(2u, st.st_nlink);
    expect_check_clean("after rmi of one image");

    ASSERT_EQ(0, k({"rmi", b["id"].get<std::string>().substr(7, 12)}).code) << "by id prefix";
    expect_empty("layers");
    expect_empty("blobs/sha256");
    EXPECT_EQ(0u, entries_below(store() + "/files")) << "every stored file went with the last layer using it";
    expect_check_clean("after rmi of both");
}

TEST_F(StoreTest, RmiOfOneOfSeveralNamesUntagsOnly) {
    std::string l = tar("l", {{{"name", "f"}, {"data", "same image, two names"}}});
    ASSERT_EQ(0, k({"pull", "-q", image("one", {l})}).code);
    ASSERT_EQ(0, k({"pull", "-q", image("two", {l})}).code);
    json list = images();
    ASSERT_EQ(1u, list.size()) << "one image with two names";
    std::string id = list[0]["id"];
    Output by_id = k({"rmi", id.substr(7, 12)});
    EXPECT_EQ(2, by_id.code) << "an id naming an image with several names needs -f";
    EXPECT_NE(std::string::npos, by_id.err.find("several names")) << by_id.err;
    Output one = k({"rmi", "localhost/one:latest"});
    EXPECT_EQ(0, one.code) << one.err;
    EXPECT_EQ("Untagged: localhost/one:latest\n", one.out);
    EXPECT_TRUE(fsys::exists(blob(id))) << "the image stays under its other name";
    list = images();
    ASSERT_EQ(1u, list.size());
    EXPECT_EQ(json({"localhost/two:latest"}), list[0]["names"]);
    // By manifest digest.
    Output two = k({"rmi", list[0]["digest"]});
    EXPECT_EQ(0, two.code) << two.err;
    EXPECT_TRUE(images().empty());
    Output missing = k({"rmi", "localhost/never:loaded"});
    EXPECT_EQ(1, missing.code) << "podman's exit status for a missing image";
    EXPECT_NE(std::string::npos, missing.err.find("not in the store")) << missing.err;
    expect_check_clean("after untag and rmi");
}

TEST_F(StoreTest, RmiRefusesAnImageAContainerUsesUnlessForced) {
    ASSERT_EQ(0, k({"load", "-q", "-i", fixtures() + "/docker-archive.tar"}).code);
    const std::string img = "localhost/kapsel-busybox";
    Output stopped = k({"run", "--name", "st-done", img, "true"});
    ASSERT_EQ(0, stopped.code) << stopped.err;
    Output refused = k({"rmi", img});
    EXPECT_EQ(2, refused.code) << "podman's exit status for an image in use";
    EXPECT_NE(std::string::npos, refused.err.find("in use by container")) << refused.err;
    EXPECT_NE(std::string::npos, refused.err.find("st-done")) << refused.err;
    ASSERT_EQ(0, k({"rm", "st-done"}).code);

    Output d = k({"run", "-d", "--name", "st-live", img, "sleep", "600"});
    ASSERT_EQ(0, d.code) << d.err;
    json c = container("st-live");
    int pid = c["State"].value("pid", 0);
    ASSERT_GT(pid, 0) << c.dump();
    EXPECT_EQ(2, k({"rmi", img}).code) << "a running container holds the image";
    Output forced = k({"rmi", "-f", img});
    EXPECT_EQ(0, forced.code) << forced.err;
    for (int i = 0; i < 100 && process_alive(pid); ++i) usleep(20000);
    EXPECT_FALSE(process_alive(pid)) << "rmi -f removes the running container, as podman does";
    EXPECT_TRUE(container("st-live").is_null());
    EXPECT_TRUE(images().empty());
    expect_empty("containers");
    expect_check_clean("after rmi -f");
    EXPECT_EQ("", k({"list", "-q"}).out) << "no runtime state left";
}

TEST_F(StoreTest, CheckFindsDamageAndRepairMendsIt) {
    std::string l = tar("l", {{{"name", "alpha"}, {"data", "alpha content"}}, {{"name", "beta"}, {"data", "beta"}}});
    ASSERT_EQ(0, k({"pull", "-q", image("dmg", {l})}).code);
    json img = images()[0];
    std::string layer = img["layers"][0];
    expect_check_clean("after pull");

    // A stored file changed behind the store's back (same size): the layer using it is damaged.
    { std::ofstream(layer_dir(layer) + "/alpha", std::ios::in | std::ios::out) << "ALPHA"; }
    Output c = k({"system", "check"});
    EXPECT_EQ(1, c.code);
    EXPECT_NE(std::string::npos, c.out.find("its content does not match its digest (the layers using it are damaged)")) << c.out;
    EXPECT_NE(std::string::npos, c.out.find("its layer " + layer + " holds a corrupt file")) << c.out;
    Output r = k({"system", "check", "--repair"});
    EXPECT_EQ(0, r.code) << r.out << r.err;
    EXPECT_NE(std::string::npos, r.out.find("repaired: unpacked the layer " + layer + " again from its blob")) << r.out;
    EXPECT_EQ("alpha content", read_text(layer_dir(layer) + "/alpha"));
    expect_check_clean("after repairing a file");

    // A missing marker: the layer counts as incomplete, and is unpacked again.
    fsys::remove(layer_dir(layer) + ".json");
    c = k({"system", "check"});
    EXPECT_EQ(1, c.code);
    EXPECT_NE(std::string::npos, c.out.find("is incomplete (no marker)")) << c.out;
    EXPECT_NE(std::string::npos, k({"run", "--rm", "localhost/dmg", "true"}).err.find("is damaged")) << "run refuses it";
    EXPECT_EQ(0, k({"system", "check", "--repair"}).code);
    expect_check_clean("after repairing a marker");

    // A corrupt config cannot be mended: the image leaves the index, prune takes the rest.
    { std::ofstream(blob(img["id"]), std::ios::app) << " "; }
    c = k({"system", "check"});
    EXPECT_EQ(1, c.code);
    EXPECT_NE(std::string::npos, c.out.find("blob " + img["id"].get<std::string>() + ": its content does not match its digest"))
        << c.out;
    EXPECT_NE(std::string::npos, c.out.find("image localhost/dmg:latest: its config blob")) << c.out;
    r = k({"system", "check", "--repair"});
    EXPECT_EQ(0, r.code) << r.out;
    EXPECT_NE(std::string::npos, r.out.find("repaired: removed the image localhost/dmg:latest from the index")) << r.out;
    EXPECT_NE(std::string::npos, r.out.find("kapsel system prune removes the rest")) << r.out;
    EXPECT_TRUE(images().empty());
    ASSERT_EQ(0, k({"system", "prune"}).code);
    expect_check_clean("after prune");
    expect_empty("layers");
}

// A stored inode is shared by every layer that has the file, so all it carries is in
// its key; a change to any of it behind the store's back is damage, which --repair mends.
TEST_F(StoreTest, CheckFindsAStoredFileWhoseMetadataNoLongerMatchesItsKey) {
    std::string l = tar("l", {{{"name", "m"}, {"data", "mode"}, {"mode", 0755}, {"mtime", 1000}},
                              {{"name", "t"}, {"data", "time"}, {"mtime", 1000}},
                              {{"name", "x"}, {"data", "xattr"}, {"mtime", 1000}, {"xattrs", {{"user.k", "v"}}}},
                              {{"name", "o"}, {"data", "owner"}, {"mtime", 1000}}});
    ASSERT_EQ(0, k({"pull", "-q", image("meta", {l})}).code);
    std::string layer = images()[0]["layers"][0];
    std::string dir = layer_dir(layer);
    expect_check_clean("after pull");

    ASSERT_EQ(0, ::chmod((dir + "/m").c_str(), 04777));
    timespec t[2] = {{2000, 0}, {2000, 0}};
    ASSERT_EQ(0, ::utimensat(AT_FDCWD, (dir + "/t").c_str(), t, 0));
    ASSERT_EQ(0, ::setxattr((dir + "/x").c_str(), "user.k", "w", 1, 0));
    ASSERT_EQ(0, ::chown((dir + "/o").c_str(), 1234, 1234));
    Output c = k({"system", "check"});
    EXPECT_EQ(1, c.code);
    EXPECT_NE(std::string::npos, c.out.find("its mode or owner does not match its name (the layers using it are damaged)")) << c.out;
    EXPECT_NE(std::string::npos, c.out.find("its mtime does not match its name")) << c.out;
    EXPECT_NE(std::string::npos, c.out.find("its xattrs do not match its name")) << c.out;
    EXPECT_EQ(4, std::count(c.out.begin(), c.out.end(), '\n') - 1) << "four files and the layer:\n" << c.out;
    EXPECT_NE(std::string::npos, c.out.find("its layer " + layer + " holds a corrupt file")) << c.out;

    Output r = k({"system", "check", "--repair"});
    EXPECT_EQ(0, r.code) << r.out << r.err;
    struct stat st;
    ASSERT_EQ(0, ::stat((dir + "/m").c_str(), &st));
    EXPECT_EQ(0755u, st.st_mode & 07777);
    ASSERT_EQ(0, ::stat((dir + "/t").c_str(), &st));
    EXPECT_EQ(1000, st.st_mtime);
    ASSERT_EQ(0, ::stat((dir + "/o").c_str(), &st));
    EXPECT_EQ(0u, st.st_uid);
    char v[4] = {};
    EXPECT_EQ(1, ::getxattr((dir + "/x").c_str(), "user.k", v, sizeof v));
    EXPECT_EQ('v', v[0]);
    expect_check_clean("after repair");
}

// Every regular file of a layer is a link into the file store. One that is not (a
// stored file replaced there, the layer keeping the old inode) is damage too, and so
// is a stored file under the older name, which did not state the mtime and xattrs.
TEST_F(StoreTest, CheckFindsLayerFilesOutsideTheFileStoreAndOlderNames) {
    std::string l = tar("l", {{{"name", "a"}, {"data", "a"}}, {{"name", "b"}, {"data", "b"}}});
    ASSERT_EQ(0, k({"pull", "-q", image("old", {l})}).code);
    std::string layer = images()[0]["layers"][0];
    std::string dir = layer_dir(layer);
    struct stat sa, sb;
    ASSERT_EQ(0, ::stat((dir + "/a").c_str(), &sa));
    ASSERT_EQ(0, ::stat((dir + "/b").c_str(), &sb));
    std::string stored_a, stored_b;
    for (auto& e : fsys::recursive_directory_iterator(store() + "/files")) {
        struct stat st;
        if (::stat(e.path().c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_ino == sa.st_ino) stored_a = e.path();
        if (::stat(e.path().c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_ino == sb.st_ino) stored_b = e.path();
    }
    ASSERT_FALSE(stored_a.empty());
    ASSERT_FALSE(stored_b.empty());
    // a: the layer's link goes its own way; b: its stored name takes the older form.
    ASSERT_EQ(0, ::unlink((dir + "/a").c_str()));
    { std::ofstream(dir + "/a") << "a"; }
    std::string name_b = fsys::path(stored_b).filename();
    std::string legacy = name_b.substr(0, 64) + "-644-0-0";
    ASSERT_EQ(0, ::rename(stored_b.c_str(), (fsys::path(stored_b).parent_path() / legacy).c_str()));

    Output c = k({"system", "check"});
    EXPECT_EQ(1, c.code);
    EXPECT_NE(std::string::npos, c.out.find(legacy + ": stored under an older name that does not state its mtime and xattrs")) << c.out;
    EXPECT_NE(std::string::npos, c.out.find("its layer " + layer + " holds")) << c.out;
    Output r = k({"system", "check", "--repair"});
    EXPECT_EQ(0, r.code) << r.out << r.err;
    Output again = k({"system", "check"});
    expect_only_garbage(again, "after repair");
    ASSERT_EQ(0, k({"system", "prune"}).code);
    expect_check_clean("after prune");
    // Without b's older name the layer is still damaged by a alone.
    ASSERT_EQ(0, ::unlink((dir + "/a").c_str()));
    { std::ofstream(dir + "/a") << "a"; }
    c = k({"system", "check"});
    EXPECT_EQ(1, c.code);
    EXPECT_NE(std::string::npos, c.out.find("its layer " + layer + " holds a file that is not in the file store")) << c.out;
}

TEST_F(StoreTest, AStoredFileOfTheWrongSizeIsReplacedByTheNextImportOfIt) {
    // What a power cut before writeback leaves: the stored file's name, with no data.
    std::string first = tar("first", {{{"name", "same"}, {"data", "the shared content"}}});
    ASSERT_EQ(0, k({"pull", "-q", image("one", {first})}).code);
    std::string first_layer = images()[0]["layers"][0];
    ASSERT_EQ(0, ::truncate((layer_dir(first_layer) + "/same").c_str(), 0));

    std::string second = tar("second", {{{"name", "same"}, {"data", "the shared content"}},
                                        {{"name", "other"}, {"data", "x"}}});
    ASSERT_EQ(0, k({"pull", "-q", image("two", {second})}).code);
    std::string second_layer;
    for (auto& img : images())
        if (img["layers"][0] != first_layer) second_layer = img["layers"][0];
    ASSERT_FALSE(second_layer.empty());
    EXPECT_EQ("the shared content", read_text(layer_dir(second_layer) + "/same"));
    // And it is the file store's copy now: a third import shares it.
    struct stat a, b;
    ASSERT_EQ(0, stat((layer_dir(second_layer) + "/same").c_str(), &a));
    std::string third = tar("third", {{{"name", "same"}, {"data", "the shared content"}},
                                       {{"name", "third"}, {"data", "y"}}});
    ASSERT_EQ(0, k({"pull", "-q", image("three", {third})}).code);
    std::string third_layer;
    for (auto& img : images())
        if (img["layers"][0] != first_layer && img["layers"][0] != second_layer) third_layer = img["layers"][0];
    ASSERT_EQ(0, stat((layer_dir(third_layer) + "/same").c_str(), &b));
    EXPECT_EQ(a.st_ino, b.st_ino);
    // Nothing is left under a temporary name.
    for (auto& e : fsys::recursive_directory_iterator(store() + "/files"))
        EXPECT_EQ(std::string::npos, e.path().string().find(".new")) << e.path();
}

TEST_F(StoreTest, PruneRemovesLeftoversAndUnreferencedContentButKeepsImages) {
    ASSERT_EQ(0, k({"load", "-q", "-i", fixtures() + "/oci-archive.tar"}).code);
    expect_check_clean("after load");
    // What interrupted commands leave: a temp dir, an unmarked layer, a blob no image names.
    fsys::create_directories(store() + "/tmp/layer.killed/usr");
    { std::ofstream(store() + "/tmp/layer.killed/usr/f") << "half"; }
    std::string half = store() + "/layers/" + std::string(64, 'e');
    fsys::create_directories(half);
    { std::ofstream(half + "/x") << "x"; }
    std::string orphan_hex = "03ac674216f3e15c761ee1a5e255f067953623c8b388b4459e13f978d7c846f4";  // sha256("1234")
    { std::ofstream(store() + "/blobs/sha256/" + orphan_hex) << "1234"; }
    Output c = k({"system", "check"});
    EXPECT_EQ(3u, lines_of(c.out).size()) << c.out;
    expect_only_garbage(c, "leftovers");
    EXPECT_NE(std::string::npos, c.out.find("tmp/layer.killed: left by an interrupted operation")) << c.out;
    EXPECT_NE(std::string::npos, c.out.find("layer sha256:" + std::string(64, 'e') + ": incomplete")) << c.out;
    EXPECT_NE(std::string::npos, c.out.find("blob sha256:" + orphan_hex + ": no image uses it")) << c.out;

    Output p = k({"system", "prune"});
    ASSERT_EQ(0, p.code) << p.err;
    EXPECT_NE(std::string::npos, p.out.find("removed tmp/layer.killed")) << p.out;
    EXPECT_NE(std::string::npos, p.out.find("removed incomplete layer sha256:" + std::string(64, 'e'))) << p.out;
    EXPECT_NE(std::string::npos, p.out.find("removed blob sha256:" + orphan_hex)) << p.out;
    EXPECT_NE(std::string::npos, p.out.find("Total reclaimed space: ")) << p.out;
    expect_check_clean("after prune");
    expect_empty("tmp");
    EXPECT_EQ(1u, images().size()) << "prune keeps images";
    Output run = k({"run", "--rm", "localhost/kapsel-busybox", "echo", "still", "runs"});
    EXPECT_EQ("still runs\n", run.out) << run.err;
}

TEST_F(StoreTest, PruneRemovesRmContainersWhoseMonitorDied) {
    ASSERT_EQ(0, k({"load", "-q", "-i", fixtures() + "/docker-archive.tar"}).code);
    ASSERT_EQ(0, k({"run", "-d", "--rm", "--name", "orphan", "localhost/kapsel-busybox", "sleep", "600"}).code);
    json c = container("orphan");
    std::string id = c["Id"];
    int monitor = c["Container"]["monitor"].value("pid", 0);
    int pid = c["State"].value("pid", 0);
    ASSERT_GT(monitor, 0) << c.dump();
    ASSERT_NE(monitor, pid);
    ASSERT_EQ(0, kill(monitor, SIGKILL));
    for (int i = 0; i < 100 && process_alive(monitor); ++i) usleep(20000);
    // While the container still runs, it is not prune's to take.
    if (process_alive(pid)) {
        ASSERT_EQ(0, k({"system", "prune"}).code);
        EXPECT_TRUE(fsys::exists(store() + "/containers/" + id)) << "a running container stays";
        k({"kill", id, "KILL"});
        for (int i = 0; i < 250 && process_alive(pid); ++i) usleep(20000);
    }
    ASSERT_FALSE(process_alive(pid));
    Output chk = k({"system", "check"});
    EXPECT_EQ(0, chk.code) << "an abandoned container is garbage, not damage";
    EXPECT_NE(std::string::npos, chk.out.find("container " + id.substr(0, 12) + " (orphan): a --rm container whose monitor died (prune removes it)"))
        << chk.out;
    Output p = k({"system", "prune"});
    ASSERT_EQ(0, p.code) << p.err;
    EXPECT_NE(std::string::npos, p.out.find("removed container " + id.substr(0, 12))) << p.out;
    expect_empty("containers");
    EXPECT_EQ("", k({"list", "-q"}).out) << "its runtime state went too";
    expect_check_clean("after pruning the container");
}

TEST_F(StoreTest, ConcurrentImportsOfTheSameImagesAllSucceed) {
    std::string big = archive("big", {big_tar("bigl", 24, 240)});
    for (int round = 0; round < 3; ++round) {
        std::vector<std::vector<std::string>> cmds = {
            {"load", "-q", "-i", big},
            {"load", "-q", "-i", big},
            {"load", "-q", "-i", fixtures() + "/docker-archive.tar"},
            {"load", "-q", "-i", fixtures() + "/oci-archive.tar"},
            {"pull", "-q", "oci:" + fixtures() + "/oci:latest"},
            {"pull", "-q", "oci:" + root() + "/big-oci"},
        };
        std::vector<Output> outs(cmds.size());
        std::vector<std::thread> threads;
        for (size_t i = 0; i < cmds.size(); ++i) threads.emplace_back([&, i] { outs[i] = k(cmds[i], 120000); });
        for (auto& t : threads) t.join();
        for (size_t i = 0; i < cmds.size(); ++i) EXPECT_EQ(0, outs[i].code) << "round " << round << ": " << cmds[i][0] << " " << cmds[i].back() << ": " << outs[i].err;
        EXPECT_EQ(2u, images().size());
        expect_check_clean("after concurrent imports");
        // Each layer file is one inode with its stored copy: no import kept a private one.
        json list = images();
        for (auto& i : list)
            if (i["names"][0] == "localhost/big:latest") {
                struct stat st;
                ASSERT_EQ(0, stat((layer_dir(i["layers"][0]) + "/big/f00007").c_str(), &st));
                EXPECT_EQ(2u, st.st_nlink);
            }
        expect_empty("tmp");
        ASSERT_EQ(0, k({"rmi", "-a"}).code);
        expect_check_clean("after rmi -a");
        EXPECT_EQ(0u, entries_below(store() + "/files"));
    }
}

TEST_F(StoreTest, RunRacingRmiEitherRunsOrFailsCleanly) {
    const std::string img = "localhost/kapsel-busybox";
    int ran = 0, removed = 0;
    for (int round = 0; round < 10; ++round) {
        ASSERT_EQ(0, k({"load", "-q", "-i", fixtures() + "/docker-archive.tar"}).code);
        std::string name = "race" + std::to_string(round);
        Output run, rmi;
        std::thread t1([&] { run = k({"run", "-d", "--name", name, img, "sleep", "600"}); });
        std::thread t2([&] {
            usleep(static_cast<useconds_t>(round * 3000));  // a different moment each round
            rmi = k({"rmi", img});
        });
        t1.join();
        t2.join();
        if (run.code == 0) {
            ++ran;
            EXPECT_EQ(2, rmi.code) << "the container holds the image: " << rmi.out << rmi.err;
            json c = container(name);
            EXPECT_EQ("running", c["State"].value("status", "")) << c.dump();
            // Its root is the whole image: every layer is still there under it.
            Output ls = k({"exec", name, "/bin/busybox", "sha256sum", "/bin/busybox"});
            EXPECT_EQ(0, ls.code) << ls.err;
            EXPECT_EQ(64u, ls.out.find(' ')) << ls.out;
            ASSERT_EQ(0, k({"rm", "-f", name}).code);
        } else {
            ++removed;
            EXPECT_EQ(1, run.code);
            EXPECT_NE(std::string::npos, run.err.find("is not in the store")) << run.err;
            EXPECT_EQ(0, rmi.code) << rmi.err;
            EXPECT_TRUE(container(name).is_null());
        }
        expect_empty("containers");
        expect_check_clean(("round " + std::to_string(round)).c_str());
    }
    std::printf("run first: %d, rmi first: %d\n", ran, removed);
}

// The images (names and ids) in the store, for comparing before and after.
std::set<std::string> image_set(const json& list) {
    std::set<std::string> out;
    for (auto& i : list) out.insert(i["id"].get<std::string>() + " " + i["names"].dump());
    return out;
}

TEST_F(StoreTest, LoadsKilledAtAnyPointLeaveTheStoreConsistent) {
    // Another image stays in the store throughout: a killed load must not touch the index.
    ASSERT_EQ(0, k({"load", "-q", "-i", fixtures() + "/docker-archive.tar"}).code);
    const auto before = image_set(images());
    std::string big = archive("crash", {big_tar("crashl", 100, 400), tar("small", {{{"name", "top"}, {"data", "top layer"}}})});
    // How long one load takes here, to spread the kills over it.
    int64_t t0 = now_ms();
    ASSERT_EQ(0, k({"load", "-q", "-i", big}).code);
    int64_t full = std::max<int64_t>(now_ms() - t0, 200);
    ASSERT_EQ(0, k({"rmi", "localhost/crash"}).code);
    expect_check_clean("after the first load and rmi");
    int mid = 0;
    for (double at : {0.03, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.97}) {
        pid_t pid = spawn(base({"load", "-q", "-i", big}));
        usleep(static_cast<useconds_t>(static_cast<double>(full) * at * 1000));
        kill(pid, SIGKILL);
        int code = wait_code(pid);
        std::string when = "killed at " + std::to_string(at) + " (exit " + std::to_string(code) + ")";
        expect_only_garbage(k({"system", "check"}, 120000), when);
        auto after = image_set(images());
        if (after != before) {
            // Killed after the index named it: then the image is whole (check found no damage).
            EXPECT_EQ(before.size() + 1, after.size()) << when;
            ASSERT_EQ(0, k({"rmi", "localhost/crash"}).code) << when;
        } else if (code == 128 + SIGKILL) {
            ++mid;
        }
    }
    EXPECT_GE(mid, 3) << "most kills land in the middle of the import";
    Output l = k({"load", "-q", "-i", big}, 120000);
    ASSERT_EQ(0, l.code) << "a retry succeeds: " << l.err;
    json list = images();
    ASSERT_EQ(before.size() + 1, list.size());
    for (auto& img : list)
        if (img["names"][0] == "localhost/crash:latest") {
            Output want = run_program({"/bin/sh", "-c", "tar -xOf " + root() + "/crashl.tar big/f00123 | sha256sum"});
            Output got = run_program({"/usr/bin/sha256sum", layer_dir(img["layers"][0]) + "/big/f00123"});
            EXPECT_EQ(want.out.substr(0, 64), got.out.substr(0, 64)) << "the layer's content is whole";
        }
    // A killed rmi leaves garbage too, never damage.
    pid_t rmi = spawn(base({"rmi", "localhost/crash"}));
    usleep(30000);
    kill(rmi, SIGKILL);
    wait_code(rmi);
    expect_only_garbage(k({"system", "check"}, 120000), "rmi killed");
    Output p = k({"system", "prune"}, 120000);
    ASSERT_EQ(0, p.code) << p.err;
    expect_check_clean("after prune");
    expect_empty("tmp");
    ASSERT_EQ(0, k({"load", "-q", "-i", big}, 120000).code) << "a load after all that";
    expect_check_clean("after the last load");
    Output run = k({"run", "--rm", "localhost/kapsel-busybox", "echo", "untouched"});
    EXPECT_EQ("untouched\n", run.out) << "the other image still runs: " << run.err;
}

// `kapsel load -i -` fed from a pipe, which stops half-way through the archive, and is
// then killed: the import is certainly in the middle of a layer.
void load_killed_mid_pipe(StoreTest& t, const std::string& archive_path, double fraction) {
    const auto before = image_set(t.images());
    std::string data = read_text(archive_path);
    ASSERT_GT(data.size(), 1u << 20);
    int in[2];
    ASSERT_EQ(0, pipe2(in, O_CLOEXEC));
    signal(SIGPIPE, SIG_IGN);  // a load that fails early must fail this test, not kill it
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], STDIN_FILENO);
        int null = open("/dev/null", O_RDWR);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        auto argv = t.base({"load", "-q", "-i", "-"});
        exec_argv(argv);
    }
    close(in[0]);
    size_t want = static_cast<size_t>(static_cast<double>(data.size()) * fraction), sent = 0;
    while (sent < want) {  // blocks until load has read all but a pipe buffer of it
        ssize_t n = write(in[1], data.data() + sent, std::min<size_t>(want - sent, 1 << 16));
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
    }
    EXPECT_EQ(want, sent) << "load stopped reading early";
    usleep(200000);  // let it unpack what it has read
    EXPECT_GT(entries_below(t.store() + "/tmp"), 0u) << "an import in progress writes under tmp/";
    kill(pid, SIGKILL);
    close(in[1]);
    EXPECT_EQ(128 + SIGKILL, wait_code(pid)) << "killed, not finished";

    Output c = t.k({"system", "check"}, 120000);
    t.expect_only_garbage(c, "after the kill");
    EXPECT_NE(std::string::npos, c.out.find("tmp/")) << "check lists the leftovers: " << c.out;
    EXPECT_EQ(before, image_set(t.images())) << "the image list is unchanged";

    Output retry = run_program(t.base({"load", "-q", "-i", "-"}), data, 120000);
    ASSERT_EQ(0, retry.code) << "a retry succeeds: " << retry.err;
    EXPECT_EQ(before.size() + 1, t.images().size());

    Output p = t.k({"system", "prune"}, 120000);
    ASSERT_EQ(0, p.code) << p.err;
    EXPECT_NE(std::string::npos, p.out.find("removed tmp/")) << p.out;
    EXPECT_NE(std::string::npos, p.out.find("Total reclaimed space: ")) << p.out;
    t.expect_check_clean("after prune");
    t.expect_empty("tmp");
    EXPECT_EQ(before.size() + 1, t.images().size()) << "prune keeps images";
}

TEST_F(StoreTest, LoadFromAPipeKilledMidLayer) {
    ASSERT_EQ(0, k({"load", "-q", "-i", fixtures() + "/docker-archive.tar"}).code);
    load_killed_mid_pipe(*this, archive("pipe", {big_tar("pipel", 40, 160)}), 0.5);
}

TEST_F(StoreTest, DebianLoadKilledMidLayer) {
    std::string debian = std::string(KAPSEL_TEST_DEBIAN) + "/docker-archive.tar";
    if (access(debian.c_str(), R_OK) != 0)
        GTEST_SKIP() << "skipped: the Debian image fixture is missing (" << debian
                     << "; the debian_image_fixture test builds it and needs the Debian mirror)";
    ASSERT_EQ(0, k({"load", "-q", "-i", fixtures() + "/docker-archive.tar"}).code);
    load_killed_mid_pipe(*this, debian, 0.4);
    Output os = k({"run", "--rm", "localhost/kapsel-debian", "cat", "/etc/debian_version"});
    EXPECT_EQ(0, os.code) << os.err;
    EXPECT_EQ('1', os.out[0]) << "bookworm is 12.x: " << os.out;
}

TEST_F(StoreTest, ProgressOnATerminalOnly) {
    std::string archive_path = fixtures() + "/docker-archive.tar";
    Output tty = run_on_pty(base({"load", "-i", archive_path}));
    EXPECT_EQ(0, tty.code) << tty.out;
    EXPECT_NE(std::string::npos, tty.out.find("Loaded image: localhost/kapsel-busybox:latest")) << tty.out;
    // "layer 1: 1.9 of 1.9 MB, 40 MB/s", redrawn in place, the last figures kept.
    std::smatch m;
    // (\033[K clears the rest of the terminal line.)
    std::regex line(R"(\rlayer 1: ([0-9.]+) of ([0-9.]+) MB, [0-9]+ MB/s\x1b\[K\r?\n)");
    ASSERT_TRUE(std::regex_search(tty.out, m, line)) << tty.out;
    EXPECT_GT(std::stod(m[2]), 0.5);
    EXPECT_EQ(m[1], m[2]) << "the final figures: all of it";

    // A pull: one line per layer, numbered out of the total.
    std::string l1 = big_tar("p1", 6, 12), l2 = tar("p2", {{{"name", "top"}, {"data", "top layer"}}});
    Output pull = run_on_pty(base({"pull", image("two", {l1, l2})}));
    EXPECT_EQ(0, pull.code) << pull.out;
    std::regex first(R"(\rlayer 1/2: 6\.0 of 6\.0 MB, [0-9]+ MB/s\x1b\[K\r?\n)"),
        second(R"(\rlayer 2/2: [0-9.]+ of [0-9.]+ MB, [0-9]+ MB/s\x1b\[K\r?\n)");
    EXPECT_TRUE(std::regex_search(pull.out, first)) << pull.out;
    EXPECT_TRUE(std::regex_search(pull.out, second)) << pull.out;

    // -q on a terminal: the result, nothing progress-like.
    Output quiet = run_on_pty(base({"load", "-q", "-i", archive_path}));
    EXPECT_EQ(0, quiet.code) << quiet.out;
    EXPECT_NE(std::string::npos, quiet.out.find("Loaded image:")) << quiet.out;
    EXPECT_EQ(std::string::npos, quiet.out.find("MB")) << "-q: " << quiet.out;
    EXPECT_EQ(std::string::npos, quiet.out.find('\r' + std::string("layer"))) << "-q: " << quiet.out;

    // stderr on the terminal but stdout to a file (a script's redirect): nothing either.
    std::string out_file = root() + "/load.out";
    Output redirected = run_on_pty(base({"load", "-i", archive_path}), out_file);
    EXPECT_EQ(0, redirected.code) << redirected.out;
    EXPECT_EQ("", redirected.out) << "no progress when stdout is not a terminal";
    EXPECT_EQ("Loaded image: localhost/kapsel-busybox:latest\n", read_text(out_file));

    // Neither a terminal.
    ASSERT_EQ(0, k({"rmi", "-a"}).code);
    Output piped = k({"load", "-i", archive_path});
    EXPECT_EQ(0, piped.code);
    EXPECT_EQ("Loaded image: localhost/kapsel-busybox:latest\n", piped.out);
    EXPECT_EQ("", piped.err) << "no progress when stderr is not a terminal";
}

TEST_F(StoreTest, HelpAndManPages) {
    Output h = k({"--help"});
    EXPECT_NE(std::string::npos, h.out.find("  rmi ")) << h.out;
    EXPECT_NE(std::string::npos, h.out.find("  system ")) << h.out;
    Output r = k({"rmi", "--help"});
    EXPECT_EQ(0, r.code);
    EXPECT_NE(std::string::npos, r.out.find("--force")) << r.out;
    Output s = k({"system", "--help"});
    EXPECT_EQ(0, s.code);
    EXPECT_NE(std::string::npos, s.out.find("prune")) << s.out;
    EXPECT_EQ(0, k({"system", "check", "--help"}).code);
    Output bad = k({"system", "frobnicate"});
    EXPECT_EQ(1, bad.code);
    EXPECT_EQ(1, std::count(bad.err.begin(), bad.err.end(), '\n')) << bad.err;
    for (const char* page : {"kapsel-rmi.8", "kapsel-system.8", "kapsel-images.8", "kapsel-load.8", "kapsel-import.8"})
        EXPECT_TRUE(fsys::exists(std::string(KAPSEL_TEST_SOURCE_DIR) + "/docs/man/" + page)) << page;
}

}  // namespace
}  // namespace kapsel::test
