// Untrusted image input (issue 12): archives and OCI layouts whose metadata is
// wrongly typed, oversized or names images with control characters. Each is refused
// with one line naming the document and the field, never an abort, and leaves the
// store consistent (`system check` passes, no image is added).
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "harness.hpp"

namespace kapsel::test {
namespace {

namespace fsys = std::filesystem;

class ImageInput : public KapselTest {
  protected:
    std::string store() { return root() + "/store"; }
    Output k(const std::vector<std::string>& args, int timeout_ms = 60000) {
        std::vector<std::string> a = {"--storage-root", store()};
        a.insert(a.end(), args.begin(), args.end());
        return kapsel(a, "", timeout_ms);
    }
    static std::string fixture(const std::string& name) {
        return std::string(KAPSEL_TEST_IMAGES) + "/" + name;
    }
    // A copy of a fixture archive with edits (tools/rearchive.py); `printed` gets what
    // the tool printed (the digests of rewritten OCI documents).
    std::string rearchive(const std::string& from, const std::vector<std::string>& edits,
                          std::string* printed = nullptr) {
        std::string out = root() + "/edited-" + std::to_string(++archives_) + ".tar";
        std::vector<std::string> argv = {"/usr/bin/python3",
                                         std::string(KAPSEL_TEST_TOOLS) + "/rearchive.py",
                                         fixture(from), out};
        argv.insert(argv.end(), edits.begin(), edits.end());
        Output o = run_program(argv, "", 120000);
        EXPECT_EQ(0, o.code) << o.err;
        if (printed) *printed = o.out;
        return out;
    }
    // The digest rearchive.py printed for `what` ("manifest", "config").
    static std::string printed_digest(const std::string& printed, const std::string& what) {
        auto at = printed.find(what + " sha256:");
        return at == std::string::npos ? "" : printed.substr(at + what.size() + 1, 71);
    }
    json images() { return json::parse(k({"images", "--format", "json"}).out, nullptr, false); }

    // Refused with exit status 1 (not 134, SIGABRT), one line that says `message`, and
    // the store as consistent as before.
    void expect_refused(const Output& o, const std::string& message, const std::string& what) {
        EXPECT_EQ(1, o.code) << what << ": " << o.err;
        EXPECT_EQ(std::string::npos, o.err.find("terminate")) << what << ": " << o.err;
        EXPECT_EQ(1, std::count(o.err.begin(), o.err.end(), '\n')) << what << ": one line: " << o.err;
        EXPECT_NE(std::string::npos, o.err.find(message)) << what << ": " << o.err;
        EXPECT_TRUE(images().empty()) << what << ": " << images().dump();
        Output check = k({"system", "check"});
        EXPECT_EQ(0, check.code) << what << ": " << check.out << check.err;
    }

    int archives_ = 0;
};

TEST_F(ImageInput, WronglyTypedDockerArchiveMetadataIsRefused) {
    struct Case {
        std::vector<std::string> edits;
        std::string message;
    } cases[] = {
        {{"--set", "manifest.json", "[1]"}, "manifest.json: [0]: expected an object, got 1"},
        {{"--set", "manifest.json", "{\"Config\": \"x\"}"},
         "manifest.json: expected an array, got an object"},
        {{"--set", "manifest.json", "[]"}, "manifest.json: lists no image"},
        {{"--merge-docker", R"({"Layers": [5]})"},
         "manifest.json: [0].Layers[0]: expected a string, got 5"},
        {{"--merge-docker", R"({"Config": 5})"},
         "manifest.json: [0].Config: expected a string, got 5"},
        {{"--merge-docker", R"({"RepoTags": "x"})"},
         "manifest.json: [0].RepoTags: expected an array, got the string \"x\""},
        {{"--merge-config", R"({"architecture": 5})"},
         ".json: architecture: expected a string, got 5"},
        {{"--merge-config", R"({"rootfs": {"diff_ids": [5]}})"},
         ".json: rootfs.diff_ids[0]: expected a string, got 5"},
        {{"--set", "manifest.json", std::string(100000, '[')},
         "manifest.json: nested deeper than 64 levels"},
    };
    for (auto& c : cases) {
        Output o = k({"load", "-q", "-i", rearchive("docker-archive.tar", c.edits)});
        expect_refused(o, c.message, c.edits.back());
    }
}

TEST_F(ImageInput, WronglyTypedOciArchiveMetadataIsRefused) {
    struct Case {
        std::vector<std::string> edits;
        std::string message;  // after "<document> ", or the whole of it
        std::string document;  // "manifest" or "config": named by its new digest
    } cases[] = {
        {{"--set", "index.json", "[1]"}, "index.json: expected an object, got an array", ""},
        {{"--merge-index", R"({"manifests": 5})"}, "index.json: manifests: expected an array, got 5",
         ""},
        {{"--merge-index-entry", R"({"mediaType": 5})"},
         "index.json: manifests[0].mediaType: expected a string, got 5", ""},
        {{"--merge-index-entry", R"({"size": "big"})"},
         "index.json: manifests[0].size: expected an unsigned integer, got the string \"big\"", ""},
        {{"--merge-index-entry", R"({"annotations": {"org.opencontainers.image.ref.name": 5}})"},
         "index.json: manifests[0].annotations.org.opencontainers.image.ref.name: expected a "
         "string, got 5",
         ""},
        {{"--set", "oci-layout", R"({"imageLayoutVersion": 1})"},
         "oci-layout: imageLayoutVersion: expected a string, got 1", ""},
        {{"--merge-manifest", R"({"mediaType": 5})"}, ": mediaType: expected a string, got 5",
         "manifest"},
        {{"--merge-manifest", R"({"layers": [5]})"}, ": layers[0]: expected an object, got 5",
         "manifest"},
        {{"--merge-manifest", R"({"config": {"size": -1}})"},
         ": config.size: expected an unsigned integer, got -1", "manifest"},
        {{"--merge-config", R"({"architecture": 5})"}, ": architecture: expected a string, got 5",
         "config"},
        {{"--merge-config", R"({"config": {"Env": [1]}})"},
         ": config.Env[0]: expected a string, got 1", "config"},
    };
    for (auto& c : cases) {
        std::string printed;
        std::string archive = rearchive("oci-archive.tar", c.edits, &printed);
        std::string message = c.message;
        if (!c.document.empty())
            message = c.document + " " + printed_digest(printed, c.document) + c.message;
        expect_refused(k({"load", "-q", "-i", archive}), message, c.edits.back());
    }
}

TEST_F(ImageInput, WronglyTypedOciLayoutIsRefused) {
    std::string dir = root() + "/layout";
    fsys::copy(fixture("oci"), dir, fsys::copy_options::recursive);
    auto write = [&](const std::string& name, const std::string& text) {
        std::ofstream(dir + "/" + name, std::ios::trunc) << text;
    };
    std::string index = json::parse(std::ifstream(dir + "/index.json")).dump();

    write("index.json", "[1]");
    expect_refused(k({"pull", "-q", "oci:" + dir}), dir + "/index.json: expected an object, got an array",
                   "index.json [1]");
    write("index.json", R"({"manifests": [{"digest": 1}]})");
    expect_refused(k({"pull", "-q", "oci:" + dir}),
                   dir + "/index.json: manifests[0].digest: expected a string, got 1", "digest 1");
    write("index.json", index);
    write("oci-layout", R"({"imageLayoutVersion": []})");
    expect_refused(k({"pull", "-q", "oci:" + dir}),
                   dir + "/oci-layout: imageLayoutVersion: expected a string, got an array",
                   "oci-layout");
}

TEST_F(ImageInput, LayoutFilesAreReadInsideTheLayoutAndBounded) {
    std::string dir = root() + "/layout";
    fsys::copy(fixture("oci"), dir, fsys::copy_options::recursive);
    // A symlink out of the layout resolves inside it (there is no dev/zero there) ...
    fsys::remove(dir + "/index.json");
    fsys::create_symlink("/dev/zero", dir + "/index.json");
    Output o = k({"pull", "-q", "oci:" + dir}, 20000);
    expect_refused(o, "open " + dir + "/index.json: ", "symlink to /dev/zero");
    // ... and a document larger than any index is refused, not read whole.
    fsys::remove(dir + "/index.json");
    { std::ofstream(dir + "/index.json") << std::string(5 << 20, ' '); }
    o = k({"pull", "-q", "oci:" + dir}, 20000);
    expect_refused(o, dir + "/index.json: more than", "5 MiB index.json");
    // A fifo would block the reader for ever.
    fsys::remove(dir + "/index.json");
    ASSERT_EQ(0, mkfifo((dir + "/index.json").c_str(), 0644));
    o = k({"pull", "-q", "oci:" + dir}, 20000);
    expect_refused(o, dir + "/index.json is not a regular file", "fifo");
}

// Names with line breaks or escape sequences were stored as they were, and `kapsel
// images` printed lines of the archive's choosing.
TEST_F(ImageInput, ImageNamesOutsideTheReferenceGrammarAreRefused) {
    struct Case {
        std::string from;
        std::vector<std::string> edits;
        std::string message;
    } cases[] = {
        {"docker-archive.tar", {"--merge-docker", R"({"RepoTags": ["a\nb"]})"},
         "manifest.json: invalid image name \"a\\x0ab\": "},
        {"docker-archive.tar",
         {"--merge-docker", R"({"RepoTags": ["ok:1", "x:1\n\u001b[2Jlocalhost/fake:latest"]})"},
         "manifest.json: invalid image name \"x:1\\x0a\\x1b[2Jlocalhost/fake:latest\": "},
        {"docker-archive.tar", {"--merge-docker", R"({"RepoTags": ["UPPER/case"]})"},
         "must be lower case"},
        {"oci-archive.tar",
         {"--merge-index-entry",
          R"({"annotations": {"org.opencontainers.image.ref.name": "localhost/x:1\nb"}})"},
         "index.json: invalid image name \"localhost/x:1\\x0ab\": "},
        {"oci-archive.tar",
         {"--merge-index-entry", R"({"annotations": {"io.containerd.image.name": "x\ty"}})"},
         "index.json: invalid image name \"x\\x09y\": "},
    };
    for (auto& c : cases) {
        Output o = k({"load", "-q", "-i", rearchive(c.from, c.edits)});
        expect_refused(o, c.message, c.edits.back());
        EXPECT_EQ(std::string::npos, o.err.find('\x1b')) << "no escape sequence reaches the terminal";
        Output list = k({"images"});
        EXPECT_EQ(1, std::count(list.out.begin(), list.out.end(), '\n')) << "the header only: " << list.out;
    }

    // An OCI layout's bare tag becomes localhost/<dir>:<tag>. (The refused loads left
    // their streamed layers as garbage: pruned, to see that this leaves none.)
    ASSERT_EQ(0, k({"system", "prune"}).code);
    std::string dir = root() + "/layout";
    fsys::copy(fixture("oci"), dir, fsys::copy_options::recursive);
    json index = json::parse(std::ifstream(dir + "/index.json"));
    index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] = "v1\nfake";
    std::ofstream(dir + "/index.json", std::ios::trunc) << index.dump();
    expect_refused(k({"pull", "-q", "oci:" + dir}),
                   dir + "/index.json: invalid image name \"localhost/layout:v1\\x0afake\": ",
                   "layout ref.name");
    EXPECT_FALSE(fsys::exists(store() + "/layers") && !fsys::is_empty(store() + "/layers"))
        << "refused before any layer was read";

    // import's name is checked before the tar is read.
    Output imp = k({"import", "-q", fixture("oci") + "/index.json", "bad\nname"});
    expect_refused(imp, "invalid image name \"bad\\x0aname\": ", "import");
}

// Runs a program with its output to /dev/null; returns its exit status and its peak
// resident set in KiB.
std::pair<int, long> run_measured(const std::vector<std::string>& argv) {
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 1);
        dup2(null, 2);
        exec_argv(argv);
    }
    int status = 0;
    rusage ru{};
    wait4(pid, &status, 0, &ru);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), ru.ru_maxrss};
}

// load kept every entry that was not a layer in memory, up to 16 MiB each and with no
// limit on their number (940 MB for a crafted archive).
TEST_F(ImageInput, EntriesNoImageNeedsAreSkippedUnread) {
    std::string archive = rearchive("docker-archive.tar", {"--junk", "100", "1048576", "junk/%03d"});
    auto [code, rss_kib] = run_measured(
        {kapsel_binary(), "--storage-root", store(), "load", "-q", "-i", archive});
    EXPECT_EQ(0, code);
    EXPECT_LT(rss_kib, 60 * 1024) << "100 MiB of entries that are neither layers nor metadata";
    ASSERT_EQ(1u, images().size());
}

TEST_F(ImageInput, MetadataBeyondItsBoundIsRefused) {
    std::string archive =
        rearchive("docker-archive.tar", {"--junk", "70", "1048576", "extra-%03d.json"});
    Output o = k({"load", "-q", "-i", archive});
    expect_refused(o, "more than 64 MiB of metadata (manifests, configs, links) by entry", "70 MiB");
    EXPECT_NE(std::string::npos, o.err.find("extra-06")) << "names the entry: " << o.err;
}

}  // namespace
}  // namespace kapsel::test
