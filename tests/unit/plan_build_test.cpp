// plan/build.cpp: the rules a config must satisfy before anything is created, and
// the plan it turns into (namespaces, id maps, devices, process, sysctl, seccomp...).
#include <linux/capability.h>

#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/ioprio.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>

#include "plan/build.hpp"
#include "test_support.hpp"

namespace kapsel::plan {
namespace {

using kapsel::testing::build_config;
using kapsel::testing::build_with;
using kapsel::testing::config_with;
using kapsel::testing::error_of;
using kapsel::testing::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

json namespaces(std::initializer_list<const char*> types) {
    json list = json::array();
    for (auto* t : types) list.push_back({{"type", t}});
    return {{"linux", {{"namespaces", list}}}};
}

json with_namespaces(json patch, std::initializer_list<const char*> types) {
    patch.merge_patch(namespaces(types));
    return patch;
}

std::vector<std::string> device_paths(const Plan& p) {
    std::vector<std::string> out;
    for (auto& d : p.devices) out.push_back(d.path);
    return out;
}

// --- the whole config ---

TEST(BuildPlan, MinimalConfig) {
    auto p = build_with({});
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->id, "c1");
    EXPECT_EQ(p->bundle, "/bundles/c1");
    EXPECT_EQ(p->rootfs, "/bundles/c1/rootfs");
    EXPECT_FALSE(p->rootfs_readonly);
    EXPECT_EQ(p->rootfs_propagation, 0u) << "0 means kapsel's default (rslave)";
    ASSERT_TRUE(p->process);
    EXPECT_THAT(p->process->args, ElementsAre("/bin/sh"));
    EXPECT_EQ(p->process->cwd, "/");
    EXPECT_FALSE(p->process->has_caps);
    EXPECT_TRUE(p->creates(NsType::pid));
    EXPECT_TRUE(p->creates(NsType::mount));
    EXPECT_FALSE(p->has(NsType::net));
}

TEST(BuildPlan, RelativeRootIsBelowTheBundle) {
    auto p = build_with({{"root", {{"path", "./images/../rootfs/"}}}});
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->rootfs, "/bundles/c1/rootfs");
}

TEST(BuildPlan, AbsoluteRootIsKeptButCleaned) {
    auto p = build_with({{"root", {{"path", "/var/lib/images/../rootfs/"}, {"readonly", true}}}});
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->rootfs, "/var/lib/rootfs");
    EXPECT_TRUE(p->rootfs_readonly);
}

TEST(BuildPlan, RootIsRequired) {
    EXPECT_EQ(error_of(build_with({{"root", nullptr}})),
              "root.path: the container needs a root filesystem");
    EXPECT_EQ(error_of(build_with({{"root", {{"path", ""}}}})),
              "root.path: the container needs a root filesystem");
}

TEST(BuildPlan, AnOverlayRootHasAtMostTheLayersOverlayfsStacks) {
    auto overlay = [](size_t layers) {
        json lowers = json::array();
        for (size_t i = 0; i < layers; ++i) lowers.push_back("/store/layers/" + std::to_string(i));
        json o = {{"lowerdir", lowers}, {"upperdir", "/c/upper"}, {"workdir", "/c/work"}};
        return json{{"annotations", {{"io.kapsel.rootfs.overlay", o.dump()}}}};
    };
    auto ok = build_with(overlay(kMaxOverlayLayers));
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(kMaxOverlayLayers, ok->rootfs_overlay->lowers.size());
    EXPECT_THAT(error_of(build_with(overlay(kMaxOverlayLayers + 1))),
                HasSubstr("the image has 501 layers; overlayfs stacks at most 500"));
    // Wrongly typed members are an error, not an exception.
    json bad = {{"annotations",
                 {{"io.kapsel.rootfs.overlay",
                   R"({"lowerdir": ["/l"], "upperdir": 5, "workdir": "/w"})"}}}};
    EXPECT_THAT(error_of(build_with(bad)), HasSubstr("annotations.io.kapsel.rootfs.overlay"));
}

TEST(BuildPlan, AnOverlayRootMayAskForUserxattr) {
    auto with = [](const char* extra) {
        std::string o = std::string(R"({"lowerdir": ["/l"], "upperdir": "/u", "workdir": "/w")") + extra + "}";
        return build_with(json{{"annotations", {{"io.kapsel.rootfs.overlay", o}}}});
    };
    auto plain = with("");
    ASSERT_TRUE(plain) << plain.error().message;
    EXPECT_FALSE(plain->rootfs_overlay->user_xattr);
    auto user = with(R"(, "userxattr": true)");
    ASSERT_TRUE(user) << user.error().message;
    EXPECT_TRUE(user->rootfs_overlay->user_xattr);
    EXPECT_THAT(error_of(with(R"(, "userxattr": "yes")")), HasSubstr("userxattr must be true or false"));
}

TEST(BuildPlan, OciVersionMustBeOneDotSomething) {
    EXPECT_TRUE(build_with({{"ociVersion", "1.0.0"}}));
    EXPECT_TRUE(build_with({{"ociVersion", "1.3.0-rc.1"}}));
    EXPECT_EQ(error_of(build_with({{"ociVersion", "2.0.0"}})),
              "ociVersion: unsupported version \"2.0.0\" (kapsel runs 1.x configs)");
    EXPECT_THAT(error_of(build_with({{"ociVersion", "0.9"}})),
                HasSubstr("unsupported version \"0.9\""));
}

TEST(BuildPlan, NoProcessIsAllowedUntilStart) {
    auto p = build_with({{"process", nullptr}});
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_FALSE(p->process);
}

// --- namespaces ---

TEST(BuildNamespaces, AllKnownTypesInOrder) {
    auto p = build_config(config_with(with_namespaces(
        {{"linux",
          {{"uidMappings", {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}}},
           {"gidMappings", {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}}}}}},
        {"user", "pid", "mount", "uts", "ipc", "network", "cgroup", "time"})));
    ASSERT_TRUE(p) << p.error().message;
    ASSERT_EQ(p->namespaces.size(), 8u);
    for (size_t i = 0; i < 8; ++i) EXPECT_EQ(p->namespaces[i].type, kAllNamespaces[i]);
}

TEST(BuildNamespaces, NetIsAcceptedForNetwork) {
    auto p = build_with(namespaces({"mount", "net"}));
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_TRUE(p->creates(NsType::net));
}

TEST(BuildNamespaces, UnknownTypeNamesTheEntry) {
    EXPECT_EQ(error_of(build_with(namespaces({"pid", "mount", "sound"}))),
              "linux.namespaces[2].type: unknown namespace type \"sound\"");
}

TEST(BuildNamespaces, AnIdenticalDuplicateIsOneAndAConflictingOneIsRefused) {
    // A caller that appends "cgroup" to a template that has it already (kapsel's, not
    // runc 1.1's) means one namespace.
    auto twice = build_with(namespaces({"pid", "mount", "cgroup", "cgroup", "network", "net"}));
    ASSERT_TRUE(twice) << twice.error().message;
    EXPECT_EQ(1, std::count_if(twice->namespaces.begin(), twice->namespaces.end(),
                               [](const Namespace& n) { return n.type == NsType::cgroup; }));
    EXPECT_TRUE(twice->creates(NsType::net));
    json conflict = {{"linux",
                      {{"namespaces",
                        {{{"type", "pid"}}, {{"type", "mount"}},
                         {{"type", "network"}, {"path", "/run/netns/a"}},
                         {{"type", "network"}}}}}}};
    EXPECT_EQ(error_of(build_with(conflict)),
              "linux.namespaces[3]: namespace \"network\" is listed twice, with different paths");
}

TEST(BuildProcess, AmbientCapabilitiesThatAreNotInheritableAreSkippedAsRuncDoes) {
    // runc spec's template: ambient CAP_KILL, inheritable empty.
    json caps = {{"process",
                  {{"capabilities",
                    {{"bounding", {"CAP_KILL", "CAP_CHOWN"}},
                     {"effective", {"CAP_KILL", "CAP_CHOWN"}},
                     {"permitted", {"CAP_KILL", "CAP_CHOWN"}},
                     {"inheritable", {"CAP_CHOWN"}},
                     {"ambient", {"CAP_KILL", "CAP_CHOWN"}}}}}}};
    auto p = build_with(caps);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->process->caps.ambient, uint64_t{1} << CAP_CHOWN)
        << "CAP_KILL is not inheritable: the kernel would refuse to raise it";
}

TEST(BuildNamespaces, JoinedByAbsolutePath) {
    auto p = build_with(
        {{"linux",
          {{"namespaces",
            {{{"type", "mount"}}, {{"type", "network"}, {"path", "/run/netns/blue"}}}}}}});
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_TRUE(p->has(NsType::net));
    EXPECT_FALSE(p->creates(NsType::net));
    EXPECT_EQ(p->find(NsType::net)->path, "/run/netns/blue");
}

TEST(BuildNamespaces, RelativePathIsRefused) {
    auto p = build_with(
        {{"linux", {{"namespaces", {{{"type", "network"}, {"path", "run/netns/blue"}}}}}}});
    EXPECT_EQ(error_of(p), "linux.namespaces[0].path: must be absolute");
}

TEST(BuildNamespaces, NameTables) {
    EXPECT_STREQ(ns_name(NsType::net), "network");
    EXPECT_STREQ(ns_proc_name(NsType::net), "net");
    EXPECT_STREQ(ns_name(NsType::mount), "mount");
    EXPECT_STREQ(ns_proc_name(NsType::mount), "mnt");
    EXPECT_EQ(ns_clone_flag(NsType::user), CLONE_NEWUSER);
    EXPECT_EQ(ns_clone_flag(NsType::mount), CLONE_NEWNS);
    EXPECT_EQ(ns_clone_flag(NsType::time), CLONE_NEWTIME);
}

// --- user namespace id mappings ---

const json kMaps = {
    {"linux",
     {{"uidMappings", {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}}},
      {"gidMappings", {{{"containerID", 0}, {"hostID", 200000}, {"size", 65536}}}}}}};

TEST(BuildIdMappings, NewUserNamespaceWithMappings) {
    auto p = build_with(with_namespaces(kMaps, {"user", "mount"}));
    ASSERT_TRUE(p) << p.error().message;
    ASSERT_EQ(p->uid_map.size(), 1u);
    EXPECT_EQ(p->uid_map[0].inside, 0u);
    EXPECT_EQ(p->uid_map[0].outside, 100000u);
    EXPECT_EQ(p->uid_map[0].count, 65536u);
    ASSERT_EQ(p->gid_map.size(), 1u);
    EXPECT_EQ(p->gid_map[0].outside, 200000u);
}

TEST(BuildIdMappings, MappingsWithoutUserNamespaceAreRefused) {
    EXPECT_EQ(error_of(build_with(kMaps)),
              "linux.uidMappings: id mappings need a new user namespace");
}

TEST(BuildIdMappings, MappingsWithAJoinedUserNamespaceAreRefused) {
    json patch = kMaps;
    patch["linux"]["namespaces"] = {{{"type", "user"}, {"path", "/proc/42/ns/user"}},
                                    {{"type", "mount"}}};
    EXPECT_EQ(error_of(build_with(patch)),
              "linux.uidMappings: id mappings need a new user namespace");
}

TEST(BuildIdMappings, NewUserNamespaceNeedsBothMappings) {
    EXPECT_EQ(error_of(build_with(namespaces({"user", "mount"}))),
              "linux.uidMappings: a new user namespace needs uidMappings and gidMappings");
    json only_uid = kMaps;
    only_uid["linux"].erase("gidMappings");
    EXPECT_EQ(error_of(build_with(with_namespaces(only_uid, {"user", "mount"}))),
              "linux.uidMappings: a new user namespace needs uidMappings and gidMappings");
}

TEST(BuildIdMappings, JoinedUserNamespaceNeedsNoMappings) {
    auto p =
        build_with({{"linux",
                     {{"namespaces",
                       {{{"type", "user"}, {"path", "/proc/42/ns/user"}}, {{"type", "mount"}}}}}}});
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_TRUE(p->has(NsType::user));
    EXPECT_TRUE(p->uid_map.empty());
}

// --- time namespace ---

TEST(BuildTimeOffsets, NeedANewTimeNamespace) {
    json offsets = {{"linux", {{"timeOffsets", {{"monotonic", {{"secs", 100}}}}}}}};
    EXPECT_EQ(error_of(build_with(offsets)), "linux.timeOffsets: need a new time namespace");
    auto p = build_with(with_namespaces(offsets, {"mount", "time"}));
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->time_offsets.at("monotonic").secs, 100);
}

TEST(BuildTimeOffsets, OnlyMonotonicAndBoottime) {
    json offsets = {{"linux", {{"timeOffsets", {{"realtime", {{"secs", 1}}}}}}}};
    EXPECT_EQ(error_of(build_with(with_namespaces(offsets, {"mount", "time"}))),
              "linux.timeOffsets: unknown clock \"realtime\" (monotonic or boottime)");
}

// --- rootfs propagation and read-only root ---

TEST(BuildRootfsPropagation, NamesMapToMountFlags) {
    struct Case {
        const char* name;
        uint64_t flag;
        bool recursive;
    } cases[] = {{"shared", MS_SHARED, false},         {"rshared", MS_SHARED, true},
                 {"slave", MS_SLAVE, false},           {"rslave", MS_SLAVE, true},
                 {"private", MS_PRIVATE, false},       {"rprivate", MS_PRIVATE, true},
                 {"unbindable", MS_UNBINDABLE, false}, {"runbindable", MS_UNBINDABLE, true}};
    for (auto& c : cases) {
        auto p = build_with({{"linux", {{"rootfsPropagation", c.name}}}});
        ASSERT_TRUE(p) << c.name << ": " << p.error().message;
        EXPECT_EQ(p->rootfs_propagation, c.flag) << c.name;
        EXPECT_EQ(p->rootfs_propagation_recursive, c.recursive) << c.name;
    }
}

TEST(BuildRootfsPropagation, UnknownName) {
    EXPECT_EQ(error_of(build_with({{"linux", {{"rootfsPropagation", "rshard"}}}})),
              "linux.rootfsPropagation: unknown propagation \"rshard\"");
}

TEST(BuildRootfsPropagation, NeedsAMountNamespace) {
    json patch = namespaces({"pid"});
    patch["linux"]["rootfsPropagation"] = "rshared";
    EXPECT_EQ(error_of(build_with(patch)), "linux.rootfsPropagation: needs a mount namespace");
}

TEST(BuildRootfs, ReadonlyRootNeedsAMountNamespace) {
    json patch = namespaces({"pid"});
    patch["root"] = {{"path", "rootfs"}, {"readonly", true}};
    EXPECT_EQ(error_of(build_with(patch)),
              "root.readonly: a read-only root needs a mount namespace");
}

// --- devices ---

TEST(BuildDevices, EveryContainerGetsTheDefaultDevices) {
    auto p = build_with({});
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_THAT(device_paths(*p), ElementsAre("/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                              "/dev/urandom", "/dev/tty"));
    const DeviceNode& null = p->devices[0];
    EXPECT_EQ(null.type, 'c');
    EXPECT_EQ(null.major, 1u);
    EXPECT_EQ(null.minor, 3u);
    EXPECT_EQ(null.mode, 0666u);
    const DeviceNode& tty = p->devices[5];
    EXPECT_EQ(tty.major, 5u);
    EXPECT_EQ(tty.minor, 0u);
}

TEST(BuildDevices, ConfigDeviceOnADefaultPathReplacesItInPlace) {
    auto p = build_with({{"linux",
                          {{"devices",
                            {{{"path", "/dev/./null"},
                              {"type", "c"},
                              {"major", 1},
                              {"minor", 3},
                              {"fileMode", 0600},
                              {"uid", 5},
                              {"gid", 6}}}}}}});
    ASSERT_TRUE(p) << p.error().message;
    ASSERT_EQ(p->devices.size(), 6u);
    const DeviceNode& null = p->devices[0];
    EXPECT_EQ(null.path, "/dev/null");
    EXPECT_EQ(null.mode, 0600u);
    EXPECT_EQ(null.uid, 5u);
    EXPECT_EQ(null.gid, 6u);
}

TEST(BuildDevices, NewDevicesFollowTheDefaults) {
    auto p = build_with({{"linux",
                          {{"devices",
                            {{{"path", "/dev/sda"}, {"type", "b"}, {"major", 8}, {"minor", 0}},
                             {{"path", "/dev/fuse"}, {"type", "u"}, {"major", 10}, {"minor", 229}},
                             {{"path", "/dev/fifo"}, {"type", "p"}}}}}}});
    ASSERT_TRUE(p) << p.error().message;
    ASSERT_EQ(p->devices.size(), 9u);
    EXPECT_EQ(p->devices[6].path, "/dev/sda");
    EXPECT_EQ(p->devices[6].type, 'b');
    EXPECT_EQ(p->devices[6].mode, 0666u) << "no fileMode: 0666";
    EXPECT_EQ(p->devices[7].type, 'c') << "u (unbuffered) is a character device";
    EXPECT_EQ(p->devices[8].type, 'p');
}

TEST(BuildDevices, FileModeKeepsOnlyPermissionBits) {
    // S_IFCHR | 0640, as some configs write it.
    auto p = build_with({{"linux",
                          {{"devices",
                            {{{"path", "/dev/x"},
                              {"type", "c"},
                              {"major", 1},
                              {"minor", 1},
                              {"fileMode", 020640}}}}}}});
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->devices.back().mode, 0640u);
}

TEST(BuildDevices, Errors) {
    auto dev = [](json d) { return build_with({{"linux", {{"devices", json::array({d})}}}}); };
    EXPECT_EQ(error_of(dev({{"path", "dev/x"}, {"type", "c"}})),
              "linux.devices[0].path: must be absolute");
    EXPECT_EQ(error_of(dev({{"path", "/dev/x"}, {"type", "s"}})),
              "linux.devices[0].type: unknown device type \"s\" (c, b, u or p)");
    EXPECT_EQ(error_of(dev({{"path", "/dev/x"}, {"type", "c"}, {"major", -1}})),
              "linux.devices[0]: major and minor must not be negative");
}

// --- masked and read-only paths ---

TEST(BuildPaths, MaskedAndReadonlyPathsAreKept) {
    auto p = build_with(
        {{"linux",
          {{"maskedPaths", {"/proc/kcore"}}, {"readonlyPaths", {"/proc/sys", "/proc/bus"}}}}});
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_THAT(p->masked_paths, ElementsAre("/proc/kcore"));
    EXPECT_THAT(p->readonly_paths, ElementsAre("/proc/sys", "/proc/bus"));
}

TEST(BuildPaths, MustBeAbsolute) {
    EXPECT_EQ(error_of(build_with({{"linux", {{"maskedPaths", {"proc/kcore"}}}}})),
              "linux.maskedPaths: \"proc/kcore\" is not absolute");
    EXPECT_EQ(error_of(build_with({{"linux", {{"readonlyPaths", {""}}}}})),
              "linux.readonlyPaths: \"\" is not absolute");
}

// --- hostname, domainname ---

TEST(BuildHostname, NeedsAUtsNamespace) {
    EXPECT_EQ(error_of(build_with({{"hostname", "box"}})),
              "hostname: setting a hostname needs a UTS namespace");
    auto p = build_with(with_namespaces({{"hostname", "box"}}, {"mount", "uts"}));
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_TRUE(p->set_hostname);
    EXPECT_EQ(p->hostname, "box");
    EXPECT_FALSE(p->set_domainname);
}

TEST(BuildHostname, AJoinedUtsNamespaceWillDo) {
    auto p = build_with(
        {{"hostname", "box"},
         {"linux",
          {{"namespaces", {{{"type", "mount"}}, {{"type", "uts"}, {"path", "/proc/1/ns/uts"}}}}}}});
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_TRUE(p->set_hostname);
}

TEST(BuildHostname, DomainnameNeedsAUtsNamespace) {
    EXPECT_EQ(error_of(build_with({{"domainname", "example.org"}})),
              "domainname: setting a domainname needs a UTS namespace");
    auto p = build_with(with_namespaces({{"domainname", "example.org"}}, {"mount", "uts"}));
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_TRUE(p->set_domainname);
    EXPECT_EQ(p->domainname, "example.org");
}

// --- sysctl ---

Result<Plan> with_sysctl(const char* key, std::initializer_list<const char*> ns) {
    return build_with(with_namespaces({{"linux", {{"sysctl", {{key, "1"}}}}}}, ns));
}

TEST(BuildSysctl, NetKeysNeedANetworkNamespace) {
    EXPECT_EQ(error_of(with_sysctl("net.ipv4.ip_forward", {"mount"})),
              "linux.sysctl: \"net.ipv4.ip_forward\" needs a network namespace");
    auto p = with_sysctl("net.ipv4.ip_forward", {"mount", "network"});
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_THAT(p->sysctl, ElementsAre(Pair("net/ipv4/ip_forward", "1")));
}

TEST(BuildSysctl, IpcKeysNeedAnIpcNamespace) {
    EXPECT_EQ(error_of(with_sysctl("kernel.shmmax", {"mount"})),
              "linux.sysctl: \"kernel.shmmax\" needs a ipc namespace");
    EXPECT_TRUE(with_sysctl("kernel.shmmax", {"mount", "ipc"}));
    EXPECT_TRUE(with_sysctl("fs.mqueue.msg_max", {"mount", "ipc"}));
    EXPECT_FALSE(with_sysctl("fs.mqueue.msg_max", {"mount"}));
}

TEST(BuildSysctl, UtsKeysNeedAUtsNamespace) {
    EXPECT_EQ(error_of(with_sysctl("kernel.domainname", {"mount"})),
              "linux.sysctl: \"kernel.domainname\" needs a uts namespace");
    EXPECT_TRUE(with_sysctl("kernel.domainname", {"mount", "uts"}));
}

TEST(BuildSysctl, NonNamespacedKeysAreRefused) {
    EXPECT_EQ(error_of(with_sysctl("vm.swappiness", {"mount", "network", "ipc", "uts"})),
              "linux.sysctl: \"vm.swappiness\" is not namespaced and would change the host");
    EXPECT_FALSE(with_sysctl("kernel.pid_max", {"mount", "network", "ipc", "uts"}));
}

TEST(BuildSysctl, KeyCannotClimbOutOfProcSys) {
    EXPECT_EQ(error_of(with_sysctl("net./../../etc/passwd", {"mount", "network"})),
              "linux.sysctl: invalid key \"net./../../etc/passwd\"");
}

TEST(BuildSysctl, SlashSeparatedKeyIsAcceptedLikeItsDottedForm) {
    auto p = with_sysctl("net/ipv4/conf/eth0.100/forwarding", {"mount", "network"});
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_THAT(p->sysctl, ElementsAre(Pair("net/ipv4/conf/eth0.100/forwarding", "1")));
}

TEST(BuildSysctl, DottedKeyWithASlashSwapsDotsAndSlashes) {
    auto p = with_sysctl("net.ipv4.conf.eth0/100.forwarding", {"mount", "network"});
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_THAT(p->sysctl, ElementsAre(Pair("net/ipv4/conf/eth0.100/forwarding", "1")));
}

// --- personality ---

TEST(BuildPersonality, Domains) {
    auto native = build_with({{"linux", {{"personality", {{"domain", "LINUX"}}}}}});
    ASSERT_TRUE(native) << native.error().message;
    EXPECT_EQ(native->personality, PER_LINUX);
    auto compat = build_with({{"linux", {{"personality", {{"domain", "LINUX32"}}}}}});
    ASSERT_TRUE(compat) << compat.error().message;
    EXPECT_EQ(compat->personality, PER_LINUX32);
    EXPECT_FALSE(build_with({})->personality);
}

TEST(BuildPersonality, Errors) {
    EXPECT_EQ(error_of(build_with({{"linux", {{"personality", {{"domain", "SVR4"}}}}}})),
              "linux.personality.domain: unknown domain \"SVR4\" (LINUX or LINUX32)");
    EXPECT_EQ(error_of(build_with(
                  {{"linux",
                    {{"personality", {{"domain", "LINUX"}, {"flags", {"ADDR_NO_RANDOMIZE"}}}}}}})),
              "linux.personality.flags: no personality flags are supported");
}

// --- the process ---

Result<Plan> with_process(const json& process_patch) {
    return build_with({{"process", process_patch}});
}

TEST(BuildProcess, CopiesTheBasics) {
    auto p = with_process(
        {{"terminal", true},
         {"consoleSize", {{"height", 24}, {"width", 80}}},
         {"user", {{"uid", 1000}, {"gid", 100}, {"umask", 022}, {"additionalGids", {10, 11}}}},
         {"env", {"A=1"}},
         {"cwd", "/home"},
         {"noNewPrivileges", true},
         {"apparmorProfile", "p"},
         {"selinuxLabel", "l"},
         {"execCPUAffinity", {{"initial", "0"}, {"final", "1-2"}}}});
    ASSERT_TRUE(p) << p.error().message;
    const Process& proc = *p->process;
    EXPECT_TRUE(proc.terminal);
    EXPECT_EQ(proc.console_size, std::make_pair(24u, 80u)) << "rows, cols";
    EXPECT_EQ(proc.uid, 1000u);
    EXPECT_EQ(proc.gid, 100u);
    EXPECT_EQ(proc.umask, 022u);
    EXPECT_THAT(proc.additional_gids, ElementsAre(10u, 11u));
    EXPECT_THAT(proc.env, ElementsAre("A=1"));
    EXPECT_EQ(proc.cwd, "/home");
    EXPECT_TRUE(proc.no_new_privileges);
    EXPECT_EQ(proc.apparmor_profile, "p");
    EXPECT_EQ(proc.selinux_label, "l");
    EXPECT_EQ(proc.cpu_affinity_initial, "0");
    EXPECT_EQ(proc.cpu_affinity_final, "1-2");
}

TEST(BuildProcess, ArgsMustNameAProgram) {
    EXPECT_EQ(error_of(with_process({{"args", json::array()}})),
              "process.args: must name the program to run");
    EXPECT_EQ(error_of(with_process({{"args", nullptr}})),
              "process.args: must name the program to run");
}

TEST(BuildProcess, CwdMustBeAbsolute) {
    EXPECT_EQ(error_of(with_process({{"cwd", "home"}})),
              "process.cwd: must be an absolute path, got \"home\"");
    EXPECT_EQ(error_of(with_process({{"cwd", nullptr}})),
              "process.cwd: must be an absolute path, got \"\"");
}

TEST(BuildProcess, CapabilitiesBecomeMasks) {
    auto p = with_process({{"capabilities",
                            {{"bounding", {"CAP_KILL", "net_bind_service", "SYS_ADMIN"}},
                             {"effective", {"cap_kill"}},
                             {"ambient", json::array()}}}});
    ASSERT_TRUE(p) << p.error().message;
    const Process& proc = *p->process;
    EXPECT_TRUE(proc.has_caps);
    EXPECT_EQ(proc.caps.bounding, (uint64_t{1} << 5) | (uint64_t{1} << 10) | (uint64_t{1} << 21));
    EXPECT_EQ(proc.caps.effective, uint64_t{1} << 5);
    EXPECT_EQ(proc.caps.permitted, 0u);
    EXPECT_EQ(proc.caps.ambient, 0u);
}

TEST(BuildProcess, UnknownCapabilityNamesTheSet) {
    EXPECT_EQ(error_of(with_process({{"capabilities", {{"permitted", {"CAP_KILL", "CAP_FLY"}}}}})),
              "process.capabilities.permitted: unknown capability \"CAP_FLY\"");
    EXPECT_EQ(error_of(with_process({{"capabilities", {{"ambient", {"everything"}}}}})),
              "process.capabilities.ambient: unknown capability \"everything\"");
}

TEST(BuildProcess, Rlimits) {
    auto p = with_process({{"rlimits",
                            {{{"type", "RLIMIT_NOFILE"}, {"soft", 512}, {"hard", 1024}},
                             {{"type", "RLIMIT_CORE"}, {"soft", 0}, {"hard", 0}}}}});
    ASSERT_TRUE(p) << p.error().message;
    ASSERT_EQ(p->process->rlimits.size(), 2u);
    EXPECT_EQ(p->process->rlimits[0].resource, RLIMIT_NOFILE);
    EXPECT_EQ(p->process->rlimits[0].soft, 512u);
    EXPECT_EQ(p->process->rlimits[0].hard, 1024u);
    EXPECT_EQ(p->process->rlimits[0].name, "RLIMIT_NOFILE");
    EXPECT_EQ(p->process->rlimits[1].resource, RLIMIT_CORE);
}

TEST(BuildProcess, RlimitErrors) {
    EXPECT_EQ(error_of(with_process(
                  {{"rlimits", {{{"type", "RLIMIT_FILES"}, {"soft", 1}, {"hard", 1}}}}})),
              "process.rlimits[0].type: unknown rlimit \"RLIMIT_FILES\"");
    EXPECT_EQ(
        error_of(with_process({{"rlimits", {{{"type", "nofile"}, {"soft", 1}, {"hard", 1}}}}})),
        "process.rlimits[0].type: unknown rlimit \"nofile\"");
    EXPECT_EQ(error_of(with_process({{"rlimits",
                                      {{{"type", "RLIMIT_NOFILE"}, {"soft", 1}, {"hard", 1}},
                                       {{"type", "RLIMIT_NOFILE"}, {"soft", 2}, {"hard", 2}}}}})),
              "process.rlimits[1].type: RLIMIT_NOFILE is set twice");
    EXPECT_EQ(error_of(with_process(
                  {{"rlimits", {{{"type", "RLIMIT_NPROC"}, {"soft", 100}, {"hard", 10}}}}})),
              "process.rlimits[0]: soft limit 100 is above hard limit 10");
}

TEST(BuildProcess, OomScoreAdjBounds) {
    EXPECT_EQ(with_process({{"oomScoreAdj", -1000}})->process->oom_score_adj, -1000);
    EXPECT_EQ(with_process({{"oomScoreAdj", 1000}})->process->oom_score_adj, 1000);
    EXPECT_EQ(error_of(with_process({{"oomScoreAdj", 1001}})),
              "process.oomScoreAdj: must be between -1000 and 1000");
    EXPECT_EQ(error_of(with_process({{"oomScoreAdj", -1001}})),
              "process.oomScoreAdj: must be between -1000 and 1000");
    EXPECT_FALSE(with_process(json::object())->process->oom_score_adj);
}

TEST(BuildProcess, Scheduler) {
    auto p = with_process(
        {{"scheduler",
          {{"policy", "SCHED_FIFO"}, {"priority", 10}, {"flags", {"SCHED_FLAG_RESET_ON_FORK"}}}}});
    ASSERT_TRUE(p) << p.error().message;
    ASSERT_TRUE(p->process->scheduler);
    EXPECT_EQ(p->process->scheduler->policy, SCHED_FIFO);
    EXPECT_EQ(p->process->scheduler->priority, 10);
    EXPECT_EQ(p->process->scheduler->flags, 0x01u) << "SCHED_FLAG_RESET_ON_FORK";

    auto dl = with_process({{"scheduler",
                             {{"policy", "SCHED_DEADLINE"},
                              {"runtime", 1000},
                              {"deadline", 2000},
                              {"period", 3000}}}});
    ASSERT_TRUE(dl) << dl.error().message;
    EXPECT_EQ(dl->process->scheduler->policy, 6);
    EXPECT_EQ(dl->process->scheduler->period, 3000u);
}

TEST(BuildProcess, SchedulerErrors) {
    EXPECT_EQ(error_of(with_process({{"scheduler", {{"policy", "SCHED_FAST"}}}})),
              "process.scheduler.policy: unknown policy \"SCHED_FAST\"");
    EXPECT_EQ(error_of(with_process(
                  {{"scheduler", {{"policy", "SCHED_OTHER"}, {"flags", {"SCHED_FLAG_TURBO"}}}}})),
              "process.scheduler.flags: unknown flag \"SCHED_FLAG_TURBO\"");
    EXPECT_EQ(error_of(with_process({{"scheduler", {{"policy", "SCHED_OTHER"}, {"nice", 20}}}})),
              "process.scheduler.nice: must be between -20 and 19");
    EXPECT_TRUE(with_process({{"scheduler", {{"policy", "SCHED_OTHER"}, {"nice", -20}}}}));
    EXPECT_EQ(
        error_of(with_process({{"scheduler", {{"policy", "SCHED_DEADLINE"}, {"runtime", 1000}}}})),
        "process.scheduler: SCHED_DEADLINE needs runtime and deadline");
}

TEST(BuildProcess, IoPriorityIsClassShiftedOverData) {
    auto p = with_process({{"ioPriority", {{"class", "IOPRIO_CLASS_BE"}, {"priority", 4}}}});
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->process->io_priority, (IOPRIO_CLASS_BE << 13) | 4);
    auto idle = with_process({{"ioPriority", {{"class", "IOPRIO_CLASS_IDLE"}}}});
    ASSERT_TRUE(idle) << idle.error().message;
    EXPECT_EQ(idle->process->io_priority, IOPRIO_CLASS_IDLE << 13);
}

TEST(BuildProcess, IoPriorityErrors) {
    EXPECT_EQ(error_of(with_process({{"ioPriority", {{"class", "IOPRIO_CLASS_NONE"}}}})),
              "process.ioPriority.class: unknown class \"IOPRIO_CLASS_NONE\"");
    EXPECT_EQ(
        error_of(with_process({{"ioPriority", {{"class", "IOPRIO_CLASS_RT"}, {"priority", 8}}}})),
        "process.ioPriority.priority: must be between 0 and 7");
    EXPECT_EQ(
        error_of(with_process({{"ioPriority", {{"class", "IOPRIO_CLASS_RT"}, {"priority", -1}}}})),
        "process.ioPriority.priority: must be between 0 and 7");
}

TEST(BuildProcess, ExecProcessBuildsOnItsOwn) {
    oci::Process p;
    p.args = {"ls", "-l"};
    p.cwd = "/tmp";
    p.capabilities = oci::Capabilities{.bounding = {"CAP_CHOWN"}};
    auto r = build_process(p, /*in_user_ns=*/true);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_THAT(r->args, ElementsAre("ls", "-l"));
    EXPECT_EQ(r->caps.bounding, 1u);
}

// --- seccomp ---

Result<Plan> with_seccomp(const json& seccomp) {
    return build_with({{"linux", {{"seccomp", seccomp}}}});
}

TEST(BuildSeccomp, RulesAndDefaults) {
    auto p = with_seccomp(
        {{"defaultAction", "SCMP_ACT_ERRNO"},
         {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}},
         {"flags", {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG"}},
         {"syscalls",
          {{{"names", {"read", "write"}}, {"action", "SCMP_ACT_ALLOW"}},
           {{"names", {"kill"}},
            {"action", "SCMP_ACT_ERRNO"},
            {"errnoRet", 13},
            {"args",
             {{{"index", 1}, {"value", 9}, {"op", "SCMP_CMP_EQ"}},
              {{"index", 0}, {"value", 255}, {"valueTwo", 1}, {"op", "SCMP_CMP_MASKED_EQ"}}}}}}}});
    ASSERT_TRUE(p) << p.error().message;
    const Seccomp& s = *p->seccomp;
    EXPECT_EQ(s.default_action, SeccompAction::errno_ret);
    EXPECT_EQ(s.default_errno_ret, 1u) << "EPERM unless defaultErrnoRet says otherwise";
    EXPECT_THAT(s.architectures, ElementsAre(SCMP_ARCH_X86_64, SCMP_ARCH_X86));
    EXPECT_EQ(s.flags, 0x3u) << "TSYNC | LOG";
    ASSERT_EQ(s.rules.size(), 2u);
    EXPECT_THAT(s.rules[0].names, ElementsAre("read", "write"));
    EXPECT_EQ(s.rules[0].action, SeccompAction::allow);
    EXPECT_EQ(s.rules[1].action, SeccompAction::errno_ret);
    EXPECT_EQ(s.rules[1].errno_ret, 13u);
    ASSERT_EQ(s.rules[1].args.size(), 2u);
    EXPECT_EQ(s.rules[1].args[0].index, 1u);
    EXPECT_EQ(s.rules[1].args[0].value, 9u);
    EXPECT_EQ(s.rules[1].args[0].op, SeccompOp::eq);
    EXPECT_EQ(s.rules[1].args[1].op, SeccompOp::masked_eq);
    EXPECT_EQ(s.rules[1].args[1].value_two, 1u);
    EXPECT_FALSE(s.uses_notify());
}

TEST(BuildSeccomp, ActionNames) {
    struct Case {
        const char* name;
        SeccompAction action;
    } cases[] = {{"SCMP_ACT_KILL", SeccompAction::kill_thread},
                 {"SCMP_ACT_KILL_THREAD", SeccompAction::kill_thread},
                 {"SCMP_ACT_KILL_PROCESS", SeccompAction::kill_process},
                 {"SCMP_ACT_TRAP", SeccompAction::trap},
                 {"SCMP_ACT_ERRNO", SeccompAction::errno_ret},
                 {"SCMP_ACT_TRACE", SeccompAction::trace},
                 {"SCMP_ACT_ALLOW", SeccompAction::allow},
                 {"SCMP_ACT_LOG", SeccompAction::log}};
    for (auto& c : cases) {
        auto p = with_seccomp({{"defaultAction", c.name}});
        ASSERT_TRUE(p) << c.name << ": " << p.error().message;
        EXPECT_EQ(p->seccomp->default_action, c.action) << c.name;
    }
}

TEST(BuildSeccomp, DefaultErrnoRetOnlyWithErrnoOrTrace) {
    auto errno_ret = with_seccomp({{"defaultAction", "SCMP_ACT_ERRNO"}, {"defaultErrnoRet", 38}});
    ASSERT_TRUE(errno_ret) << errno_ret.error().message;
    EXPECT_EQ(errno_ret->seccomp->default_errno_ret, 38u);
    EXPECT_TRUE(with_seccomp({{"defaultAction", "SCMP_ACT_TRACE"}, {"defaultErrnoRet", 38}}));
    EXPECT_EQ(
        error_of(with_seccomp({{"defaultAction", "SCMP_ACT_ALLOW"}, {"defaultErrnoRet", 38}})),
        "linux.seccomp.defaultErrnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE");
}

TEST(BuildSeccomp, ErrnoRetOnlyWithErrnoOrTrace) {
    EXPECT_TRUE(with_seccomp(
        {{"defaultAction", "SCMP_ACT_ALLOW"},
         {"syscalls", {{{"names", {"ptrace"}}, {"action", "SCMP_ACT_TRACE"}, {"errnoRet", 5}}}}}));
    EXPECT_EQ(
        error_of(with_seccomp(
            {{"defaultAction", "SCMP_ACT_ALLOW"},
             {"syscalls", {{{"names", {"read"}}, {"action", "SCMP_ACT_KILL"}, {"errnoRet", 5}}}}})),
        "linux.seccomp.syscalls[0].errnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE");
}

TEST(BuildSeccomp, UnknownTokensNameTheField) {
    EXPECT_EQ(error_of(with_seccomp({{"defaultAction", "SCMP_ACT_DENY"}})),
              "linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_DENY\"");
    EXPECT_EQ(error_of(with_seccomp({{"defaultAction", "SCMP_ACT_ALLOW"},
                                     {"syscalls",
                                      {{{"names", {"a"}}, {"action", "SCMP_ACT_ALLOW"}},
                                       {{"names", {"b"}}, {"action", "allow"}}}}})),
              "linux.seccomp.syscalls[1].action: unknown seccomp action \"allow\"");
    EXPECT_EQ(error_of(with_seccomp(
                  {{"defaultAction", "SCMP_ACT_ALLOW"},
                   {"syscalls",
                    {{{"names", {"a"}},
                      {"action", "SCMP_ACT_ERRNO"},
                      {"args", {{{"index", 0}, {"value", 1}, {"op", "SCMP_CMP_MAYBE"}}}}}}}})),
              "linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator \"SCMP_CMP_MAYBE\"");
    EXPECT_EQ(error_of(with_seccomp(
                  {{"defaultAction", "SCMP_ACT_ALLOW"}, {"architectures", {"SCMP_ARCH_Z80"}}})),
              "linux.seccomp.architectures: unknown or unsupported seccomp architecture "
              "\"SCMP_ARCH_Z80\"");
    EXPECT_EQ(error_of(with_seccomp(
                  {{"defaultAction", "SCMP_ACT_ALLOW"}, {"flags", {"SECCOMP_FILTER_FLAG_FAST"}}})),
              "linux.seccomp.flags: unknown seccomp flag \"SECCOMP_FILTER_FLAG_FAST\"");
}

TEST(BuildSeccomp, ArgumentIndexAtMostFive) {
    EXPECT_EQ(error_of(with_seccomp(
                  {{"defaultAction", "SCMP_ACT_ALLOW"},
                   {"syscalls",
                    {{{"names", {"a"}},
                      {"action", "SCMP_ACT_ERRNO"},
                      {"args", {{{"index", 6}, {"value", 1}, {"op", "SCMP_CMP_EQ"}}}}}}}})),
              "linux.seccomp.syscalls[0].args[0].index: syscalls have at most 6 arguments");
}

TEST(BuildSeccomp, RuleMustNameASyscall) {
    EXPECT_EQ(error_of(with_seccomp(
                  {{"defaultAction", "SCMP_ACT_ALLOW"},
                   {"syscalls", {{{"names", json::array()}, {"action", "SCMP_ACT_ERRNO"}}}}})),
              "linux.seccomp.syscalls[0].names: must name at least one syscall");
}

TEST(BuildSeccomp, NotifyIsRefusedForWriteAndAsTheDefaultAsRuncRefusesIt) {
    json profile = {{"defaultAction", "SCMP_ACT_ALLOW"},
                    {"listenerPath", "/run/agent.sock"},
                    {"syscalls",
                     {{{"names", {"mount"}}, {"action", "SCMP_ACT_NOTIFY"}},
                      {{"names", {"read", "write"}}, {"action", "SCMP_ACT_NOTIFY"}}}}};
    EXPECT_EQ(error_of(with_seccomp(profile)),
              "linux.seccomp.syscalls[1]: SCMP_ACT_NOTIFY cannot be used for the write syscall");
    profile["syscalls"][1]["action"] = "SCMP_ACT_ERRNO";
    EXPECT_TRUE(with_seccomp(profile)) << "write may have any other action";
    EXPECT_EQ(error_of(with_seccomp(
                  {{"defaultAction", "SCMP_ACT_NOTIFY"}, {"listenerPath", "/run/agent.sock"}})),
              "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be used as default action");
}

TEST(BuildSeccomp, NotifyNeedsAListenerPath) {
    json notify_rule = {{"defaultAction", "SCMP_ACT_ALLOW"},
                        {"syscalls", {{{"names", {"mount"}}, {"action", "SCMP_ACT_NOTIFY"}}}}};
    EXPECT_EQ(error_of(with_seccomp(notify_rule)),
              "linux.seccomp: SCMP_ACT_NOTIFY needs listenerPath");
    EXPECT_EQ(error_of(with_seccomp({{"defaultAction", "SCMP_ACT_NOTIFY"}})),
              "linux.seccomp: SCMP_ACT_NOTIFY needs listenerPath");

    notify_rule["listenerPath"] = "/run/agent.sock";
    notify_rule["listenerMetadata"] = "hello";
    auto p = with_seccomp(notify_rule);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_TRUE(p->seccomp->uses_notify());
    EXPECT_EQ(p->seccomp->listener_path, "/run/agent.sock");
    EXPECT_EQ(p->seccomp->listener_metadata, "hello");
}

TEST(BuildSeccomp, ListenerMetadataNeedsAListenerPath) {
    EXPECT_EQ(
        error_of(with_seccomp({{"defaultAction", "SCMP_ACT_ALLOW"}, {"listenerMetadata", "x"}})),
        "linux.seccomp.listenerMetadata: set without listenerPath");
}

// --- odds and ends carried over ---

TEST(BuildPlan, CgroupsPathAndMemoryPolicyAreCarried) {
    auto p = build_with({{"linux",
                          {{"cgroupsPath", "/kapsel/c1"},
                           {"memoryPolicy", {{"mode", "MPOL_INTERLEAVE"}, {"nodes", "0-1"}}}}}});
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->cgroups_path, "/kapsel/c1");
    ASSERT_TRUE(p->memory_policy);
    EXPECT_EQ(p->memory_policy->nodes, "0-1");
}

}  // namespace
}  // namespace kapsel::plan
