// plan/exec.cpp: the process `kapsel exec` runs, from the container's config or a
// process.json, with the command-line overrides.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plan/exec.hpp"
#include "plan/names.hpp"
#include "test_support.hpp"

namespace kapsel::plan {
namespace {

using kapsel::testing::error_of;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The config process of `kapsel spec`, trimmed to what the rules touch.
oci::Process config_process() {
    auto p = oci::parse_process(R"({
        "terminal": true,
        "consoleSize": {"height": 24, "width": 80},
        "user": {"uid": 1, "gid": 2, "additionalGids": [3]},
        "args": ["sh"],
        "env": ["PATH=/bin", "TERM=xterm"],
        "cwd": "/srv",
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                         "permitted": ["CAP_KILL"]},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": true
    })",
                                "config.json");
    EXPECT_TRUE(p) << error_of(p);
    return p ? *p : oci::Process{};
}

uint64_t cap(const char* name) {
    return uint64_t{1} << *capability_number(name);
}

TEST(ExecProcess, TheConfigProcessIsTheDefaultWithoutItsTerminal) {
    auto p = exec_process(config_process(), {.args = {"ps", "-ef"}}, false);
    ASSERT_TRUE(p) << error_of(p);
    EXPECT_THAT(p->args, ElementsAre("ps", "-ef"));
    EXPECT_THAT(p->env, ElementsAre("PATH=/bin", "TERM=xterm"));
    EXPECT_EQ(p->cwd, "/srv");
    EXPECT_EQ(p->uid, 1u);
    EXPECT_EQ(p->gid, 2u);
    EXPECT_THAT(p->additional_gids, ElementsAre(3u));
    EXPECT_TRUE(p->no_new_privileges);
    EXPECT_EQ(p->caps.bounding, cap("CAP_KILL"));
    ASSERT_EQ(p->rlimits.size(), 1u);
    EXPECT_FALSE(p->terminal) << "runc: a terminal only with --tty";
}

TEST(ExecProcess, FlagsOverrideTheConfig) {
    ExecRequest r{.args = {"env"},
                  .cwd = "/tmp",
                  .env = {"TERM=dumb", "NEW=1"},
                  .tty = true,
                  .uid = 1000,
                  .additional_gids = {100, 65534}};
    auto p = exec_process(config_process(), r, false);
    ASSERT_TRUE(p) << error_of(p);
    EXPECT_THAT(p->env, ElementsAre("PATH=/bin", "TERM=dumb", "NEW=1"))
        << "--env replaces a variable of the same name";
    EXPECT_EQ(p->cwd, "/tmp");
    EXPECT_TRUE(p->terminal);
    EXPECT_EQ(p->console_size, std::make_pair(24u, 80u));
    EXPECT_EQ(p->uid, 1000u);
    EXPECT_EQ(p->gid, 2u) << "--user without :gid keeps the config's gid";
    EXPECT_THAT(p->additional_gids, ElementsAre(3u, 100u, 65534u));
}

TEST(ExecProcess, CapAddsToEverySet) {
    auto p = exec_process(config_process(), {.args = {"sh"}, .add_caps = {"NET_ADMIN"}}, false);
    ASSERT_TRUE(p) << error_of(p);
    uint64_t want = cap("CAP_KILL") | cap("CAP_NET_ADMIN");
    EXPECT_EQ(p->caps.bounding, want);
    EXPECT_EQ(p->caps.effective, want);
    EXPECT_EQ(p->caps.permitted, want);
    EXPECT_EQ(p->caps.inheritable, cap("CAP_NET_ADMIN"));
    EXPECT_EQ(p->caps.ambient, cap("CAP_NET_ADMIN"));
}

TEST(ExecProcess, NoNewPrivsFlagOnlyTurnsItOn) {
    oci::Process c = config_process();
    c.no_new_privileges = false;
    auto off = exec_process(c, {.args = {"sh"}}, false);
    auto on = exec_process(c, {.args = {"sh"}, .no_new_privileges = true}, false);
    ASSERT_TRUE(off && on);
    EXPECT_FALSE(off->no_new_privileges);
    EXPECT_TRUE(on->no_new_privileges);
}

TEST(ExecProcess, AProcessFileReplacesTheConfigProcess) {
    auto file = oci::parse_process(R"({"args": ["/bin/id"], "cwd": "/", "terminal": true,
                                       "user": {"uid": 7, "gid": 7}})",
                                   "/tmp/p.json");
    ASSERT_TRUE(file);
    auto p =
        exec_process(config_process(), {.process_file = *file, .origin = "/tmp/p.json"}, false);
    ASSERT_TRUE(p) << error_of(p);
    EXPECT_THAT(p->args, ElementsAre("/bin/id"));
    EXPECT_TRUE(p->env.empty()) << "nothing of the config's process";
    EXPECT_FALSE(p->has_caps);
    EXPECT_EQ(p->uid, 7u);
    EXPECT_TRUE(p->terminal) << "the file's terminal";
    auto flags = exec_process(
        config_process(), {.process_file = *file, .origin = "/tmp/p.json", .cwd = "/srv"}, false);
    ASSERT_TRUE(flags);
    EXPECT_EQ(flags->cwd, "/srv") << "flags given with --process still apply";
}

TEST(ExecProcess, ErrorsNameTheFlagOrTheField) {
    EXPECT_THAT(error_of(exec_process(config_process(), {}, false)),
                HasSubstr("exec needs a command to run, or --process"));
    EXPECT_EQ(error_of(exec_process(config_process(), {.args = {"sh"}, .cwd = "tmp"}, false)),
              "--cwd \"tmp\": must be an absolute path");
    EXPECT_EQ(error_of(exec_process(config_process(), {.args = {"sh"}, .env = {"NOVALUE"}}, false)),
              "--env \"NOVALUE\": expected NAME=VALUE");
    EXPECT_EQ(
        error_of(exec_process(config_process(), {.args = {"sh"}, .add_caps = {"CAP_FLY"}}, false)),
        "--cap \"CAP_FLY\": unknown capability");
    auto file = oci::parse_process(R"({"args": [], "cwd": "relative"})", "/tmp/p.json");
    ASSERT_TRUE(file);
    EXPECT_EQ(error_of(exec_process(std::nullopt, {.process_file = *file, .origin = "/tmp/p.json"},
                                    false)),
              "/tmp/p.json: process.args: must name the program to run");
    auto bad = oci::parse_process(R"({"args": ["sh"], "cwd": 5})", "/tmp/p.json");
    EXPECT_THAT(error_of(bad), HasSubstr("cwd")) << "the parser names the field";
}

TEST(ExecProcess, AConfigWithoutProcessStartsFromNothing) {
    auto p = exec_process(std::nullopt, {.args = {"true"}}, false);
    ASSERT_TRUE(p) << error_of(p);
    EXPECT_EQ(p->cwd, "/");
    EXPECT_FALSE(p->has_caps);
}

}  // namespace
}  // namespace kapsel::plan
