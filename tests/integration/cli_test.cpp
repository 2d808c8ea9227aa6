// The command line: runc's global flags and spellings, help, version, spec, features.
#include <fstream>
#include <regex>

#include "harness.hpp"

namespace kapsel::test {
namespace {

using Cli = KapselTest;

TEST_F(Cli, VersionAndHelp) {
    Output v = run_program({kapsel_binary(), "--version"});
    EXPECT_EQ(0, v.code);
    EXPECT_NE(std::string::npos, v.out.find("kapsel version"));
    EXPECT_NE(std::string::npos, v.out.find("spec: 1.3.0"));
    Output h = run_program({kapsel_binary(), "--help"});
    EXPECT_EQ(0, h.code);
    for (auto* verb :
         {"create", "start", "run", "state", "kill", "delete", "list", "spec", "features"})
        EXPECT_NE(std::string::npos, h.out.find(verb)) << verb;
    Output ch = run_program({kapsel_binary(), "create", "--help"});
    EXPECT_EQ(0, ch.code);
    EXPECT_NE(std::string::npos, ch.out.find("--console-socket"));
    EXPECT_NE(std::string::npos, ch.out.find("--preserve-fds"));
}

TEST_F(Cli, UnknownCommandsAndFlagsAreOneLineErrors) {
    Output c = run_program({kapsel_binary(), "frobnicate"});
    EXPECT_EQ(1, c.code);
    EXPECT_NE(std::string::npos, c.err.find("unknown command \"frobnicate\""));
    Output f = run_program({kapsel_binary(), "create", "--frob", "x"});
    EXPECT_EQ(1, f.code);
    EXPECT_NE(std::string::npos, f.err.find("--frob"));
    EXPECT_EQ(1, std::count(f.err.begin(), f.err.end(), '\n')) << f.err;
}

TEST_F(Cli, SingleDashAndEqualsSpellingsWorkAsInRunc) {
    Bundle b("echo ok");
    b.write();
    std::string r = root() + "/state";
    EXPECT_EQ(0,
              run_program({kapsel_binary(), "-root", r, "create", "-bundle", b.dir(), "a"}).code);
    EXPECT_EQ(
        0,
        run_program({kapsel_binary(), "--root=" + r, "create", "--bundle=" + b.dir(), "b"}).code);
    EXPECT_EQ(0, run_program({kapsel_binary(), "--root", r, "create", "-b", b.dir(), "c"}).code);
    EXPECT_EQ("a\nb\nc\n", kapsel({"list", "-q"}).out);
}

TEST_F(Cli, JsonLogLinesGoToTheLogFileAndTheErrorAlsoToStderr) {
    std::string log = root() + "/log.json";
    Output o = kapsel({"--log", log, "--log-format", "json", "state", "missing"});
    // The global flags come before the verb; kapsel() already put --root first.
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("does not exist")) << "stderr carries the error too";
    std::ifstream f(log);
    std::string line;
    ASSERT_TRUE(std::getline(f, line));
    json j = json::parse(line);
    EXPECT_EQ("error", j["level"]);
    EXPECT_NE(std::string::npos, j["msg"].get<std::string>().find("does not exist"));
    EXPECT_TRUE(j.contains("time"));
    EXPECT_FALSE(std::getline(f, line))
        << "exactly one line: podman parses the file as one JSON object";
}

TEST_F(Cli, TextLogFormat) {
    std::string log = root() + "/log.txt";
    kapsel({"--log", log, "state", "missing"});
    std::ifstream f(log);
    std::string line;
    ASSERT_TRUE(std::getline(f, line));
    EXPECT_NE(std::string::npos, line.find("level=error"));
    EXPECT_NE(std::string::npos, line.find("msg="));
}

std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream f(path);
    std::vector<std::string> out;
    for (std::string line; std::getline(f, line);) out.push_back(line);
    return out;
}

// runc's logrus lines, as containerd and podman read them: JSON objects with
// exactly level, msg and time (in that order, time in RFC 3339 to the second);
// debug lines only with --debug; the failure as the last, error, line.
TEST_F(Cli, DebugLinesAndTheErrorInLogrusJson) {
    Bundle b("true");
    b.write();
    std::string quiet = root() + "/quiet.json";
    ASSERT_EQ(
        0, kapsel({"--log", quiet, "--log-format", "json", "run", "--bundle", b.dir(), "c1"}).code);
    EXPECT_EQ(std::vector<std::string>{}, lines_of(quiet)) << "no debug lines without --debug";

    std::string debug = root() + "/debug.json";
    Output o = kapsel(
        {"--debug", "--log", debug, "--log-format", "json", "run", "--bundle", b.dir(), "c2"});
    ASSERT_EQ(0, o.code) << o.err;
    auto lines = lines_of(debug);
    EXPECT_GE(lines.size(), 4u) << "a handful of steps: create, cgroup, init, start";
    const std::regex shape(
        R"re(^\{"level":"(debug|info|warning|error)","msg":".*","time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)"\}$)re");
    bool cloned = false;
    for (auto& line : lines) {
        EXPECT_TRUE(std::regex_match(line, shape)) << line;
        json j = json::parse(line, nullptr, false);
        ASSERT_TRUE(j.is_object()) << line;
        EXPECT_EQ(3u, j.size()) << line;
        EXPECT_EQ("debug", j["level"]) << line;
        cloned = cloned || j["msg"].get<std::string>().find("cloned the init") != std::string::npos;
    }
    EXPECT_TRUE(cloned) << "the init's creation is among the steps";

    // A failure: debug lines, then the error as the last line, escaped as Go's
    // encoding/json escapes (<, > and & as \u003c, \u003e, \u0026).
    std::string failed = root() + "/failed.json";
    Output bad =
        kapsel({"--debug", "--log", failed, "--log-format", "json", "start", "no<such>&container"});
    EXPECT_EQ(1, bad.code);
    lines = lines_of(failed);
    ASSERT_FALSE(lines.empty());
    json last = json::parse(lines.back());
    EXPECT_EQ("error", last["level"]);
    EXPECT_NE(std::string::npos, last["msg"].get<std::string>().find("no<such>&container"))
        << lines.back();
    EXPECT_NE(std::string::npos, lines.back().find("no\\u003csuch\\u003e\\u0026container"))
        << lines.back();
}

TEST_F(Cli, DebugLinesInLogrusText) {
    Bundle b("true");
    b.write();
    std::string log = root() + "/debug.txt";
    ASSERT_EQ(0, kapsel({"--debug", "--log", log, "run", "--bundle", b.dir(), "c1"}).code);
    auto lines = lines_of(log);
    ASSERT_FALSE(lines.empty());
    // Values bare when they are one plain word, else quoted.
    const std::regex shape(
        R"re(^time="[-0-9T:Z+]+" level=debug msg=("([^"\\]|\\.)*"|[-A-Za-z0-9._/@^+]*)$)re");
    for (auto& line : lines) EXPECT_TRUE(std::regex_match(line, shape)) << line;
}

TEST_F(Cli, BadLogFormatIsRefused) {
    Output o = run_program({kapsel_binary(), "--log-format", "xml", "list"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("--log-format"));
}

TEST_F(Cli, SystemdCgroupIsAClearErrorWithoutSystemd) {
    if (access("/run/systemd/system", F_OK) == 0) GTEST_SKIP() << "skipped: systemd runs here";
    Bundle b;
    b.write();
    Output o = kapsel({"--systemd-cgroup", "create", "--bundle", b.dir(), "c1"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("systemd is not running")) << o.err;
    expect_nothing_left("c1", b);
}

TEST_F(Cli, SpecWritesATemplateThatRuns) {
    TempDir dir;
    ASSERT_EQ(0, run_program({kapsel_binary(), "spec", "--bundle", dir.path()}).code);
    std::ifstream f(dir.path() + "/config.json");
    json c = json::parse(f);
    EXPECT_EQ("1.3.0", c["ociVersion"]);
    EXPECT_EQ("rootfs", c["root"]["path"]);
    Output again = run_program({kapsel_binary(), "spec", "--bundle", dir.path()});
    EXPECT_EQ(1, again.code) << "an existing config.json is never overwritten";
    EXPECT_NE(std::string::npos, again.err.find("exists"));

    TempDir rl;
    ASSERT_EQ(0, run_program({kapsel_binary(), "spec", "--rootless", "--bundle", rl.path()}).code);
    std::ifstream g(rl.path() + "/config.json");
    json r = json::parse(g);
    EXPECT_EQ(1u, r["linux"]["uidMappings"].size());
    bool user = false;
    for (auto& n : r["linux"]["namespaces"]) user = user || n["type"] == "user";
    EXPECT_TRUE(user);
}

TEST_F(Cli, FeaturesFollowTheRuntimeSpec) {
    Output o = run_program({kapsel_binary(), "features"});
    ASSERT_EQ(0, o.code);
    json f = json::parse(o.out);
    EXPECT_EQ("1.0.0", f["ociVersionMin"]);
    EXPECT_EQ("1.3.0", f["ociVersionMax"]);
    EXPECT_EQ(6u, f["hooks"].size());
    EXPECT_TRUE(f["linux"]["seccomp"]["enabled"].get<bool>());
    EXPECT_EQ(8u, f["linux"]["namespaces"].size());
    EXPECT_GE(f["linux"]["capabilities"].size(), 41u);
    auto& opts = f["mountOptions"];
    EXPECT_NE(opts.end(), std::find(opts.begin(), opts.end(), "rro"));
}

}  // namespace
}  // namespace kapsel::test
