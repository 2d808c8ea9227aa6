// kapsel genode: the busybox and Debian images and a bundle as Genode deployments. The
// start node and sub-init config match golden files (tests/golden/genode; rewrite them
// with KAPSEL_UPDATE_GOLDEN=1 after a deliberate change), validate against Genode's own
// schemas (config.xsd for the XML, init.hsd for the HID, from ../shared/genode when
// present), say the same in XML and HID (tools/genode-normalise prints both in one form),
// and the tar holds the merged layers.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness.hpp"

namespace kapsel::test {
namespace {

namespace fsys = std::filesystem;

std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

std::string golden_dir() {
    return std::string(KAPSEL_TEST_SOURCE_DIR) + "/tests/golden/genode";
}

// Compares `actual` with the golden file, or rewrites it under KAPSEL_UPDATE_GOLDEN=1.
void expect_golden(const std::string& name, const std::string& actual) {
    std::string path = golden_dir() + "/" + name;
    if (const char* u = std::getenv("KAPSEL_UPDATE_GOLDEN"); u && std::string(u) == "1") {
        fsys::create_directories(golden_dir());
        write(path, actual);
        return;
    }
    ASSERT_TRUE(fsys::exists(path)) << path << " is missing (KAPSEL_UPDATE_GOLDEN=1 writes it)";
    EXPECT_EQ(read(path), actual) << "differs from " << path;
}

// The program's path in $PATH, or "" (run_program takes a path, not a name).
std::string which(const std::string& name) {
    Output o = run_program({"/bin/sh", "-c", "command -v " + name});
    return o.code == 0 ? o.out.substr(0, o.out.find('\n')) : "";
}

bool have_program(const std::string& name) {
    return !which(name).empty();
}

// Genode's config.xsd includes genode://base_types.xsd: a copy beside it with the
// include pointing at the file next to it.
std::string schema_copy(const std::string& dir) {
    std::string src = KAPSEL_TEST_GENODE_SCHEMAS;
    std::string xsd = read(src + "/config.xsd");
    const std::string from = "genode://base_types.xsd";
    auto at = xsd.find(from);
    if (at == std::string::npos) return "";
    xsd.replace(at, from.size(), "base_types.xsd");
    write(dir + "/config.xsd", xsd);
    fsys::copy_file(src + "/base_types.xsd", dir + "/base_types.xsd",
                    fsys::copy_options::overwrite_existing);
    return dir + "/config.xsd";
}

// The tar's entries as `tar` lists them (one path per line; directories without a '/').
std::vector<std::string> tar_list(const std::string& tar) {
    Output o = run_program({which("tar"), "-tf", tar});
    EXPECT_EQ(0, o.code) << o.err;
    std::vector<std::string> out;
    std::stringstream s(o.out);
    for (std::string line; std::getline(s, line);) out.push_back(line);
    return out;
}

bool listed(const std::vector<std::string>& list, const std::string& path) {
    return std::find(list.begin(), list.end(), path) != list.end();
}

class Genode : public KapselTest {
  protected:
    std::string store() { return root() + "/store"; }
    std::string out() { return out_.path(); }
    Output k(const std::vector<std::string>& args, int timeout_ms = 120000) {
        std::vector<std::string> a = {"--storage-root", store()};
        a.insert(a.end(), args.begin(), args.end());
        return kapsel(a, "", timeout_ms);
    }
    void load(const std::string& archive) {
        Output o = k({"load", "-q", "-i", archive});
        ASSERT_EQ(0, o.code) << o.err;
    }
    // kapsel genode ARGS into out(); its report (stdout).
    std::string genode(std::vector<std::string> args) {
        args.insert(args.begin(), {"genode", "--out", out()});
        Output o = k(args);
        EXPECT_EQ(0, o.code) << o.err;
        return o.out;
    }
    // The XML file validates against Genode's config.xsd (a start node inside a config).
    void expect_schema_valid(const std::string& xml_file, bool is_start_node) {
        std::string doc = xml_file;
        if (is_start_node) {
            doc = schema_dir_.path() + "/wrapped.xml";
            write(doc, "<config>\n" + read(xml_file) + "</config>\n");
        }
        Output o = run_program({which("xmllint"), "--noout", "--schema", xsd_, doc});
        EXPECT_EQ(0, o.code) << xml_file << ":\n" << o.err;
    }
    // The XML and HID files are one tree: tools/genode-normalise prints both alike.
    // The HID file follows Genode's init.hsd (checked by tools/genode-normalise).
    void expect_hsd_valid(const std::string& hid_file) {
        std::string tool = std::string(KAPSEL_TEST_TOOLS) + "/genode-normalise";
        Output o = run_program({tool, "--schema", hsd(), hid_file});
        EXPECT_EQ(0, o.code) << hid_file << ":\n" << o.err;
    }
    static std::string hsd() { return std::string(KAPSEL_TEST_GENODE_SCHEMAS) + "/init.hsd"; }
    void expect_same_tree(const std::string& xml_file, const std::string& hid_file) {
        std::string tool = std::string(KAPSEL_TEST_TOOLS) + "/genode-normalise";
        Output x = run_program({tool, xml_file}), h = run_program({tool, hid_file});
        ASSERT_EQ(0, x.code) << x.err;
        ASSERT_EQ(0, h.code) << h.err;
        EXPECT_EQ(x.out, h.out);
        EXPECT_NE(x.out.find("start"), std::string::npos);
    }
    // Everything the checks above do, for one image or bundle's files.
    void check_outputs(const std::string& name, const std::string& golden) {
        for (auto kind : {"start", "config"}) {
            std::string base = out() + "/" + name + "." + kind;
            ASSERT_TRUE(fsys::exists(base + ".xml")) << base;
            expect_golden(golden + "." + kind + ".xml", read(base + ".xml"));
            expect_golden(golden + "." + kind + ".hid", read(base + ".hid"));
            if (!xsd_.empty()) expect_schema_valid(base + ".xml", std::string(kind) == "start");
            expect_same_tree(base + ".xml", base + ".hid");
            if (fsys::exists(hsd())) expect_hsd_valid(base + ".hid");
        }
    }
    void SetUp() override {
        KapselTest::SetUp();
        if (IsSkipped()) return;
        if (fsys::exists(std::string(KAPSEL_TEST_GENODE_SCHEMAS) + "/config.xsd") &&
            have_program("xmllint"))
            xsd_ = schema_copy(schema_dir_.path());
    }
    TempDir out_, schema_dir_;
    std::string xsd_;  // "" when Genode's schema or xmllint is missing
};

// The golden tests below validate what they write too, when they can; this one says
// when they cannot.
TEST_F(Genode, OutputValidatesAgainstGenodesSchema) {
    if (!fsys::exists(std::string(KAPSEL_TEST_GENODE_SCHEMAS) + "/config.xsd"))
        GTEST_SKIP() << "skipped: Genode's schemas are missing (" << KAPSEL_TEST_GENODE_SCHEMAS
                     << "/config.xsd; configure with -DKAPSEL_GENODE_SCHEMAS=DIR)";
    if (!have_program("xmllint"))
        GTEST_SKIP() << "skipped: xmllint is missing (libxml2-utils, scripts/install-deps)";
    ASSERT_FALSE(xsd_.empty()) << "config.xsd no longer includes genode://base_types.xsd";
    load(std::string(KAPSEL_TEST_IMAGES) + "/docker-archive.tar");
    genode({"-t", "-v", "/srv:/srv", "localhost/kapsel-busybox"});
    genode({"--subinit", "-t", "-v", "/srv:/srv", "localhost/kapsel-busybox"});
    expect_schema_valid(out() + "/kapsel-busybox.start.xml", true);
    expect_schema_valid(out() + "/kapsel-busybox.config.xml", false);
    // And the check can fail: an attribute the schema does not know.
    std::string bad = out() + "/bad.config.xml";
    std::string text = read(out() + "/kapsel-busybox.config.xml");
    text.replace(text.find("<start "), 7, "<start colour=\"red\" ");
    write(bad, text);
    EXPECT_NE(0, run_program({which("xmllint"), "--noout", "--schema", xsd_, bad}).code);

    // The HID files against init.hsd, Genode's HID schema for init configs.
    expect_hsd_valid(out() + "/kapsel-busybox.start.hid");
    expect_hsd_valid(out() + "/kapsel-busybox.config.hid");
    std::string bad_hid = out() + "/bad.config.hid";
    text = read(out() + "/kapsel-busybox.config.hid");
    text.replace(text.find("| ram: 64M"), std::string("| ram: 64M").size(), "| ram: lots");
    write(bad_hid, text);
    Output o = run_program(
        {std::string(KAPSEL_TEST_TOOLS) + "/genode-normalise", "--schema", hsd(), bad_hid});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(o.err.find("ram: 'lots' is not a num_bytes"), std::string::npos) << o.err;
}

TEST_F(Genode, BusyboxImage) {
    load(std::string(KAPSEL_TEST_IMAGES) + "/docker-archive.tar");
    std::string report = genode({"localhost/kapsel-busybox:latest"});
    ASSERT_EQ(0, k({"genode", "--out", out(), "--subinit", "localhost/kapsel-busybox"}).code);
    expect_golden("busybox.dropped", report);
    check_outputs("kapsel-busybox", "busybox");

    auto list = tar_list(out() + "/kapsel-busybox.tar");
    EXPECT_TRUE(listed(list, "bin/busybox")) << "the image's files";
    for (auto& p : list) EXPECT_NE(p.rfind("dev/", 0), 0u) << p << ": no device nodes";
    // Genode reads the tar in place: ustar with GNU long names only, no pax headers.
    EXPECT_EQ(std::string::npos, read(out() + "/kapsel-busybox.tar").find("PaxHeaders"));
}

TEST_F(Genode, DebianImageFlattensFourLayers) {
    std::string fixture = KAPSEL_TEST_DEBIAN;
    if (access((fixture + "/name").c_str(), F_OK) != 0)
        GTEST_SKIP() << "skipped: the Debian image fixture is missing (" << fixture
                     << "; the debian_image_fixture test builds it and needs the Debian mirror)";
    load(fixture + "/docker-archive.tar");
    std::vector<std::string> args = {"--memory",
                                     "512m",
                                     "--pids-limit",
                                     "8",
                                     "-e",
                                     "LANG=C.UTF-8",
                                     "-v",
                                     "/srv/data:/data:ro",
                                     "-u",
                                     "app",
                                     "-w",
                                     "/home/app",
                                     "localhost/kapsel-debian:latest",
                                     "python3",
                                     "-c",
                                     "print('hello | world')"};
    std::string report = genode(args);
    args.insert(args.begin(), "--subinit");
    genode(args);
    expect_golden("debian.dropped", report);
    check_outputs("kapsel-debian", "debian");

    // The layers merged as a container sees them: layer 3's whiteouts and layer 4's
    // opaque /opt/data applied, and no overlay markers left in the tar.
    auto list = tar_list(out() + "/kapsel-debian.tar");
    EXPECT_TRUE(listed(list, "usr/bin/python3.11"));
    EXPECT_TRUE(listed(list, "etc/kapsel-layer3"));
    EXPECT_TRUE(listed(list, "opt/data/new"));
    for (auto* gone : {"usr/bin/pmap", "etc/motd", "usr/share/doc/procps", "opt/data/old",
                       "opt/data/old/file", "opt/data/keep-me-not"})
        EXPECT_FALSE(listed(list, gone)) << gone;
    for (auto& p : list) EXPECT_EQ(p.find(".wh."), std::string::npos) << p;
    Output layer3 =
        run_program({which("tar"), "-xOf", out() + "/kapsel-debian.tar", "etc/kapsel-layer3"});
    EXPECT_EQ("from layer 3\n", layer3.out);
}

TEST_F(Genode, BundleWithItsOwnConfig) {
    Bundle b("echo hello");
    b.config["process"]["env"] = {"PATH=/bin", "HOME=/root"};
    b.write();
    std::string report = genode({"--bundle", b.dir(), "--name", "hello"});
    ASSERT_EQ(
        0, k({"genode", "--out", out(), "--subinit", "--bundle", b.dir(), "--name", "hello"}).code);
    expect_golden("bundle.dropped", report);
    check_outputs("hello", "bundle");
    auto list = tar_list(out() + "/hello.tar");
    EXPECT_TRUE(listed(list, "bin/busybox"));
}

TEST_F(Genode, AContainerMadeFromAnImageBringsItsOwnChanges) {
    load(std::string(KAPSEL_TEST_IMAGES) + "/docker-archive.tar");
    // Not /etc/hostname: it is bound from the container's directory, and a bound file
    // cannot be removed.
    Output run = k({"run", "--name", "changed", "--network", "none", "localhost/kapsel-busybox", "sh", "-c",
                    "echo made > /etc/made; rm /etc/group"});
    ASSERT_EQ(0, run.code) << run.err;
    json inspected = json::parse(k({"inspect", "changed"}).out);
    std::string bundle = store() + "/containers/" + inspected[0]["Id"].get<std::string>();
    ASSERT_TRUE(fsys::exists(bundle + "/config.json")) << bundle;
    genode({"--bundle", bundle, "--name", "changed"});
    auto list = tar_list(out() + "/changed.tar");
    EXPECT_TRUE(listed(list, "etc/made")) << "its upper layer";
    EXPECT_FALSE(listed(list, "etc/group")) << "its whiteout";
    EXPECT_TRUE(listed(list, "bin/busybox")) << "the image's layer";
    EXPECT_NE(
        read(out() + "/changed.start.hid").find("+ arg echo made > /etc/made; rm /etc/group"),
        std::string::npos);
    ASSERT_EQ(0, k({"rm", "changed"}).code);
}

TEST_F(Genode, OneSyntaxOnlyWithFormat) {
    Bundle b;
    b.write();
    Output o = k({"genode", "--out", out(), "--format", "hid", "--bundle", b.dir(), "--name", "x"});
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_TRUE(fsys::exists(out() + "/x.start.hid"));
    EXPECT_FALSE(fsys::exists(out() + "/x.start.xml"));
    EXPECT_TRUE(fsys::exists(out() + "/x.tar"));
}

TEST_F(Genode, BadInputIsOneLineAndLeavesNothing) {
    std::string dir = out() + "/new";
    Output o = k({"genode", "--out", dir, "localhost/no-such-image"});
    EXPECT_EQ(1, o.code);
    EXPECT_EQ(1, std::count(o.err.begin(), o.err.end(), '\n')) << o.err;
    EXPECT_FALSE(fsys::exists(dir)) << "nothing left behind";

    Bundle b;
    o = k({"genode", "--out", dir, "--bundle", b.dir(), "localhost/x"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(o.err.find("not both"), std::string::npos) << o.err;
    o = k({"genode", "--out", dir, "--format", "json", "--bundle", b.dir()});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(o.err.find("--format"), std::string::npos) << o.err;
    b.config["process"]["args"] = {"/bin/sh", ""};
    b.write();
    o = k({"genode", "--out", dir, "--bundle", b.dir()});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(o.err.find("process.args[1]"), std::string::npos) << o.err;
    EXPECT_FALSE(fsys::exists(dir)) << "nothing left behind";
}

}  // namespace
}  // namespace kapsel::test
