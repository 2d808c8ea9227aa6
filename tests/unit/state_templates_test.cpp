// oci/state.cpp and oci/templates.cpp: the documents kapsel prints.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "oci/spec.hpp"
#include "oci/state.hpp"
#include "oci/templates.hpp"
#include "plan/build.hpp"
#include "plan/names.hpp"

namespace kapsel::oci {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

// --- state ---

State running() {
    return {.oci_version = "1.2.0",
            .id = "c1",
            .status = Status::running,
            .pid = 4242,
            .bundle = "/bundles/c1",
            .rootfs = "/bundles/c1/rootfs",
            .created = "2024-05-01T10:00:00.123456789Z",
            .owner = "root",
            .annotations = {{"org.example", "x"}}};
}

TEST(StateJson, CarriesEveryField) {
    json j = json::parse(state_json(running(), false));
    EXPECT_EQ(j["ociVersion"], "1.2.0");
    EXPECT_EQ(j["id"], "c1");
    EXPECT_EQ(j["status"], "running");
    EXPECT_EQ(j["pid"], 4242);
    EXPECT_EQ(j["bundle"], "/bundles/c1");
    EXPECT_EQ(j["rootfs"], "/bundles/c1/rootfs");
    EXPECT_EQ(j["created"], "2024-05-01T10:00:00.123456789Z");
    EXPECT_EQ(j["owner"], "root");
    EXPECT_EQ(j["annotations"]["org.example"], "x");
}

TEST(StateJson, CompactForHooksIndentedForTheCommand) {
    std::string compact = state_json(running(), false);
    EXPECT_THAT(compact, Not(HasSubstr("\n")));
    EXPECT_EQ(
        compact.rfind(
            "{\"ociVersion\":\"1.2.0\",\"id\":\"c1\",\"pid\":4242,\"status\":\"running\",", 0),
        0u)
        << "the fields runc prints first, in runc's order: " << compact;
    std::string pretty = state_json(running(), true);
    EXPECT_THAT(pretty, HasSubstr("\n  \"id\": \"c1\",\n"));
    EXPECT_EQ(json::parse(pretty), json::parse(compact));
}

TEST(StateJson, StoppedContainerHasNoPid) {
    State s = running();
    s.status = Status::stopped;
    json j = json::parse(state_json(s, false));
    EXPECT_EQ(j["status"], "stopped");
    EXPECT_EQ(j["pid"], 0);
}

TEST(StateJson, OptionalFieldsAreLeftOutWhenEmpty) {
    State s{.id = "c2", .status = Status::created, .pid = 7, .bundle = "/b"};
    json j = json::parse(state_json(s, false));
    EXPECT_EQ(j["ociVersion"], kSpecVersion) << "an unknown version is reported as kapsel's";
    EXPECT_EQ(j["status"], "created");
    EXPECT_FALSE(j.contains("rootfs"));
    EXPECT_FALSE(j.contains("created"));
    EXPECT_FALSE(j.contains("owner"));
    EXPECT_FALSE(j.contains("annotations"));
}

TEST(StateJson, StatusNames) {
    EXPECT_STREQ(status_name(Status::creating), "creating");
    EXPECT_STREQ(status_name(Status::created), "created");
    EXPECT_STREQ(status_name(Status::running), "running");
    EXPECT_STREQ(status_name(Status::paused), "paused");
    EXPECT_STREQ(status_name(Status::stopped), "stopped");
}

TEST(StateJson, StringsAreEscaped) {
    State s = running();
    s.id = "a\"b\\c\n";
    EXPECT_EQ(json::parse(state_json(s, false))["id"], "a\"b\\c\n");
}

// --- the `spec` template ---

TEST(DefaultSpec, ParsesAndBuildsAPlan) {
    auto spec = parse_spec(default_spec_json(false, 0, 0));
    ASSERT_TRUE(spec) << spec.error().message;
    EXPECT_EQ(spec->oci_version, kSpecVersion);
    auto p = plan::build(*spec, {.id = "c1", .bundle = "/bundles/c1"});
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->rootfs, "/bundles/c1/rootfs");
    EXPECT_TRUE(p->rootfs_readonly);
    EXPECT_EQ(p->hostname, "kapsel");
    EXPECT_THAT(p->process->args, ElementsAre("sh"));
    EXPECT_TRUE(p->process->terminal);
    EXPECT_TRUE(p->process->no_new_privileges);
    EXPECT_EQ(p->process->caps.bounding,
              (uint64_t{1} << 29) | (uint64_t{1} << 5) | (uint64_t{1} << 10))
        << "CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE";
    EXPECT_TRUE(p->creates(plan::NsType::net));
    EXPECT_FALSE(p->has(plan::NsType::user));
    ASSERT_EQ(p->mounts.size(), 7u);
    EXPECT_EQ(p->mounts[6].kind, plan::MountKind::cgroup);
    EXPECT_THAT(p->masked_paths, ::testing::Contains("/proc/kcore"));
    EXPECT_THAT(p->readonly_paths, ::testing::Contains("/proc/sys"));
    ASSERT_TRUE(spec->linux_->resources);
    ASSERT_EQ(spec->linux_->resources->devices.size(), 1u);
    EXPECT_FALSE(spec->linux_->resources->devices[0].allow) << "deny all devices by default";
}

TEST(DefaultSpec, RootlessMapsTheCallerAndBindsSys) {
    auto spec = parse_spec(default_spec_json(true, 1000, 1001));
    ASSERT_TRUE(spec) << spec.error().message;
    auto p = plan::build(*spec, {.id = "c1", .bundle = "/bundles/c1"});
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_TRUE(p->creates(plan::NsType::user));
    ASSERT_EQ(p->uid_map.size(), 1u);
    EXPECT_EQ(p->uid_map[0].inside, 0u);
    EXPECT_EQ(p->uid_map[0].outside, 1000u);
    EXPECT_EQ(p->uid_map[0].count, 1u);
    ASSERT_EQ(p->gid_map.size(), 1u);
    EXPECT_EQ(p->gid_map[0].outside, 1001u);
    ASSERT_EQ(p->mounts.size(), 6u);
    EXPECT_EQ(p->mounts[5].kind, plan::MountKind::bind);
    EXPECT_EQ(p->mounts[5].source, "/sys");
    EXPECT_TRUE(p->mounts[5].recursive_bind);
    for (auto& m : p->mounts)
        for (auto& [key, value] : m.data)
            EXPECT_NE(key, "gid") << "a rootless devpts cannot be given gid=5";
    EXPECT_FALSE(spec->linux_->resources) << "a rootless container cannot use the devices cgroup";
}

TEST(DefaultSpec, IsTabIndentedWithATrailingNewline) {
    std::string text = default_spec_json(false, 0, 0);
    EXPECT_EQ(text.substr(0, 3), "{\n\t");
    EXPECT_EQ(text.back(), '\n');
}

// --- features ---

TEST(Features, IsValidJsonWithTheSupportedVersions) {
    json j = json::parse(features_json(false, false, plan::all_capability_names()));
    EXPECT_EQ(j["ociVersionMin"], "1.0.0");
    EXPECT_EQ(j["ociVersionMax"], "1.3.0");
    EXPECT_THAT(j["hooks"].get<std::vector<std::string>>(),
                ElementsAre("prestart", "createRuntime", "createContainer", "startContainer",
                            "poststart", "poststop"));
}

TEST(Features, ListsAllFortyOneCapabilities) {
    json j = json::parse(features_json(false, false, plan::all_capability_names()));
    auto caps = j["linux"]["capabilities"].get<std::vector<std::string>>();
    EXPECT_EQ(caps.size(), 41u);
    EXPECT_EQ(caps.front(), "CAP_CHOWN");
    EXPECT_EQ(caps.back(), "CAP_CHECKPOINT_RESTORE");
}

TEST(Features, ListsEveryNamespaceAndTheSecurityModules) {
    json j = json::parse(features_json(true, false, plan::all_capability_names()));
    EXPECT_THAT(j["linux"]["namespaces"].get<std::vector<std::string>>(),
                ElementsAre("cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"));
    EXPECT_EQ(j["linux"]["apparmor"]["enabled"], true);
    EXPECT_EQ(j["linux"]["selinux"]["enabled"], false);
    EXPECT_EQ(j["linux"]["seccomp"]["enabled"], true);
    EXPECT_EQ(j["linux"]["mountExtensions"]["idmap"]["enabled"], true);
    EXPECT_TRUE(j["annotations"].contains("io.github.seccomp.libseccomp.version"));
}

TEST(Features, EveryAdvertisedMountOptionIsUnderstood) {
    json j = json::parse(features_json(false, false, plan::all_capability_names()));
    for (auto& opt : j["mountOptions"].get<std::vector<std::string>>()) {
        oci::Mount m{.destination = "/m", .type = "bind", .source = "/s", .options = {opt}};
        if (opt == "idmap" || opt == "ridmap") m.uid_mappings = m.gid_mappings = {{0, 1000, 1}};
        if (opt == "tmpcopyup") m.type = "tmpfs", m.source = "tmpfs";
        auto out = plan::build_mount(m, "/b", 0);
        ASSERT_TRUE(out) << opt << ": " << out.error().message;
        EXPECT_TRUE(out->data.empty()) << opt << " was taken for filesystem data";
    }
}

}  // namespace
}  // namespace kapsel::oci
