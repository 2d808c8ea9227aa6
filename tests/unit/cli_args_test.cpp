// cli/args.cpp: runc-style flag parsing and the generated usage text.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/args.hpp"

namespace kapsel::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The flags of a verb like `kapsel create`.
struct CreateFlags {
    std::string bundle, pid_file;
    int preserve_fds = 0;
    bool detach = false, no_pivot = true;
    std::vector<std::string> env;
    Flags flags{"create", "kapsel create [options] <container-id>", "Create a container."};

    CreateFlags() {
        flags.option({"bundle", "b"}, &bundle, "bundle directory", "dir");
        flags.option({"pid-file"}, &pid_file, "write the pid here", "path");
        flags.option({"preserve-fds"}, &preserve_fds, "pass this many extra fds");
        flags.flag({"detach", "d"}, &detach, "do not wait for the container");
        flags.flag({"no-pivot"}, &no_pivot, "use MS_MOVE instead of pivot_root");
        flags.list({"env", "e"}, &env, "set an environment variable", "NAME=VALUE");
        flags.ignored({"pidfd-socket"}, true, "accepted for runc compatibility");
        flags.ignored({"systemd-cgroup"}, false, "accepted for runc compatibility");
    }
    Result<std::vector<std::string>> parse(std::vector<std::string> args,
                                           bool stop_at_positional = false) {
        return flags.parse(args, stop_at_positional);
    }
};

std::string error_of(const Result<std::vector<std::string>>& r) {
    return r ? "<no error>" : r.error().message;
}

TEST(Flags, OneAndTwoDashesAreTheSame) {
    CreateFlags a, b;
    ASSERT_TRUE(a.parse({"-bundle", "/b1", "-d"}));
    ASSERT_TRUE(b.parse({"--bundle", "/b1", "--d"}));
    EXPECT_EQ(a.bundle, "/b1");
    EXPECT_EQ(b.bundle, "/b1");
    EXPECT_TRUE(a.detach);
    EXPECT_TRUE(b.detach);
}

TEST(Flags, ValueAfterEqualsOrAsTheNextArgument) {
    CreateFlags f;
    auto pos = f.parse({"--bundle=/b1", "--pid-file", "/run/c1.pid", "c1"});
    ASSERT_TRUE(pos) << pos.error().message;
    EXPECT_EQ(f.bundle, "/b1");
    EXPECT_EQ(f.pid_file, "/run/c1.pid");
    EXPECT_THAT(*pos, ElementsAre("c1"));
}

TEST(Flags, ValueMayContainEqualsAndLookLikeAFlag) {
    CreateFlags f;
    ASSERT_TRUE(f.parse({"--env=A=1", "-e", "--B=2", "--bundle", "-odd"}));
    EXPECT_THAT(f.env, ElementsAre("A=1", "--B=2"));
    EXPECT_EQ(f.bundle, "-odd");
}

TEST(Flags, EmptyValueAfterEquals) {
    CreateFlags f;
    f.bundle = "/preset";
    ASSERT_TRUE(f.parse({"--bundle="}));
    EXPECT_EQ(f.bundle, "");
}

TEST(Flags, BooleansTakeNoSeparateValue) {
    CreateFlags f;
    auto pos = f.parse({"--detach", "false"});
    ASSERT_TRUE(pos) << pos.error().message;
    EXPECT_TRUE(f.detach);
    EXPECT_THAT(*pos, ElementsAre("false"));
}

TEST(Flags, BooleanWithExplicitValue) {
    CreateFlags f;
    ASSERT_TRUE(f.parse({"--no-pivot=false", "--detach=true"}));
    EXPECT_FALSE(f.no_pivot);
    EXPECT_TRUE(f.detach);
    CreateFlags g;
    ASSERT_TRUE(g.parse({"--no-pivot=0", "-d=1"}));
    EXPECT_FALSE(g.no_pivot);
    EXPECT_TRUE(g.detach);
}

TEST(Flags, BooleanWithNonsenseValue) {
    CreateFlags f;
    EXPECT_EQ(error_of(f.parse({"--detach=maybe"})),
              "flag --detach: expected true or false, got \"maybe\"");
}

TEST(Flags, IntegerOption) {
    CreateFlags f;
    ASSERT_TRUE(f.parse({"--preserve-fds", "3"}));
    EXPECT_EQ(f.preserve_fds, 3);
    EXPECT_EQ(error_of(f.parse({"--preserve-fds=three"})),
              "flag --preserve-fds: expected a number, got \"three\"");
    EXPECT_EQ(error_of(f.parse({"--preserve-fds=-1"})),
              "flag --preserve-fds: expected a number, got \"-1\"");
}

TEST(Flags, ShortAliasReportsTheCanonicalName) {
    CreateFlags f;
    EXPECT_EQ(error_of(f.parse({"-d=yes"})), "flag --detach: expected true or false, got \"yes\"");
}

TEST(Flags, ListOptionCollectsEveryOccurrence) {
    CreateFlags f;
    ASSERT_TRUE(f.parse({"-e", "A=1", "--env", "B=2", "-e=C=3"}));
    EXPECT_THAT(f.env, ElementsAre("A=1", "B=2", "C=3"));
}

TEST(Flags, IgnoredFlagsAreAcceptedWithOrWithoutValue) {
    CreateFlags f;
    auto pos = f.parse({"--pidfd-socket", "/run/x.sock", "--systemd-cgroup", "c1"});
    ASSERT_TRUE(pos) << pos.error().message;
    EXPECT_THAT(*pos, ElementsAre("c1"));
}

TEST(Flags, UnknownFlagSaysWhereToLook) {
    CreateFlags f;
    EXPECT_EQ(error_of(f.parse({"--bundel", "/b"})),
              "unknown flag --bundel");
    EXPECT_EQ(error_of(f.parse({"-x"})), "unknown flag -x");
}

TEST(Flags, MissingValue) {
    CreateFlags f;
    EXPECT_EQ(error_of(f.parse({"c1", "--bundle"})), "flag --bundle needs a value");
    EXPECT_EQ(error_of(f.parse({"-b"})), "flag -b needs a value");
}

TEST(Flags, DoubleDashEndsTheFlags) {
    CreateFlags f;
    auto pos = f.parse({"-d", "--", "--bundle", "x", "-e"});
    ASSERT_TRUE(pos) << pos.error().message;
    EXPECT_TRUE(f.detach);
    EXPECT_EQ(f.bundle, "");
    EXPECT_THAT(*pos, ElementsAre("--bundle", "x", "-e"));
}

TEST(Flags, PositionalsAndFlagsInterleave) {
    CreateFlags f;
    auto pos = f.parse({"c1", "-d", "extra", "--bundle", "/b"});
    ASSERT_TRUE(pos) << pos.error().message;
    EXPECT_THAT(*pos, ElementsAre("c1", "extra"));
    EXPECT_TRUE(f.detach);
    EXPECT_EQ(f.bundle, "/b");
}

TEST(Flags, LoneDashIsPositional) {
    CreateFlags f;
    auto pos = f.parse({"-"});
    ASSERT_TRUE(pos) << pos.error().message;
    EXPECT_THAT(*pos, ElementsAre("-"));
}

TEST(Flags, StopAtPositionalLeavesTheRestForTheProgram) {
    CreateFlags f;
    auto pos = f.parse({"-d", "c1", "sh", "-c", "--bundle", "echo"}, /*stop_at_positional=*/true);
    ASSERT_TRUE(pos) << pos.error().message;
    EXPECT_TRUE(f.detach);
    EXPECT_EQ(f.bundle, "");
    EXPECT_THAT(*pos, ElementsAre("c1", "sh", "-c", "--bundle", "echo"));
}

TEST(Flags, GlobalFlagsStopAtTheVerb) {
    std::string root;
    bool debug = false;
    Flags global("kapsel", "kapsel [global options] command", "");
    global.option({"root"}, &root, "state directory", "dir");
    global.flag({"debug"}, &debug, "log more");
    auto pos =
        global.parse({"--root", "/run/kapsel", "--debug", "create", "--bundle", "/b", "c1"}, true);
    ASSERT_TRUE(pos) << pos.error().message;
    EXPECT_EQ(root, "/run/kapsel");
    EXPECT_TRUE(debug);
    EXPECT_THAT(*pos, ElementsAre("create", "--bundle", "/b", "c1"));
}

TEST(Flags, HelpIsDetectedInEveryForm) {
    for (const char* h : {"-h", "--help", "-help", "--h"}) {
        CreateFlags f;
        auto pos = f.parse({"c1", h});
        ASSERT_TRUE(pos) << h << ": " << pos.error().message;
        EXPECT_TRUE(f.flags.help_requested()) << h;
        EXPECT_THAT(*pos, ElementsAre("c1")) << h;
    }
    CreateFlags none;
    ASSERT_TRUE(none.parse({"c1"}));
    EXPECT_FALSE(none.flags.help_requested());
}

TEST(Flags, NoArguments) {
    CreateFlags f;
    auto pos = f.parse({});
    ASSERT_TRUE(pos);
    EXPECT_THAT(*pos, IsEmpty());
}

TEST(Flags, UsageListsEveryFlag) {
    CreateFlags f;
    std::string u = f.flags.usage();
    EXPECT_THAT(u, ::testing::StartsWith(
                       "usage: kapsel create [options] <container-id>\n\nCreate a container.\n"));
    EXPECT_THAT(u, HasSubstr("\noptions:\n"));
    EXPECT_THAT(u, HasSubstr("  --bundle, -b dir"));
    EXPECT_THAT(u, HasSubstr("bundle directory\n"));
    EXPECT_THAT(u, HasSubstr("  --pid-file path"));
    EXPECT_THAT(u, HasSubstr("  --preserve-fds n"));
    EXPECT_THAT(u, HasSubstr("  --detach, -d "));
    EXPECT_THAT(u, HasSubstr("  --env, -e NAME=VALUE"));
    EXPECT_THAT(u, HasSubstr("  --pidfd-socket value"));
    EXPECT_THAT(u, HasSubstr("  --systemd-cgroup "));
}

TEST(Flags, UsageAlignsHelpInAColumn) {
    Flags f("x", "kapsel x", "X.");
    bool b = false;
    std::string s;
    f.flag({"short"}, &b, "help one");
    f.option({"a-very-long-flag-name-indeed"}, &s, "help two", "value");
    std::string u = f.usage();
    EXPECT_THAT(u, HasSubstr("  --short" + std::string(30 - 7, ' ') + "help one\n"));
    EXPECT_THAT(u, HasSubstr("  --a-very-long-flag-name-indeed value\n" + std::string(32, ' ') +
                             "help two\n"))
        << "a name too long for the column puts the help on the next line";
}

TEST(Flags, UsageWithoutFlagsHasNoOptionsSection) {
    Flags f("state", "kapsel state <container-id>", "Print the state.");
    EXPECT_EQ(f.usage(), "usage: kapsel state <container-id>\n\nPrint the state.\n");
}

}  // namespace
}  // namespace kapsel::cli
