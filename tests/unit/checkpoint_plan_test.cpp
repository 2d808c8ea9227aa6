// plan/checkpoint.cpp: the CRIU command lines kapsel decides on.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plan/checkpoint.hpp"

namespace kapsel::plan {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

Plan with_binds() {
    Plan p;
    p.rootfs = "/b/rootfs";
    Mount proc;
    proc.fstype = "proc";
    proc.destination = "/proc";
    Mount data;
    data.kind = MountKind::bind;
    data.source = "/srv/data";
    data.destination = "/data";
    p.mounts = {proc, data};
    return p;
}

// The value after `flag` in args ("" if absent).
std::string value_of(const std::vector<std::string>& args, const std::string& flag) {
    for (size_t i = 0; i + 1 < args.size(); ++i)
        if (args[i] == flag) return args[i + 1];
    return "";
}

// Every value after `flag` in args, in order.
std::vector<std::string> values_of(const std::vector<std::string>& args, const std::string& flag) {
    std::vector<std::string> out;
    for (size_t i = 0; i + 1 < args.size(); ++i)
        if (args[i] == flag) out.push_back(args[i + 1]);
    return out;
}

TEST(CriuDump, DumpsTheTreeWithBindMountsExternal) {
    CheckpointOptions o;
    o.image_dir = "/ck";
    auto a = criu_dump_args(with_binds(), 4242, o, "/sys/fs/cgroup/freezer/c1", {});
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ("dump", a->front());
    EXPECT_EQ("4242", value_of(*a, "--tree"));
    EXPECT_EQ("/ck", value_of(*a, "--images-dir"));
    EXPECT_EQ("/ck", value_of(*a, "--work-dir")) << "the work dir defaults to the images";
    EXPECT_EQ("/b/rootfs", value_of(*a, "--root"));
    EXPECT_EQ("/sys/fs/cgroup/freezer/c1", value_of(*a, "--freeze-cgroup"));
    EXPECT_EQ("mnt[/data]:/data", value_of(*a, "--external")) << "only bind mounts are external";
    EXPECT_THAT(*a, Not(Contains("--leave-running")));
}

TEST(CriuDump, OptionsBecomeCriusFlags) {
    CheckpointOptions o;
    o.image_dir = "/ck";
    o.work_dir = "/work";
    o.leave_running = o.tcp_established = o.ext_unix_sk = o.shell_job = o.file_locks = true;
    o.empty_ns = {"network"};
    auto a = criu_dump_args(with_binds(), 1, o, "", {});
    ASSERT_TRUE(a.ok());
    EXPECT_EQ("/work", value_of(*a, "--work-dir"));
    for (auto* f :
         {"--leave-running", "--tcp-established", "--ext-unix-sk", "--shell-job", "--file-locks"})
        EXPECT_THAT(*a, Contains(f));
    EXPECT_EQ("network", value_of(*a, "--empty-ns"));
    EXPECT_THAT(*a, Not(Contains("--freeze-cgroup")));
}

TEST(CriuDump, PreDumpTracksMemoryAndKeepsRunning) {
    CheckpointOptions o;
    o.image_dir = "/ck/2";
    o.pre_dump = true;
    o.leave_running = true;
    auto a = criu_dump_args(with_binds(), 1, o, "", {});
    ASSERT_TRUE(a.ok());
    EXPECT_EQ("pre-dump", a->front());
    EXPECT_THAT(*a, Contains("--track-mem"));
    EXPECT_THAT(*a, Not(Contains("--leave-running"))) << "pre-dump never stops the tree";
}

TEST(CriuDump, BadPathsAndModesAreErrors) {
    CheckpointOptions o;
    o.image_dir = "relative";
    EXPECT_THAT(criu_dump_args(with_binds(), 1, o, "", {}).error().message,
                HasSubstr("--image-path \"relative\""));
    o.image_dir = "/ck";
    o.manage_cgroups_mode = "sometimes";
    EXPECT_THAT(criu_dump_args(with_binds(), 1, o, "", {}).error().message,
                HasSubstr("--manage-cgroups-mode"));
}

TEST(CriuRestore, BindsMapToTheirSourceAndCallersPipesAreInherited) {
    RestoreOptions o;
    o.image_dir = "/ck";
    std::vector<StdioRecord> stdio = {{0, "pipe:[100]"}, {1, "/dev/null"}, {2, "socket:[7]"}};
    auto a = criu_restore_args(with_binds(), o, stdio, "/run/kapsel/c1/restored.pid", {});
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ("restore", a->front());
    EXPECT_EQ("mnt[/data]:/srv/data", value_of(*a, "--external"));
    EXPECT_EQ("/run/kapsel/c1/restored.pid", value_of(*a, "--pidfile"));
    EXPECT_THAT(*a, Contains("--restore-detached"));
    EXPECT_THAT(*a, Contains("--manage-cgroups=ignore"))
        << "kapsel made the cgroup and runs CRIU in it";
    std::vector<std::string> inherited = values_of(*a, "--inherit-fd");
    EXPECT_THAT(inherited, ElementsAre("fd[0]:pipe:[100]", "fd[2]:socket:[7]"))
        << "the container's own /dev/null is restored by CRIU itself";
}

TEST(CriuExternalMounts, CgroupHierarchiesAreExternalWithoutACgroupNamespace) {
    Plan p = with_binds();
    Mount cg;
    cg.kind = MountKind::cgroup;
    cg.destination = "/sys/fs/cgroup";
    p.mounts.push_back(cg);
    std::vector<CgroupBind> binds = {{"cpu", "/sys/fs/cgroup/cpu/c1"},
                                     {"", "/sys/fs/cgroup/unified/c1"}};
    auto ext = external_mounts(p, binds);
    ASSERT_EQ(3u, ext.size());
    EXPECT_EQ((std::pair<std::string, std::string>{"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu/c1"}),
              ext[1]);
    EXPECT_EQ((std::pair<std::string, std::string>{"/sys/fs/cgroup", "/sys/fs/cgroup/unified/c1"}),
              ext[2]);
    // With a cgroup namespace the hierarchies are mounted, not bound: CRIU redoes them.
    p.namespaces.push_back({NsType::cgroup, ""});
    EXPECT_EQ(1u, external_mounts(p, binds).size());
}

TEST(StdioRecords, AreRuncsDescriptorsJson) {
    std::vector<StdioRecord> stdio = {{0, "pipe:[1]"}, {1, "/dev/null"}, {2, "/dev/null"}};
    EXPECT_EQ(R"(["pipe:[1]","/dev/null","/dev/null"])", stdio_json(stdio));
    auto back = parse_stdio_json(stdio_json(stdio));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(2, (*back)[2].fd);
    EXPECT_EQ("pipe:[1]", (*back)[0].target);
    EXPECT_FALSE(parse_stdio_json("{}").ok());
    EXPECT_FALSE(parse_stdio_json("[1]").ok());
}

TEST(StdioRecords, AFileOfTheHostIsAnExternalFileAtDumpAndInheritedAtRestore) {
    EXPECT_EQ("file[1f:2a]", external_file_key(31, 42)) << "CRIU's key: mount id and inode, hex";
    std::vector<StdioRecord> stdio = {{0, "/dev/null"}, {1, "/var/log/c1.log", "file[1f:2a]"},
                                      {2, "pipe:[9]"}};
    CheckpointOptions d;
    d.image_dir = "/ck";
    auto dump = criu_dump_args(with_binds(), 1, d, "", {}, stdio);
    ASSERT_TRUE(dump.ok()) << dump.error().message;
    std::vector<std::string> externals = values_of(*dump, "--external");
    EXPECT_THAT(externals, ElementsAre("mnt[/data]:/data", "file[1f:2a]"));

    RestoreOptions r;
    r.image_dir = "/ck";
    auto restore = criu_restore_args(with_binds(), r, stdio, "/run/p", {});
    ASSERT_TRUE(restore.ok());
    std::vector<std::string> inherited = values_of(*restore, "--inherit-fd");
    EXPECT_THAT(inherited, ElementsAre("fd[1]:file[1f:2a]", "fd[2]:pipe:[9]"));
}

// A container's terminal: the pty slave on fds 0-2 is one external tty at dump (and
// /dev/console, bound from it, an external mount); at restore a new pty's slave is
// inherited once in its place and bound at /dev/console.
TEST(StdioRecords, ATerminalIsOneExternalTtyAtDumpAndANewPtyAtRestore) {
    EXPECT_EQ("tty[8800:37]", external_tty_key(0x8800, 0x37)) << "CRIU's key: rdev and dev, hex";
    std::string key = external_tty_key(0x8800, 0x37);
    std::vector<StdioRecord> stdio = {{0, "/dev/pts/0", key}, {1, "/dev/pts/0", key},
                                      {2, "/dev/pts/0", key}};
    CheckpointOptions d;
    d.image_dir = "/ck";
    auto dump = criu_dump_args(with_binds(), 1, d, "", {}, stdio);
    ASSERT_TRUE(dump.ok()) << dump.error().message;
    std::vector<std::string> externals = values_of(*dump, "--external");
    EXPECT_THAT(externals,
                ElementsAre("mnt[/data]:/data", key, "mnt[/dev/console]:/dev/console"));

    RestoreOptions r;
    r.image_dir = "/ck";
    auto restore = criu_restore_args(with_binds(), r, stdio, "/run/p", {}, 9, "/dev/pts/4");
    ASSERT_TRUE(restore.ok()) << restore.error().message;
    EXPECT_THAT(values_of(*restore, "--inherit-fd"), ElementsAre("fd[9]:" + key));
    EXPECT_THAT(values_of(*restore, "--external"),
                ElementsAre("mnt[/data]:/srv/data", "mnt[/dev/console]:/dev/pts/4"));
    // Without a new terminal the restore cannot be planned.
    auto without = criu_restore_args(with_binds(), r, stdio, "/run/p", {});
    ASSERT_FALSE(without.ok());
    EXPECT_THAT(without.error().message, HasSubstr("no new terminal"));

    // Read back from external-stdio.json: only well-formed keys.
    auto back = parse_stdio_json(stdio_json(stdio));
    ASSERT_TRUE(back.ok());
    ASSERT_TRUE(parse_external_stdio_json(external_stdio_json(stdio), *back).ok());
    EXPECT_EQ(key, (*back)[2].external);
    EXPECT_FALSE(parse_external_stdio_json(R"({"0":"tty[88:1] --x"})", *back).ok());
    EXPECT_FALSE(parse_external_stdio_json(R"({"0":"tty[]"})", *back).ok());
    EXPECT_FALSE(parse_external_stdio_json(R"({"0":"tty[1:2:3]"})", *back).ok());
}

TEST(StdioRecords, ExternalKeysTravelBesideDescriptorsJson) {
    std::vector<StdioRecord> stdio = {{0, "/dev/null"}, {1, "/var/log/c1.log", "file[1f:2a]"},
                                      {2, "/dev/null"}};
    EXPECT_EQ(R"({"1":"file[1f:2a]"})", external_stdio_json(stdio));
    auto back = parse_stdio_json(stdio_json(stdio));
    ASSERT_TRUE(back.ok());
    ASSERT_TRUE(parse_external_stdio_json(external_stdio_json(stdio), *back).ok());
    EXPECT_EQ("file[1f:2a]", (*back)[1].external);
    EXPECT_EQ("", (*back)[0].external);
    // The value becomes a CRIU argument: only a well-formed key for fd 0, 1 or 2.
    EXPECT_FALSE(parse_external_stdio_json(R"({"1":"mnt[/]:/etc"})", *back).ok());
    EXPECT_FALSE(parse_external_stdio_json(R"({"1":"file[1f:2a] --x"})", *back).ok());
    EXPECT_FALSE(parse_external_stdio_json(R"({"7":"file[1:2]"})", *back).ok());
    EXPECT_FALSE(parse_external_stdio_json("[]", *back).ok());
}

TEST(CriuLog, TheReasonIsTheFirstErrorCriuDoesNotSurvive) {
    // From a restore on this machine: three errors CRIU logs and carries on after, the
    // one that failed it, what followed from that, and the generic end.
    const std::string log =
        "(00.008264) Error (criu/tun.c:85): tun: Unable to create tun: Operation not permitted\n"
        "(00.043919) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self: "
        "Operation not permitted\n"
        "Error: ipv4: Address already assigned.\n"
        "(00.100000) Restoring namespaces\n"
        "(00.160082)      1: Error (criu/files-reg.c:2294): File fd/1 has bad mode 0100644 "
        "(expect 0100600)\n"
        "(00.160090)      1: Error (criu/files.c:1221): Unable to open fd=1 id=0x3\n"
        "(00.163300) Error (criu/cr-restore.c:2320): Restoring FAILED.\n";
    EXPECT_EQ("File fd/1 has bad mode 0100644 (expect 0100600)", criu_failure_reason(log));
    EXPECT_EQ("Restoring FAILED.",
              criu_failure_reason("(0.1) Error (criu/cr-restore.c:2320): Restoring FAILED.\n"))
        << "with nothing better, the generic line";
    EXPECT_EQ("", criu_failure_reason("(0.1) Dumping finished successfully\n"));
}

TEST(CriuEnvironment, BreakpointsAreTurnedOffOnlyWhereTheyDoNotFire) {
    std::vector<std::string> env = {"PATH=/usr/bin", "HOME=/root"};
    EXPECT_EQ(env, criu_environment(env, true));
    EXPECT_THAT(criu_environment(env, false), ElementsAre("PATH=/usr/bin", "HOME=/root",
                                                          "CRIU_FAULT=130"));
    // A caller's own fault injection is theirs: not replaced, not doubled.
    std::vector<std::string> own = {"CRIU_FAULT=5"};
    EXPECT_EQ(own, criu_environment(own, false));
}

TEST(CriuTimeout, TheFlagThenTheEnvironmentThenTheDefault) {
    EXPECT_EQ(7, *criu_timeout(7, "99"));
    EXPECT_EQ(99, *criu_timeout(-1, "99"));
    EXPECT_EQ(kDefaultCriuTimeout, *criu_timeout(-1, nullptr));
    EXPECT_EQ(kDefaultCriuTimeout, *criu_timeout(-1, ""));
    auto zero = criu_timeout(0, nullptr);
    ASSERT_FALSE(zero.ok());
    EXPECT_THAT(zero.error().message, HasSubstr("--criu-timeout 0"));
    for (const char* bad : {"0", "-3", "ten", "100000"}) {
        auto r = criu_timeout(-1, bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_THAT(r.error().message, HasSubstr("KAPSEL_CRIU_TIMEOUT")) << bad;
    }
}

}  // namespace
}  // namespace kapsel::plan
