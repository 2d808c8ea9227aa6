// oci/spec.cpp: config.json text -> oci::Spec, and errors that name the JSON path.
#include "oci/spec.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace kapsel::oci {
namespace {

using kapsel::testing::config_with;
using kapsel::testing::error_of;
using kapsel::testing::json;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kFullConfig = R"({
    "ociVersion": "1.2.0",
    "process": {
        "terminal": true,
        "consoleSize": {"height": 25, "width": 80},
        "user": {"uid": 1000, "gid": 100, "umask": 18, "additionalGids": [5, 6]},
        "args": ["/bin/sh", "-c", "echo hi"],
        "env": ["PATH=/bin", "TERM=xterm"],
        "cwd": "/work",
        "capabilities": {
            "bounding": ["CAP_KILL", "CAP_CHOWN"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL"],
            "ambient": []
        },
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}],
        "noNewPrivileges": true,
        "apparmorProfile": "kapsel-default",
        "oomScoreAdj": -500,
        "scheduler": {"policy": "SCHED_BATCH", "nice": 5},
        "selinuxLabel": "system_u:system_r:container_t:s0",
        "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
        "execCPUAffinity": {"initial": "0", "final": "0-3"}
    },
    "root": {"path": "rootfs", "readonly": true},
    "hostname": "box",
    "domainname": "example.org",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"],
         "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
         "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 65536}]}
    ],
    "hooks": {
        "prestart": [{"path": "/usr/bin/net-setup", "args": ["net-setup", "up"], "env": ["A=1"], "timeout": 5}],
        "poststop": [{"path": "/usr/bin/cleanup"}]
    },
    "annotations": {"org.example.key": "value"},
    "linux": {
        "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
        "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
        "sysctl": {"net.ipv4.ip_forward": "1"},
        "resources": {
            "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
            "memory": {"limit": 536870912, "swap": -1, "swappiness": 10, "disableOOMKiller": true},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0", "idle": 1},
            "pids": {"limit": 64},
            "blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 300}],
                        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
            "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
            "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
            "unified": {"memory.high": "400M"}
        },
        "cgroupsPath": "/kapsel/c1",
        "namespaces": [{"type": "pid"}, {"type": "network", "path": "/var/run/netns/blue"}, {"type": "user"}],
        "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0}],
        "netDevices": {"eth1": {"name": "net1"}, "eth2": {}},
        "seccomp": {
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "architectures": ["SCMP_ARCH_X86_64"],
            "flags": ["SECCOMP_FILTER_FLAG_LOG"],
            "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW",
                          "args": [{"index": 0, "value": 1, "valueTwo": 2, "op": "SCMP_CMP_EQ"}]}]
        },
        "rootfsPropagation": "rslave",
        "maskedPaths": ["/proc/kcore"],
        "readonlyPaths": ["/proc/sys"],
        "mountLabel": "system_u:object_r:container_file_t:s0",
        "intelRdt": {"closID": "gold", "l3CacheSchema": "L3:0=ff"},
        "memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]},
        "personality": {"domain": "LINUX32"},
        "timeOffsets": {"monotonic": {"secs": 10, "nanosecs": 5}}
    }
})";

TEST(ParseSpec, FullConfigFillsEveryField) {
    auto r = parse_spec(kFullConfig);
    ASSERT_TRUE(r) << r.error().message;
    const Spec& s = *r;

    EXPECT_EQ(s.oci_version, "1.2.0");
    ASSERT_TRUE(s.process);
    const Process& p = *s.process;
    EXPECT_TRUE(p.terminal);
    ASSERT_TRUE(p.console_size);
    EXPECT_EQ(p.console_size->height, 25u);
    EXPECT_EQ(p.console_size->width, 80u);
    EXPECT_EQ(p.user.uid, 1000u);
    EXPECT_EQ(p.user.gid, 100u);
    EXPECT_EQ(p.user.umask, 18u);
    EXPECT_THAT(p.user.additional_gids, ElementsAre(5u, 6u));
    EXPECT_THAT(p.args, ElementsAre("/bin/sh", "-c", "echo hi"));
    EXPECT_THAT(p.env, ElementsAre("PATH=/bin", "TERM=xterm"));
    EXPECT_EQ(p.cwd, "/work");
    ASSERT_TRUE(p.capabilities);
    EXPECT_THAT(p.capabilities->bounding, ElementsAre("CAP_KILL", "CAP_CHOWN"));
    EXPECT_THAT(p.capabilities->effective, ElementsAre("CAP_KILL"));
    EXPECT_TRUE(p.capabilities->inheritable.empty());
    ASSERT_EQ(p.rlimits.size(), 1u);
    EXPECT_EQ(p.rlimits[0].type, "RLIMIT_NOFILE");
    EXPECT_EQ(p.rlimits[0].hard, 1024u);
    EXPECT_EQ(p.rlimits[0].soft, 512u);
    EXPECT_TRUE(p.no_new_privileges);
    EXPECT_EQ(p.apparmor_profile, "kapsel-default");
    EXPECT_EQ(p.oom_score_adj, -500);
    ASSERT_TRUE(p.scheduler);
    EXPECT_EQ(p.scheduler->policy, "SCHED_BATCH");
    EXPECT_EQ(p.scheduler->nice, 5);
    EXPECT_EQ(p.selinux_label, "system_u:system_r:container_t:s0");
    ASSERT_TRUE(p.io_priority);
    EXPECT_EQ(p.io_priority->klass, "IOPRIO_CLASS_BE");
    EXPECT_EQ(p.io_priority->priority, 4);
    ASSERT_TRUE(p.exec_cpu_affinity);
    EXPECT_EQ(p.exec_cpu_affinity->final, "0-3");

    EXPECT_TRUE(s.has_root);
    EXPECT_EQ(s.root.path, "rootfs");
    EXPECT_TRUE(s.root.readonly);
    EXPECT_EQ(s.hostname, "box");
    EXPECT_EQ(s.domainname, "example.org");

    ASSERT_EQ(s.mounts.size(), 2u);
    EXPECT_EQ(s.mounts[0].destination, "/proc");
    EXPECT_EQ(s.mounts[0].type, "proc");
    EXPECT_EQ(s.mounts[1].source, "/srv/data");
    EXPECT_THAT(s.mounts[1].options, ElementsAre("rbind", "ro"));
    ASSERT_EQ(s.mounts[1].uid_mappings.size(), 1u);
    EXPECT_EQ(s.mounts[1].uid_mappings[0].host_id, 100000u);
    EXPECT_EQ(s.mounts[1].gid_mappings[0].host_id, 200000u);
    EXPECT_EQ(s.mounts[1].gid_mappings[0].size, 65536u);

    ASSERT_EQ(s.hooks.prestart.size(), 1u);
    EXPECT_EQ(s.hooks.prestart[0].path, "/usr/bin/net-setup");
    EXPECT_THAT(s.hooks.prestart[0].args, ElementsAre("net-setup", "up"));
    EXPECT_EQ(s.hooks.prestart[0].timeout, 5);
    ASSERT_EQ(s.hooks.poststop.size(), 1u);
    EXPECT_FALSE(s.hooks.poststop[0].timeout);
    EXPECT_TRUE(s.hooks.create_runtime.empty());
    EXPECT_EQ(s.annotations.at("org.example.key"), "value");

    ASSERT_TRUE(s.linux_);
    const Linux& l = *s.linux_;
    ASSERT_EQ(l.uid_mappings.size(), 1u);
    EXPECT_EQ(l.uid_mappings[0].host_id, 1000u);
    EXPECT_EQ(l.sysctl.at("net.ipv4.ip_forward"), "1");
    EXPECT_EQ(l.cgroups_path, "/kapsel/c1");
    ASSERT_EQ(l.namespaces.size(), 3u);
    EXPECT_EQ(l.namespaces[1].type, "network");
    EXPECT_EQ(l.namespaces[1].path, "/var/run/netns/blue");
    ASSERT_EQ(l.devices.size(), 1u);
    EXPECT_EQ(l.devices[0].path, "/dev/fuse");
    EXPECT_EQ(l.devices[0].major, 10);
    EXPECT_EQ(l.devices[0].minor, 229);
    EXPECT_EQ(l.devices[0].file_mode, 0666u);
    EXPECT_EQ(l.net_devices.at("eth1"), "net1");
    EXPECT_EQ(l.net_devices.at("eth2"), "eth2")
        << "a net device without a name keeps its host name";
    EXPECT_EQ(l.rootfs_propagation, "rslave");
    EXPECT_THAT(l.masked_paths, ElementsAre("/proc/kcore"));
    EXPECT_THAT(l.readonly_paths, ElementsAre("/proc/sys"));
    EXPECT_EQ(l.mount_label, "system_u:object_r:container_file_t:s0");
    ASSERT_TRUE(l.intel_rdt);
    EXPECT_EQ(l.intel_rdt->clos_id, "gold");
    ASSERT_TRUE(l.memory_policy);
    EXPECT_EQ(l.memory_policy->mode, "MPOL_BIND");
    EXPECT_THAT(l.memory_policy->flags, ElementsAre("MPOL_F_STATIC_NODES"));
    ASSERT_TRUE(l.personality);
    EXPECT_EQ(l.personality->domain, "LINUX32");
    EXPECT_EQ(l.time_offsets.at("monotonic").secs, 10);
    EXPECT_EQ(l.time_offsets.at("monotonic").nanosecs, 5u);

    ASSERT_TRUE(l.seccomp);
    EXPECT_EQ(l.seccomp->default_action, "SCMP_ACT_ERRNO");
    EXPECT_EQ(l.seccomp->default_errno_ret, 38u);
    EXPECT_THAT(l.seccomp->architectures, ElementsAre("SCMP_ARCH_X86_64"));
    ASSERT_EQ(l.seccomp->syscalls.size(), 1u);
    EXPECT_THAT(l.seccomp->syscalls[0].names, ElementsAre("read", "write"));
    ASSERT_EQ(l.seccomp->syscalls[0].args.size(), 1u);
    EXPECT_EQ(l.seccomp->syscalls[0].args[0].value_two, 2u);
    EXPECT_EQ(l.seccomp->syscalls[0].args[0].op, "SCMP_CMP_EQ");

    ASSERT_TRUE(l.resources);
    const Resources& res = *l.resources;
    ASSERT_EQ(res.devices.size(), 2u);
    EXPECT_FALSE(res.devices[0].allow);
    EXPECT_EQ(res.devices[0].access, "rwm");
    EXPECT_FALSE(res.devices[0].major) << "no major means any";
    EXPECT_EQ(res.devices[1].major, 1);
    ASSERT_TRUE(res.memory);
    EXPECT_EQ(res.memory->limit, 536870912);
    EXPECT_EQ(res.memory->swap, -1);
    EXPECT_EQ(res.memory->swappiness, 10u);
    EXPECT_EQ(res.memory->disable_oom_killer, true);
    ASSERT_TRUE(res.cpu);
    EXPECT_EQ(res.cpu->shares, 1024u);
    EXPECT_EQ(res.cpu->quota, 50000);
    EXPECT_EQ(res.cpu->cpus, "0-1");
    EXPECT_EQ(res.cpu->idle, 1);
    EXPECT_TRUE(res.has_pids);
    EXPECT_EQ(res.pids_limit, 64);
    ASSERT_TRUE(res.block_io);
    EXPECT_EQ(res.block_io->weight, 500);
    ASSERT_EQ(res.block_io->weight_device.size(), 1u);
    EXPECT_EQ(res.block_io->weight_device[0].weight, 300);
    ASSERT_EQ(res.block_io->throttle_read_bps.size(), 1u);
    EXPECT_EQ(res.block_io->throttle_read_bps[0].rate, 1048576u);
    ASSERT_EQ(res.hugepage_limits.size(), 1u);
    EXPECT_EQ(res.hugepage_limits[0].page_size, "2MB");
    ASSERT_TRUE(res.network);
    EXPECT_EQ(res.network->class_id, 1048577u);
    ASSERT_EQ(res.network->priorities.size(), 1u);
    EXPECT_EQ(res.network->priorities[0].name, "eth0");
    EXPECT_EQ(res.rdma.at("mlx5_1").hca_handles, 3u);
    EXPECT_EQ(res.unified.at("memory.high"), "400M");
}

TEST(ParseSpec, MinimalConfigLeavesOptionalSectionsAbsent) {
    auto r = parse_spec(R"({"ociVersion": "1.0.0"})");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_FALSE(r->process);
    EXPECT_FALSE(r->has_root);
    EXPECT_FALSE(r->linux_);
    EXPECT_TRUE(r->mounts.empty());
}

TEST(ParseSpec, NullMeansAbsent) {
    auto r = parse_spec(R"({"ociVersion": "1.0.0", "process": null, "linux": {"seccomp": null}})");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_FALSE(r->process);
    ASSERT_TRUE(r->linux_);
    EXPECT_FALSE(r->linux_->seccomp);
}

TEST(ParseSpec, UnknownFieldsAreIgnored) {
    auto r = parse_spec(R"({
        "ociVersion": "1.2.0",
        "solaris": {"milestone": "x"},
        "vendorThing": [1, 2, 3],
        "process": {"args": ["sh"], "cwd": "/", "futureField": {"a": 1}},
        "linux": {"newKnob": true, "namespaces": [{"type": "pid", "flavour": "x"}]}
    })");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_THAT(r->process->args, ElementsAre("sh"));
    EXPECT_EQ(r->linux_->namespaces.at(0).type, "pid");
}

TEST(ParseSpec, MissingOciVersionIsNamed) {
    auto r = parse_spec(R"({"root": {"path": "rootfs"}})");
    EXPECT_EQ(error_of(r), "config.json: ociVersion: required field is missing");
}

TEST(ParseSpec, ErrorsStartWithTheOriginGiven) {
    auto r = parse_spec(R"({})", "/bundles/c1/config.json");
    EXPECT_THAT(error_of(r), StartsWith("/bundles/c1/config.json: ociVersion: "));
}

TEST(ParseSpec, InvalidJsonShowsWhereItBroke) {
    auto r = parse_spec("{\n  \"ociVersion\": \"1.0.0\",\n  \"root\": {\"path\": }\n}");
    EXPECT_THAT(error_of(r),
                AllOf(StartsWith("config.json: invalid JSON: parse error"), HasSubstr("line 3")));
}

// Found by tests/fuzz/spec_plan: nlohmann reports a number beyond a double as
// out_of_range, not parse_error, and that exception escaped parse_spec (SIGABRT).
TEST(ParseSpec, ANumberTooLargeForADoubleIsInvalidJsonNotACrash) {
    auto r = parse_spec(R"({"ociVersion": "1.0.0", "process": {"oomScoreAdj": 9E339}})");
    EXPECT_EQ(error_of(r), "config.json: invalid JSON: number overflow parsing '9E339'");
}

TEST(ParseSpec, TopLevelMustBeAnObject) {
    EXPECT_EQ(error_of(parse_spec("[1, 2]")), "config.json: expected a JSON object");
}

TEST(ParseSpec, WrongTypeForUidNamesTheFullPath) {
    auto r = parse_spec(config_with({{"process", {{"user", {{"uid", "root"}}}}}}).dump());
    EXPECT_EQ(
        error_of(r),
        "config.json: process.user.uid: expected an unsigned integer, got the string \"root\"");
}

TEST(ParseSpec, NegativeValueForUnsignedField) {
    auto r = parse_spec(config_with({{"process", {{"user", {{"gid", -1}}}}}}).dump());
    EXPECT_EQ(error_of(r), "config.json: process.user.gid: expected an unsigned integer, got -1");
}

TEST(ParseSpec, ValueOutOfRangeForFieldWidth) {
    // uid is 32 bits.
    auto r = parse_spec(config_with({{"process", {{"user", {{"uid", 4294967296}}}}}}).dump());
    EXPECT_EQ(error_of(r), "config.json: process.user.uid: value 4294967296 is out of range");
}

TEST(ParseSpec, SignedFieldOutOfRange) {
    // oomScoreAdj is an int.
    auto r = parse_spec(config_with({{"process", {{"oomScoreAdj", -3000000000LL}}}}).dump());
    EXPECT_EQ(error_of(r), "config.json: process.oomScoreAdj: value -3000000000 is out of range");
}

TEST(ParseSpec, FloatForIntegerFieldIsRefused) {
    auto r =
        parse_spec(R"({"ociVersion": "1.0.0", "linux": {"resources": {"pids": {"limit": 1.5}}}})");
    EXPECT_EQ(error_of(r), "config.json: linux.resources.pids.limit: expected an integer, got 1.5");
}

TEST(ParseSpec, ErrorInArrayElementNamesTheIndex) {
    auto r = parse_spec(
        config_with({{"linux", {{"namespaces", {{{"type", "pid"}}, {{"path", "/x"}}}}}}}).dump());
    EXPECT_EQ(error_of(r), "config.json: linux.namespaces[1].type: required field is missing");
}

TEST(ParseSpec, WrongTypeInsideStringArrayNamesTheElement) {
    auto r = parse_spec(config_with({{"process", {{"args", {"sh", 3}}}}}).dump());
    EXPECT_EQ(error_of(r), "config.json: process.args[1]: expected a string, got 3");
}

TEST(ParseSpec, MountWithoutDestination) {
    auto r = parse_spec(config_with({{"mounts", {{{"type", "tmpfs"}}}}}).dump());
    EXPECT_EQ(error_of(r), "config.json: mounts[0].destination: required field is missing");
}

TEST(ParseSpec, MountIdMappingFieldsAreChecked) {
    auto r = parse_spec(config_with({{"mounts",
                                      {{{"destination", "/d"},
                                        {"type", "bind"},
                                        {"source", "/s"},
                                        {"uidMappings", {{{"containerID", 0}, {"hostID", 1}}}}}}}})
                            .dump());
    EXPECT_EQ(error_of(r), "config.json: mounts[0].uidMappings[0].size: required field is missing");
}

TEST(ParseSpec, SectionOfWrongType) {
    EXPECT_EQ(error_of(parse_spec(R"({"ociVersion": "1.0.0", "process": []})")),
              "config.json: process: expected an object, got an array");
    EXPECT_EQ(error_of(parse_spec(R"({"ociVersion": "1.0.0", "root": "rootfs"})")),
              "config.json: root: expected an object");
    EXPECT_EQ(error_of(parse_spec(R"({"ociVersion": "1.0.0", "mounts": {}})")),
              "config.json: mounts: expected an array, got an object");
}

TEST(ParseSpec, BooleanFieldRefusesString) {
    auto r = parse_spec(R"({"ociVersion": "1.0.0", "root": {"path": "r", "readonly": "yes"}})");
    EXPECT_EQ(error_of(r),
              "config.json: root.readonly: expected true or false, got the string \"yes\"");
}

TEST(ParseSpec, HookTimeoutMustBePositive) {
    auto r = parse_spec(
        R"({"ociVersion": "1.0.0", "hooks": {"poststart": [{"path": "/h", "timeout": 0}]}})");
    EXPECT_EQ(error_of(r), "config.json: hooks.poststart[0].timeout: must be greater than zero");
}

TEST(ParseSpec, SeccompArgNeedsOp) {
    auto r = parse_spec(
        R"({"ociVersion": "1.0.0", "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1}]}]}}})");
    EXPECT_EQ(error_of(r),
              "config.json: linux.seccomp.syscalls[0].args[0].op: required field is missing");
}

TEST(ParseSpec, StringMapValuesMustBeStrings) {
    auto r = parse_spec(R"({"ociVersion": "1.0.0", "annotations": {"a": 1}})");
    EXPECT_EQ(error_of(r), "config.json: annotations.a: expected a string, got 1");
}

TEST(ParseSpec, FirstErrorIsReported) {
    auto r = parse_spec(R"({"ociVersion": 1, "hostname": 2})");
    EXPECT_EQ(error_of(r), "config.json: ociVersion: expected a string, got 1");
}

TEST(ParseProcess, ExecProcessJsonUsesPathsRelativeToTheFile) {
    auto ok = parse_process(R"({"args": ["ls"], "cwd": "/", "user": {"uid": 5}})", "process.json");
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_THAT(ok->args, ElementsAre("ls"));
    EXPECT_EQ(ok->user.uid, 5u);

    auto bad = parse_process(R"({"args": ["ls"], "user": {"uid": "x"}})", "process.json");
    EXPECT_EQ(error_of(bad),
              "process.json: user.uid: expected an unsigned integer, got the string \"x\"");
}

TEST(ParseProcess, InvalidJson) {
    EXPECT_THAT(error_of(parse_process("{", "p.json")),
                StartsWith("p.json: invalid JSON: parse error"));
}

TEST(ParseResources, UpdateFileParses) {
    auto r = parse_resources(
        R"({"memory": {"limit": 1048576}, "pids": {"limit": -1}, "cpu": {"cpus": "1"}})", "r.json");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->memory->limit, 1048576);
    EXPECT_TRUE(r->has_pids);
    EXPECT_EQ(r->pids_limit, -1);
    EXPECT_EQ(r->cpu->cpus, "1");
}

TEST(ParseResources, ErrorsNameTheFieldWithinTheFile) {
    EXPECT_EQ(error_of(parse_resources(R"({"cpu": {"shares": -2}})", "r.json")),
              "r.json: cpu.shares: expected an unsigned integer, got -2");
    EXPECT_EQ(
        error_of(parse_resources(
            R"({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0}]}})", "r.json")),
        "r.json: blockIO.throttleReadBpsDevice[0].rate: required field is missing");
    EXPECT_EQ(error_of(parse_resources(R"({"blockIO": {"weight": 70000}})", "r.json")),
              "r.json: blockIO.weight: value 70000 is out of range");
}

}  // namespace
}  // namespace kapsel::oci
