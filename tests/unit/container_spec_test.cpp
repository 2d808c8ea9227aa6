// plan/container_spec.cpp: an image's defaults plus `kapsel run` options -> the OCI
// config, with podman's defaults for everything the user did not say.
#include "plan/container_spec.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

namespace kapsel::plan {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

ImageDefaults busybox() {
    ImageDefaults d;
    d.env = {"PATH=/bin", "LANG=C"};
    d.cmd = {"sh"};
    return d;
}

json spec_of(const ImageDefaults& image, const RunRequest& run, const Identity& user = {}) {
    auto s = container_spec(image, run, user, {"read", "write"});
    EXPECT_TRUE(s.ok()) << (s ? "" : s.error().message);
    return s ? *s : json();
}

std::string error_of(const ImageDefaults& image, const RunRequest& run) {
    auto s = container_spec(image, run, {}, {});
    return s ? "(no error)" : s.error().message;
}

std::vector<std::string> destinations(const json& spec) {
    std::vector<std::string> out;
    for (auto& m : spec["mounts"]) out.push_back(m["destination"]);
    return out;
}

std::vector<std::string> namespace_types(const json& spec) {
    std::vector<std::string> out;
    for (auto& n : spec["linux"]["namespaces"]) out.push_back(n["type"]);
    return out;
}

TEST(ContainerSpec, TheCommandIsEntrypointPlusCmdAsDockerCombinesThem) {
    ImageDefaults img = busybox();
    img.entrypoint = {"/bin/echo", "hello"};
    img.cmd = {"world"};
    RunRequest run;
    EXPECT_EQ(json({"/bin/echo", "hello", "world"}), spec_of(img, run)["process"]["args"]);
    run.command = {"there"};
    EXPECT_EQ(json({"/bin/echo", "hello", "there"}), spec_of(img, run)["process"]["args"]);
    // --entrypoint replaces the entrypoint and drops the image's Cmd.
    run.command = {};
    run.entrypoint = std::vector<std::string>{"/bin/true"};
    EXPECT_EQ(json({"/bin/true"}), spec_of(img, run)["process"]["args"]);
    // --entrypoint "" clears it: the command alone runs.
    run.entrypoint = std::vector<std::string>{};
    run.command = {"ls", "/"};
    EXPECT_EQ(json({"ls", "/"}), spec_of(img, run)["process"]["args"]);
}

TEST(ContainerSpec, DevptsHasTheTtyGroupUnlessGid5IsUnmapped) {
    auto pts_options = [](bool tty_group) {
        RunRequest run;
        run.tty_group = tty_group;
        json spec = spec_of(busybox(), run);
        for (auto& m : spec["mounts"])
            if (m["destination"] == "/dev/pts") return m["options"];
        return json();
    };
    EXPECT_EQ(json({"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}), pts_options(true));
    EXPECT_EQ(json({"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}), pts_options(false));
}

TEST(ContainerSpec, NoCommandAnywhereIsAnError) {
    ImageDefaults img;
    EXPECT_THAT(error_of(img, {}), HasSubstr("no command"));
}

TEST(ContainerSpec, RunEnvOverridesTheImagesAndHomeComesFromTheUser) {
    ::setenv("KAPSEL_SPEC_TEST_PASSED", "from-kapsel", 1);
    RunRequest run;
    run.env = {"LANG=de_DE.UTF-8", "EXTRA=1", "KAPSEL_SPEC_TEST_PASSED", "KAPSEL_SPEC_TEST_UNSET"};
    run.hostname = "box";
    Identity app{1000, 1000, {}, "/home/app"};
    json env = spec_of(busybox(), run, app)["process"]["env"];
    EXPECT_THAT(env, Contains("LANG=de_DE.UTF-8"));
    EXPECT_THAT(env, Not(Contains("LANG=C")));
    EXPECT_THAT(env, Contains("PATH=/bin"));
    EXPECT_THAT(env, Contains("EXTRA=1"));
    EXPECT_THAT(env, Contains("KAPSEL_SPEC_TEST_PASSED=from-kapsel"))
        << "-e KEY takes kapsel's value";
    for (auto& e : env) EXPECT_THAT(e.get<std::string>(), Not(HasSubstr("KAPSEL_SPEC_TEST_UNSET")));
    EXPECT_THAT(env, Contains("HOME=/home/app"));
    EXPECT_THAT(env, Contains("HOSTNAME=box"));
}

TEST(ContainerSpec, WorkdirAndUserReachTheProcess) {
    ImageDefaults img = busybox();
    img.working_dir = "/srv";
    RunRequest run;
    Identity app{1000, 100, {27, 44}, "/home/app"};
    json p = spec_of(img, run, app)["process"];
    EXPECT_EQ("/srv", p["cwd"]);
    EXPECT_EQ(1000, p["user"]["uid"]);
    EXPECT_EQ(100, p["user"]["gid"]);
    EXPECT_EQ(json({27, 44}), p["user"]["additionalGids"]);
    run.workdir = "/tmp";
    EXPECT_EQ("/tmp", spec_of(img, run)["process"]["cwd"]);
    run.workdir = "relative";
    EXPECT_THAT(error_of(img, run), HasSubstr("\"relative\" is not absolute"));
}

TEST(ContainerSpec, CapabilitiesArePodmansDefaultsPlusAddsMinusDrops) {
    RunRequest run;
    json caps = spec_of(busybox(), run)["process"]["capabilities"]["effective"];
    EXPECT_EQ(json(default_capabilities()), caps);
    EXPECT_THAT(caps, Contains("CAP_NET_BIND_SERVICE"));
    EXPECT_THAT(caps, Not(Contains("CAP_SYS_ADMIN")));
    run.cap_drop = {"ALL"};
    run.cap_add = {"net_admin"};  // any case, with or without CAP_
    EXPECT_EQ(json({"CAP_NET_ADMIN"}),
              spec_of(busybox(), run)["process"]["capabilities"]["bounding"]);
    run.cap_add = {"CAP_NO_SUCH"};
    EXPECT_THAT(error_of(busybox(), run), HasSubstr("unknown capability \"CAP_NO_SUCH\""));
}

TEST(ContainerSpec, ReadOnlyRootGetsWritableScratchDirectories) {
    RunRequest run;
    json spec = spec_of(busybox(), run);
    EXPECT_FALSE(spec["root"]["readonly"]);
    EXPECT_THAT(destinations(spec), Not(Contains("/tmp")))
        << "the image's /tmp, copy-on-write, as podman";
    run.read_only = true;
    spec = spec_of(busybox(), run);
    EXPECT_TRUE(spec["root"]["readonly"]);
    EXPECT_THAT(destinations(spec), Contains("/tmp"));
    EXPECT_THAT(destinations(spec), Contains("/var/tmp"));
}

TEST(ContainerSpec, VolumesAreBindMountsAndRoMakesThemReadOnly) {
    RunRequest run;
    run.volumes = {{"/srv/data", "/data", false}, {"/etc/ssl", "/etc/ssl", true}};
    json mounts = spec_of(busybox(), run)["mounts"];
    json data = mounts[mounts.size() - 2], ssl = mounts.back();
    EXPECT_EQ("/data", data["destination"]);
    EXPECT_EQ("/srv/data", data["source"]);
    EXPECT_EQ("bind", data["type"]);
    EXPECT_THAT(data["options"], Not(Contains("ro")));
    EXPECT_THAT(ssl["options"], Contains("ro"));
    run.volumes = {{"/srv", "data", false}};
    EXPECT_THAT(error_of(busybox(), run), HasSubstr("\"data\" is not an absolute path"));
}

TEST(ContainerSpec, NetworkModesChooseTheNetworkNamespace) {
    RunRequest run;
    EXPECT_THAT(namespace_types(spec_of(busybox(), run)), Contains("network"));
    run.network = "none";
    EXPECT_THAT(namespace_types(spec_of(busybox(), run)), Contains("network"));
    run.network = "host";
    EXPECT_THAT(namespace_types(spec_of(busybox(), run)), Not(Contains("network")));
    EXPECT_THAT(namespace_types(spec_of(busybox(), run)), Contains("pid"));
    run.network = "bridge";
    EXPECT_THAT(error_of(busybox(), run), HasSubstr("network \"bridge\" is not supported"));
}

TEST(ContainerSpec, LimitsBecomeCgroupResources) {
    RunRequest run;
    json res = spec_of(busybox(), run)["linux"]["resources"];
    EXPECT_FALSE(res.contains("memory"));
    run.memory = 64 << 20;
    run.pids_limit = 50;
    run.cpus = 1.5;
    res = spec_of(busybox(), run)["linux"]["resources"];
    EXPECT_EQ(64 << 20, res["memory"]["limit"]);
    EXPECT_EQ(50, res["pids"]["limit"]);
    EXPECT_EQ(150000, res["cpu"]["quota"]);
    EXPECT_EQ(100000, res["cpu"]["period"]);
    run.cpus = 0;
    EXPECT_THAT(error_of(busybox(), run), HasSubstr("--cpus"));
}

TEST(ContainerSpec, SecurityDefaultsAreOn) {
    RunRequest run;
    json spec = spec_of(busybox(), run);
    EXPECT_FALSE(spec["process"]["noNewPrivileges"]);
    EXPECT_THAT(spec["linux"]["maskedPaths"], Contains("/proc/kcore"));
    EXPECT_THAT(spec["linux"]["readonlyPaths"], Contains("/proc/sys"));
    EXPECT_EQ("SCMP_ACT_ERRNO", spec["linux"]["seccomp"]["defaultAction"]);
    EXPECT_EQ(json({"read", "write"}), spec["linux"]["seccomp"]["syscalls"][0]["names"]);
    run.no_new_privileges = true;
    EXPECT_TRUE(spec_of(busybox(), run)["process"]["noNewPrivileges"]);
}

TEST(ResolveUser, NamesComeFromTheImagesFilesAndNumbersNeedNone) {
    const std::string passwd =
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
    const std::string group = "root:x:0:\napp:x:1000:\nstaff:x:50:app,other\n";
    auto app = resolve_user("app", passwd, group);
    ASSERT_TRUE(app.ok());
    EXPECT_EQ(1000u, app->uid);
    EXPECT_EQ(1000u, app->gid);
    EXPECT_EQ("/home/app", app->home);
    EXPECT_THAT(app->additional_gids, ElementsAre(50u));
    auto with_group = resolve_user("app:staff", passwd, group);
    ASSERT_TRUE(with_group.ok());
    EXPECT_EQ(50u, with_group->gid);
    auto numeric = resolve_user("4242:4343", passwd, group);
    ASSERT_TRUE(numeric.ok());
    EXPECT_EQ(4242u, numeric->uid);
    EXPECT_EQ(4343u, numeric->gid);
    EXPECT_THAT(numeric->additional_gids, IsEmpty());
    auto missing = resolve_user("nobody-here", passwd, group);
    ASSERT_FALSE(missing.ok());
    EXPECT_THAT(missing.error().message, HasSubstr("nobody-here"));
    auto bad_group = resolve_user("app:wheel", passwd, group);
    ASSERT_FALSE(bad_group.ok());
    EXPECT_THAT(bad_group.error().message, HasSubstr("\"wheel\" is not in the image's /etc/group"));
}

// Found by tests/fuzz/image_run: a home directory that is not UTF-8 became HOME= in
// the config, whose dump() threw nlohmann's type_error out of `kapsel run` (SIGABRT).
TEST(ResolveUser, AHomeThatIsNotUtf8IsAnErrorNamingThePasswdFile) {
    auto r = resolve_user("root", "root:x:0:0:root:/ro\x98ot:/bin/sh\n", "");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ("user \"root\": its home directory in the image's /etc/passwd is not valid UTF-8",
              r.error().message);
    EXPECT_TRUE(resolve_user("root", "root:x:0:0:root:/r\xc3\xb6\xc3\xb6t:/bin/sh\n", "").ok());
}

TEST(ContainerSpec, BytesThatAreNotUtf8FromTheCommandLineAreAnErrorNamingTheField) {
    RunRequest run;
    run.env = {"GOOD=1", "BAD=\xff"};
    EXPECT_EQ("the container's config: process.env[3] is not valid UTF-8", error_of(busybox(), run));
    RunRequest cmd;
    cmd.command = {"echo", "caf\xc3"};  // cut off in the middle of a character
    EXPECT_EQ("the container's config: process.args[1] is not valid UTF-8", error_of(busybox(), cmd));
    RunRequest fine;
    fine.env = {"NAME=Gr\xc3\xbc\xc3\x9f \xf0\x9f\x90\xb3"};
    spec_of(busybox(), fine);
}

}  // namespace
}  // namespace kapsel::plan
