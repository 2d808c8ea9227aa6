// genode/: the plan -> Genode mapping (quotas, routes, the VFS tree, libc, argv and
// environment, what is dropped), the XML and HID writers, and image/flatten.cpp, the
// layers-to-one-tar step the Genode VFS reads.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "genode/model.hpp"
#include "image/flatten.hpp"
#include "image/tar.hpp"
#include "test_support.hpp"

namespace kapsel::genode {
namespace {

using kapsel::testing::config_with;
using kapsel::testing::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

Result<Deployment> deploy_with(const json& patch, const std::string& name = "app") {
    json config = config_with(patch);
    auto spec = oci::parse_spec(config.dump());
    if (!spec) return std::move(spec).error();
    auto plan = plan::build(*spec, {.id = "c1", .bundle = testing::kBundle});
    if (!plan) return std::move(plan).error();
    return deploy(*plan, *spec, {.name = name, .tar = name + ".tar"});
}

Deployment must_deploy(const json& patch) {
    auto d = deploy_with(patch);
    EXPECT_TRUE(d) << d.error().message;
    return d ? *d : Deployment{};
}

const Node* child(const Node& n, const std::string& type, const std::string& name = "") {
    for (auto& c : n.children)
        if (c.type == type &&
            (name.empty() || (c.find_attr("name") && *c.find_attr("name") == name)))
            return &c;
    return nullptr;
}

std::vector<std::string> types(const Node& n) {
    std::vector<std::string> out;
    for (auto& c : n.children) {
        auto* name = c.find_attr("name");
        out.push_back(c.type + (name ? " " + *name : ""));
    }
    return out;
}

std::vector<std::string> routes(const std::vector<Route>& rs) {
    std::vector<std::string> out;
    for (auto& r : rs)
        out.push_back(r.service + (r.label_attr.empty() ? "" : " " + r.label_attr + "=" + r.label));
    return out;
}

std::vector<std::string> dropped(const Deployment& d) {
    std::vector<std::string> out;
    for (auto& x : d.dropped) out.push_back(x.what + ": " + x.why);
    return out;
}

bool dropped_has(const Deployment& d, const std::string& what) {
    for (auto& x : d.dropped)
        if (x.what.rfind(what, 0) == 0) return true;
    return false;
}

// --- quotas ---

TEST(GenodeQuotas, DefaultsWithoutLimits) {
    Deployment d = must_deploy({});
    EXPECT_EQ(d.start.ram, kDefaultRam);
    EXPECT_EQ(d.start.caps, kCapsBase + kCapsPerProcess * (kDefaultProcesses - 1));
    EXPECT_EQ(d.start.caps, 500u);
}

TEST(GenodeQuotas, RamIsTheMemoryLimit) {
    Deployment d = must_deploy({{"linux", {{"resources", {{"memory", {{"limit", 256 << 20}}}}}}}});
    EXPECT_EQ(d.start.ram, 256u << 20);
    EXPECT_EQ(start_node(d.start).find_attr("ram") ? *start_node(d.start).find_attr("ram") : "",
              "256M");
}

TEST(GenodeQuotas, CapsFollowThePidsLimitUpToAMaximum) {
    auto caps_for = [](int64_t pids) {
        return must_deploy({{"linux", {{"resources", {{"pids", {{"limit", pids}}}}}}}}).start.caps;
    };
    EXPECT_EQ(caps_for(1), 300u) << "one process: the base";
    EXPECT_EQ(caps_for(4), 300u + 3 * 200u);
    EXPECT_EQ(caps_for(16), 300u + 15 * 200u);
    EXPECT_EQ(caps_for(10000), caps_for(kMaxProcesses)) << "at most kMaxProcesses are paid for";
}

TEST(GenodeQuotas, BytesAsGenodeWritesThem) {
    EXPECT_EQ(format_bytes(64ull << 20), "64M");
    EXPECT_EQ(format_bytes(2ull << 30), "2G");
    EXPECT_EQ(format_bytes(1536ull << 10), "1536K");
    EXPECT_EQ(format_bytes(1000), "1000");
    EXPECT_EQ(format_bytes(0), "0");
}

// --- routes ---

TEST(GenodeRoutes, ExactlyTheSessionsTheContainerNeedsFromTheParent) {
    Deployment d = must_deploy({});
    EXPECT_THAT(
        routes(d.start.routes),
        ElementsAre("ROM label_last=sh", "ROM label_last=ld.lib.so", "ROM label_last=libc.lib.so",
                    "ROM label_last=libm.lib.so", "ROM label_last=posix.lib.so",
                    "ROM label_last=vfs.lib.so", "ROM label_last=vfs_jitterentropy.lib.so",
                    "ROM label_last=vfs_pipe.lib.so", "ROM label_last=app.tar", "PD", "CPU", "LOG",
                    "RM", "Timer", "Rtc"));
    Node start = start_node(d.start);
    const Node* route = child(start, "route");
    ASSERT_TRUE(route);
    for (auto& svc : route->children) {
        EXPECT_EQ(svc.type, "service") << "no any-service";
        ASSERT_EQ(svc.children.size(), 1u);
        EXPECT_EQ(svc.children[0].type, "parent") << "no any-child, no child";
    }
}

TEST(GenodeRoutes, TerminalNetworkAndBindMountsAddTheirSessions) {
    Deployment d = must_deploy(
        {{"process", {{"terminal", true}}},
         {"linux",
          {{"namespaces", {{{"type", "pid"}}, {{"type", "mount"}}, {{"type", "network"}}}}}},
         {"mounts",
          {{{"destination", "/data"},
            {"type", "bind"},
            {"source", "/srv/data"},
            {"options", {"rbind", "ro"}}},
           {{"destination", "/var/cache"},
            {"type", "bind"},
            {"source", "/srv/c"},
            {"options", {"rbind"}}}}}});
    auto r = routes(d.start.routes);
    EXPECT_THAT(r, ::testing::Contains("ROM label_last=vfs_lwip.lib.so"));
    EXPECT_THAT(r, ::testing::Contains("Terminal"));
    EXPECT_THAT(r, ::testing::Contains("Nic"));
    EXPECT_THAT(r, ::testing::Contains("File_system label=data -> /"));
    EXPECT_THAT(r, ::testing::Contains("File_system label=var/cache -> /"));
    EXPECT_THAT(d.parent_provides, ElementsAre("ROM", "PD", "CPU", "LOG", "RM", "Timer", "Rtc",
                                               "Terminal", "Nic", "File_system"));
}

TEST(GenodeRoutes, TheSubInitProvidesWhatTheStartNodeRoutesAndNothingMore) {
    Deployment d = must_deploy({});
    Node config = subinit_node(d);
    EXPECT_THAT(types(config), ElementsAre("parent-provides", "default-route", "start app"));
    EXPECT_THAT(types(*child(config, "parent-provides")),
                ElementsAre("service ROM", "service PD", "service CPU", "service LOG", "service RM",
                            "service Timer", "service Rtc"));
    EXPECT_THAT(routes(d.default_route), ElementsAre("PD", "CPU", "LOG", "RM"));
}

// --- the VFS tree ---

TEST(GenodeVfs, RamAboveTheTarThenDevices) {
    Deployment d = must_deploy({});
    EXPECT_EQ(d.start.vfs.type, "vfs");
    EXPECT_THAT(types(d.start.vfs), ElementsAre("ram", "tar app.tar", "dir dev"));
    EXPECT_THAT(types(*child(d.start.vfs, "dir", "dev")),
                ElementsAre("log", "null", "zero", "rtc", "jitterentropy random",
                            "jitterentropy urandom", "dir pipe"));
    EXPECT_THAT(types(*child(*child(d.start.vfs, "dir", "dev"), "dir", "pipe")),
                ElementsAre("pipe"));
}

TEST(GenodeVfs, AReadOnlyRootHasNoRamFileSystem) {
    Deployment d = must_deploy({{"root", {{"readonly", true}}}});
    EXPECT_THAT(types(d.start.vfs), ElementsAre("tar app.tar", "dir dev"));
}

TEST(GenodeVfs, TerminalAndSocketsWhenTheSpecAsksForThem) {
    Deployment d = must_deploy(
        {{"process", {{"terminal", true}}},
         {"linux",
          {{"namespaces", {{{"type", "pid"}}, {{"type", "mount"}}, {{"type", "network"}}}}}}});
    EXPECT_THAT(types(*child(d.start.vfs, "dir", "dev")), ::testing::Contains("terminal"));
    const Node* sock = child(d.start.vfs, "dir", "socket");
    ASSERT_TRUE(sock);
    EXPECT_THAT(types(*sock), ElementsAre("lwip"));
    EXPECT_EQ(d.start.libc.socket, "/socket");
    EXPECT_EQ(d.start.libc.stdin_path, "/dev/terminal");
    EXPECT_EQ(d.start.libc.stdout_path, "/dev/terminal");
}

TEST(GenodeVfs, TmpfsBecomesRamAndBindMountsBecomeFileSystemSessions) {
    Deployment d =
        must_deploy({{"mounts",
                      {{{"destination", "/tmp"},
                        {"type", "tmpfs"},
                        {"source", "tmpfs"},
                        {"options", {"size=65536k"}}},
                       {{"destination", "/var/lib/db"},
                        {"type", "bind"},
                        {"source", "/srv/db"},
                        {"options", {"rbind", "ro"}}},
                       {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
                       {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"}}}}});
    const Node* tmp = child(d.start.vfs, "dir", "tmp");
    ASSERT_TRUE(tmp);
    EXPECT_THAT(types(*tmp), ElementsAre("ram"));
    const Node* db = child(*child(*child(d.start.vfs, "dir", "var"), "dir", "lib"), "dir", "db");
    ASSERT_TRUE(db);
    ASSERT_EQ(db->children.size(), 1u);
    EXPECT_EQ(db->children[0].type, "fs");
    EXPECT_EQ(*db->children[0].find_attr("label"), "var/lib/db -> /");
    EXPECT_EQ(*db->children[0].find_attr("writeable"), "no");
    EXPECT_FALSE(child(d.start.vfs, "dir", "proc")) << "no procfs plugin";
    EXPECT_TRUE(dropped_has(d, "mount /proc (proc)"));
    EXPECT_TRUE(dropped_has(d, "tmpfs size (/tmp)"));
    EXPECT_THAT(types(*child(d.start.vfs, "dir", "dev")), Not(::testing::Contains("ram")))
        << "/dev is the VFS's own";
}

TEST(GenodeVfs, ALaterMountAtTheSamePlaceHidesTheEarlierOne) {
    Deployment d =
        must_deploy({{"mounts",
                      {{{"destination", "/data"}, {"type", "tmpfs"}, {"source", "tmpfs"}},
                       {{"destination", "/data"},
                        {"type", "bind"},
                        {"source", "/srv"},
                        {"options", {"rbind"}}}}}});
    EXPECT_THAT(types(*child(d.start.vfs, "dir", "data")), ElementsAre("fs"));
}

TEST(GenodeVfs, TheImagesSharedDirectoriesGetARamFileSystemOfTheirOwn) {
    Deployment d =
        must_deploy({{"mounts",
                      {{{"destination", "/var/tmp"},
                        {"type", "bind"},
                        {"source", "/srv"},
                        {"options", {"rbind"}}},
                       {{"destination", "/run"}, {"type", "tmpfs"}, {"source", "tmpfs"}}}}});
    add_scratch_dirs(d.start,
                     {"dev/shm", "run/lock", "tmp", "var/tmp", "var/tmp/deeper", "srv/drop"});
    EXPECT_THAT(types(*child(d.start.vfs, "dir", "tmp")), ElementsAre("ram"));
    EXPECT_THAT(types(*child(*child(d.start.vfs, "dir", "srv"), "dir", "drop")),
                ElementsAre("ram"));
    EXPECT_THAT(types(*child(*child(d.start.vfs, "dir", "var"), "dir", "tmp")), ElementsAre("fs"))
        << "the spec's mount stays";
    EXPECT_THAT(types(*child(d.start.vfs, "dir", "dev")), Not(::testing::Contains("dir shm")));
    EXPECT_FALSE(child(*child(*child(d.start.vfs, "dir", "var"), "dir", "tmp"), "dir", "deeper"))
        << "nothing below a mount";
    EXPECT_THAT(types(*child(d.start.vfs, "dir", "run")), ElementsAre("ram"))
        << "/run/lock is the tmpfs's";

    Deployment ro = must_deploy({{"root", {{"readonly", true}}}});
    add_scratch_dirs(ro.start, {"tmp"});
    EXPECT_FALSE(child(ro.start.vfs, "dir", "tmp")) << "a read-only root stays read-only";
}

// --- the program: binary, libc, argv, environment ---

TEST(GenodeProgram, BinaryArgsEnvAndLibc) {
    Deployment d =
        must_deploy({{"process",
                      {{"args", {"/usr/bin/python3", "-c", "print('a | b')", "two\nlines"}},
                       {"env", {"PATH=/usr/bin:/bin", "EMPTY=", "TERM=xterm"}},
                       {"cwd", "/srv/app"}}}});
    EXPECT_EQ(d.start.binary, "python3");
    EXPECT_THAT(d.start.args,
                ElementsAre("/usr/bin/python3", "-c", "print('a | b')", "two\nlines"));
    EXPECT_EQ(d.start.libc.stdin_path, "/dev/null");
    EXPECT_EQ(d.start.libc.stdout_path, "/dev/log");
    EXPECT_EQ(d.start.libc.stderr_path, "/dev/log");
    EXPECT_EQ(d.start.libc.rtc, "/dev/rtc");
    EXPECT_EQ(d.start.libc.rng, "/dev/random");
    EXPECT_EQ(d.start.libc.pipe, "/dev/pipe");
    EXPECT_EQ(d.start.libc.socket, "") << "no network namespace: no sockets";
    EXPECT_EQ(d.start.libc.cwd, "/srv/app");

    Node config = *child(start_node(d.start), "config");
    EXPECT_THAT(types(config), ElementsAre("libc", "vfs", "arg /usr/bin/python3", "arg -c", "arg",
                                           "arg", "env PATH", "env EMPTY", "env TERM"));
    // Arguments HID cannot carry as a node name are quoted content; libc reads both.
    EXPECT_EQ(config.children[4].content.value_or(""), "print('a | b')");
    EXPECT_EQ(config.children[5].content.value_or(""), "two\nlines");
    EXPECT_EQ(config.children[6].content.value_or(""), "/usr/bin:/bin");
    EXPECT_FALSE(config.children[7].content) << "an empty value is no content";
}

TEST(GenodeProgram, AnEnvironmentVariableGenodeCannotCarryIsDropped) {
    Deployment d = must_deploy({{"process", {{"env", {"GOOD=1", "BAD|NAME=x", "CTRL=a\x01b"}}}}});
    ASSERT_EQ(d.start.env.size(), 1u);
    EXPECT_EQ(d.start.env[0].first, "GOOD");
    EXPECT_TRUE(dropped_has(d, "process.env BAD|NAME"));
    EXPECT_TRUE(dropped_has(d, "process.env CTRL"));
}

TEST(GenodeProgram, ErrorsNameTheField) {
    EXPECT_THAT(testing::error_of(deploy_with({{"process", {{"args", {"/bin/sh", ""}}}}})),
                HasSubstr("process.args[1]"));
    EXPECT_THAT(testing::error_of(deploy_with({}, "bad|name")),
                HasSubstr("cannot name a Genode start node"));
    EXPECT_THAT(testing::error_of(deploy_with({{"process", nullptr}})), HasSubstr("no process"));
}

// --- what Genode cannot express ---

TEST(GenodeDropped, OneLinePerFeatureWithTheReason) {
    Deployment d = must_deploy(
        {{"process",
          {{"user", {{"uid", 1000}, {"gid", 1000}}},
           {"capabilities", {{"bounding", {"CAP_CHOWN"}}, {"effective", {"CAP_CHOWN"}}}},
           {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}}}},
         {"hostname", "box"},
         {"linux",
          {{"namespaces", {{{"type", "pid"}}, {{"type", "mount"}}, {{"type", "uts"}}}},
           {"seccomp", {{"defaultAction", "SCMP_ACT_ERRNO"}}},
           {"maskedPaths", {"/proc/kcore"}},
           {"sysctl", {{"kernel.domainname", "example"}}},
           {"resources",
            {{"cpu", {{"shares", 512}}}, {"memory", {{"limit", 1 << 28}, {"swap", 1 << 28}}}}}}}});
    for (auto* what : {"process.user", "process.capabilities", "process.rlimits", "hostname",
                       "linux.seccomp", "linux.maskedPaths", "linux.sysctl", "linux.resources.cpu",
                       "linux.resources.memory", "host network"})
        EXPECT_TRUE(dropped_has(d, what)) << what << " in\n"
                                          << ::testing::PrintToString(dropped(d));
    for (auto& line : dropped(d)) EXPECT_EQ(line.find('\n'), std::string::npos) << line;
}

TEST(GenodeDropped, NothingAboutUsersOrNetworkWhenThereIsNothingToDrop) {
    Deployment d = must_deploy(
        {{"linux",
          {{"namespaces", {{{"type", "pid"}}, {{"type", "mount"}}, {{"type", "network"}}}}}}});
    EXPECT_FALSE(dropped_has(d, "process.user"));
    EXPECT_FALSE(dropped_has(d, "host network"));
    EXPECT_FALSE(dropped_has(d, "linux.seccomp"));
}

// --- XML and HID ---

Node sample() {
    Node start{"start", {{"name", "app"}, {"caps", "500"}, {"ram", "64M"}}, {}, {}};
    Node config{"config", {}, {}, {}};
    config.add(Node{"libc", {{"stdout", "/dev/log"}, {"stderr", "/dev/log"}}, {}, {}});
    Node vfs{"vfs", {}, {}, {}};
    vfs.add(Node{"ram", {}, {}, {}});
    Node dev{"dir", {{"name", "dev"}}, {}, {}};
    dev.add(Node{"log", {}, {}, {}});
    vfs.add(std::move(dev));
    config.add(std::move(vfs));
    config.add(Node{"arg", {{"name", "sh"}}, {}, {}});
    config.add(Node{"arg", {}, {}, "echo a | cat\n& <done> \"q\""});
    config.add(Node{"env", {{"name", "HOME"}}, {}, "/root"});
    start.add(std::move(config));
    Node route{"route", {}, {}, {}};
    Node svc{"service", {{"name", "File_system"}, {"label", "data -> /"}}, {}, {}};
    svc.add(Node{"parent", {}, {}, {}});
    route.add(std::move(svc));
    start.add(std::move(route));
    return start;
}

TEST(GenodeSyntax, Xml) {
    EXPECT_EQ(to_xml(sample()),
              "<start name=\"app\" caps=\"500\" ram=\"64M\">\n"
              "  <config>\n"
              "    <libc stdout=\"/dev/log\" stderr=\"/dev/log\"/>\n"
              "    <vfs>\n"
              "      <ram/>\n"
              "      <dir name=\"dev\">\n"
              "        <log/>\n"
              "      </dir>\n"
              "    </vfs>\n"
              "    <arg name=\"sh\"/>\n"
              "    <arg>echo a | cat\n&amp; &lt;done&gt; \"q\"</arg>\n"
              "    <env name=\"HOME\">/root</env>\n"
              "  </config>\n"
              "  <route>\n"
              "    <service name=\"File_system\" label=\"data -> /\">\n"
              "      <parent/>\n"
              "    </service>\n"
              "  </route>\n"
              "</start>\n");
}

TEST(GenodeSyntax, Hid) {
    EXPECT_EQ(to_hid(sample()),
              "start app | caps: 500 | ram: 64M\n"
              "+ config\n"
              "  + libc | stdout: /dev/log | stderr: /dev/log\n"
              "  + vfs\n"
              "    + ram\n"
              "    + dir dev | + log\n"
              "  + arg sh\n"
              "  + arg\n"
              "    : echo a | cat\n"
              "    : & <done> \"q\"\n"
              "  + env HOME | : /root\n"
              "+ route\n"
              "  + service File_system | label: data -> / | + parent\n"
              "-\n");
}

TEST(GenodeSyntax, WhatEachSyntaxCanCarry) {
    EXPECT_TRUE(attribute_ok("data -> /"));
    EXPECT_FALSE(attribute_ok("a|b")) << "'|' splits a HID line";
    EXPECT_FALSE(attribute_ok(" lead")) << "HID trims values";
    EXPECT_FALSE(attribute_ok("a&b")) << "Genode takes XML attribute values raw";
    EXPECT_FALSE(attribute_ok(""));
    EXPECT_TRUE(node_name_ok("-c"));
    EXPECT_FALSE(node_name_ok("key: value")) << "HID would read an attribute";
    EXPECT_FALSE(node_name_ok("+ x"));
    EXPECT_TRUE(content_ok("a | b"));
    EXPECT_TRUE(content_ok("two\nlines"));
    EXPECT_FALSE(content_ok("   ")) << "blank XML text is no content to Genode";
    EXPECT_FALSE(content_ok("trailing\n"));
    EXPECT_FALSE(content_ok("bell\a"));
}

// --- flattening layers into one tar ---

namespace fsys = std::filesystem;

struct TarList {
    std::map<std::string, image::TarEntry> entries;
    std::map<std::string, std::string> data;
};

TarList read_tar(const std::string& path) {
    TarList out;
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // ustar with GNU 'L' records, as write_flat_tar writes it for Genode.
    size_t pos = 0;
    std::string long_name;
    while (pos + 512 <= bytes.size()) {
        const char* h = bytes.data() + pos;
        if (h[0] == 0) break;
        std::string name(h, strnlen(h, 100));
        uint64_t size = std::strtoull(std::string(h + 124, 12).c_str(), nullptr, 8);
        char type = h[156];
        std::string link(h + 157, strnlen(h + 157, 100));
        std::string body = bytes.substr(pos + 512, size);
        pos += 512 + (size + 511) / 512 * 512;
        if (type == 'L') {
            long_name = body.substr(0, body.find('\0'));
            continue;
        }
        if (!long_name.empty()) name = long_name, long_name.clear();
        image::TarEntry e;
        e.path = name;
        e.type = static_cast<image::EntryType>(type);
        e.link = link;
        e.size = size;
        out.entries[name] = e;
        out.data[name] = type == '0' ? body : "";
    }
    return out;
}

class Flatten : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/kapsel-flatten-XXXXXX";
        ASSERT_TRUE(::mkdtemp(tmpl));
        dir_ = tmpl;
    }
    void TearDown() override { fsys::remove_all(dir_); }
    std::string layer(int n) {
        std::string p = dir_ + "/l" + std::to_string(n);
        fsys::create_directories(p);
        return p;
    }
    void file(const std::string& p, const std::string& text) {
        fsys::create_directories(fsys::path(p).parent_path());
        std::ofstream(p) << text;
    }
    TarList flatten(const std::vector<std::string>& layers, image::FlattenOptions o = {},
                    image::FlattenResult* r = nullptr) {
        std::string tar = dir_ + "/out.tar";
        int fd = ::open(tar.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        auto res = image::write_flat_tar(layers, fd, o);
        ::close(fd);
        EXPECT_TRUE(res) << res.error().message;
        if (r && res) *r = *res;
        return read_tar(tar);
    }
    std::string dir_;
};

TEST_F(Flatten, UpperLayersWinAndEntriesAreSorted) {
    std::string a = layer(1), b = layer(2);
    file(a + "/etc/conf", "old");
    file(a + "/etc/keep", "keep");
    file(b + "/etc/conf", "new");
    file(b + "/bin/tool", "x");
    TarList t = flatten({a, b});
    std::vector<std::string> names;
    for (auto& [n, e] : t.entries) names.push_back(n);
    EXPECT_THAT(names, ElementsAre("bin", "bin/tool", "etc", "etc/conf", "etc/keep"));
    EXPECT_EQ(t.data["etc/conf"], "new");
    EXPECT_EQ(t.data["etc/keep"], "keep");
}

TEST_F(Flatten, WhiteoutsAndOpaqueDirectoriesApply) {
    if (geteuid() != 0)
        GTEST_SKIP() << "skipped: overlay whiteouts (0/0 devices, trusted.* xattrs) need root";
    std::string a = layer(1), b = layer(2);
    file(a + "/etc/motd", "hi");
    file(a + "/usr/share/doc/x/README", "doc");
    file(a + "/opt/data/old", "old");
    file(b + "/opt/data/new", "new");
    fsys::create_directories(b + "/etc");
    ASSERT_EQ(0, ::mknod((b + "/etc/motd").c_str(), S_IFCHR | 0, makedev(0, 0)));
    fsys::create_directories(b + "/usr/share");
    ASSERT_EQ(0, ::mknod((b + "/usr/share/doc").c_str(), S_IFCHR | 0, makedev(0, 0)));
    ASSERT_EQ(0, ::setxattr((b + "/opt/data").c_str(), "trusted.overlay.opaque", "y", 1, 0));
    TarList t = flatten({a, b});
    EXPECT_FALSE(t.entries.count("etc/motd"));
    EXPECT_TRUE(t.entries.count("etc"));
    EXPECT_FALSE(t.entries.count("usr/share/doc"));
    EXPECT_FALSE(t.entries.count("usr/share/doc/x/README"));
    EXPECT_TRUE(t.entries.count("opt/data/new"));
    EXPECT_FALSE(t.entries.count("opt/data/old"))
        << "the opaque dir hides the lower layer's content";
}

TEST_F(Flatten, AFileReplacingADirectoryHidesItsSubtree) {
    std::string a = layer(1), b = layer(2);
    file(a + "/srv/dir/inner", "x");
    file(b + "/srv/dir", "now a file");
    TarList t = flatten({a, b});
    EXPECT_EQ(t.entries["srv/dir"].type, image::EntryType::file);
    EXPECT_FALSE(t.entries.count("srv/dir/inner"));
}

TEST_F(Flatten, SharedInodesAreWrittenOnceAsHardLinks) {
    std::string a = layer(1), b = layer(2);
    file(a + "/bin/busybox", "binary");
    fsys::create_directories(b + "/usr/bin");
    fsys::create_hard_link(a + "/bin/busybox", b + "/usr/bin/busybox");
    image::FlattenResult r;
    TarList t = flatten({a, b}, {}, &r);
    EXPECT_EQ(t.entries["bin/busybox"].type, image::EntryType::file);
    EXPECT_EQ(t.entries["usr/bin/busybox"].type, image::EntryType::hardlink);
    EXPECT_EQ(t.entries["usr/bin/busybox"].link, "bin/busybox");
    EXPECT_EQ(r.files, 1u);
    EXPECT_EQ(r.hardlinks, 1u);
}

TEST_F(Flatten, GenodeFormLeavesOutWhatItsTarReaderCannotRead) {
    std::string a = layer(1);
    std::string deep = "d/" + std::string(120, 'x');
    file(a + "/" + deep, "long");
    fsys::create_symlink(std::string(120, 't'), a + "/long-target");
    fsys::create_symlink("short", a + "/ok-link");
    ASSERT_EQ(0, ::mkfifo((a + "/fifo").c_str(), 0644));
    image::FlattenResult r;
    TarList t = flatten(
        {a}, {.format = image::TarFormat::gnu, .skip_special = true, .short_links_only = true}, &r);
    EXPECT_EQ(t.data[deep], "long") << "a GNU long name";
    EXPECT_TRUE(t.entries.count("ok-link"));
    EXPECT_FALSE(t.entries.count("long-target"));
    EXPECT_FALSE(t.entries.count("fifo"));
    EXPECT_THAT(r.skipped_links, ElementsAre("long-target"));
    EXPECT_THAT(r.skipped_special, ElementsAre("fifo"));
}

TEST_F(Flatten, ReportsTheWorldWritableStickyDirectories) {
    std::string a = layer(1);
    fsys::create_directories(a + "/tmp");
    fsys::create_directories(a + "/var/tmp");
    fsys::create_directories(a + "/srv/open");
    ::chmod((a + "/tmp").c_str(), 01777);
    ::chmod((a + "/var/tmp").c_str(), 01777);
    ::chmod((a + "/srv/open").c_str(), 0777);
    image::FlattenResult r;
    flatten({a}, {}, &r);
    EXPECT_THAT(r.shared_dirs, ElementsAre("tmp", "var/tmp"));
}

TEST_F(Flatten, TheSameLayersGiveTheSameBytes) {
    std::string a = layer(1);
    file(a + "/x/y", "1");
    file(a + "/a", "2");
    auto bytes = [&] {
        std::string tar = dir_ + "/same.tar";
        int fd = ::open(tar.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        EXPECT_TRUE(image::write_flat_tar({a}, fd, {}));
        ::close(fd);
        std::ifstream in(tar, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    EXPECT_EQ(bytes(), bytes());
}

}  // namespace
}  // namespace kapsel::genode
