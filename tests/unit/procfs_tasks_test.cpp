// procfs/tasks.cpp: which process's start is a caller's container's start, with a fake
// process table (pid namespaces, parents, start times, cgroups).
#include <gtest/gtest.h>

#include <map>

#include "procfs/tasks.hpp"

namespace kapsel::procfs {
namespace {

const NsId kHost{.dev = 4, .ino = 4026531836};
const NsId kContainer{.dev = 4, .ino = 4026532001};

class FakeProcesses : public Processes {
  public:
    struct Proc {
        NsId ns;
        pid_t ppid;
        uint64_t start;
    };
    std::map<pid_t, Proc> procs;
    std::map<pid_t, std::vector<pid_t>> cgroups;  // by member
    size_t stat_calls = 0;

    std::optional<NsId> pid_ns(pid_t pid) override {
        auto it = procs.find(pid);
        if (it == procs.end()) return std::nullopt;
        return it->second.ns;
    }
    std::optional<TaskStat> stat(pid_t pid) override {
        ++stat_calls;
        auto it = procs.find(pid);
        if (it == procs.end()) return std::nullopt;
        return TaskStat{.state = 'S', .ppid = it->second.ppid, .start_ticks = it->second.start};
    }
    std::vector<pid_t> cgroup_processes(pid_t pid) override {
        auto it = cgroups.find(pid);
        return it == cgroups.end() ? std::vector<pid_t>{} : it->second;
    }
};

TEST(ProcfsTasks, ACallerInAPidNamespaceIsTimedFromThatNamespacesInit) {
    FakeProcesses p;
    p.procs = {{1, {kHost, 0, 1}},
               {500, {kHost, 1, 100}},          // the monitor, outside
               {600, {kContainer, 500, 200}},   // the container's init
               {700, {kContainer, 600, 900}},   // a shell
               {800, {kContainer, 700, 950}}};  // the reader
    EXPECT_EQ(600, container_init(p, 800, kHost));
    EXPECT_EQ(600, container_init(p, 600, kHost)) << "the init itself";
}

TEST(ProcfsTasks, TheWalkStopsWhereAParentHasGone) {
    FakeProcesses p;
    p.procs = {{700, {kContainer, 650, 900}}, {800, {kContainer, 700, 950}}};
    EXPECT_EQ(700, container_init(p, 800, kHost)) << "650 exited between the reads";
}

TEST(ProcfsTasks, TheWalkIsBounded) {
    FakeProcesses p;
    // A parent loop (pids reused while walking) must not hold the server.
    p.procs = {{10, {kContainer, 11, 5}}, {11, {kContainer, 10, 5}}};
    auto init = container_init(p, 10, kHost);
    ASSERT_TRUE(init);
    EXPECT_LE(p.stat_calls, kMaxWalk + 1);
}

TEST(ProcfsTasks, ACallerInTheServersPidNamespaceIsTimedFromItsCgroupsOldestProcess) {
    FakeProcesses p;
    p.procs = {{1, {kHost, 0, 1}},
               {300, {kHost, 1, 400}},  // the container's first process
               {310, {kHost, 300, 500}},
               {320, {kHost, 310, 600}}};
    p.cgroups[320] = {310, 300, 320, 999 /* gone */};
    EXPECT_EQ(300, container_init(p, 320, kHost)) << "not pid 1, which is not in its cgroup";
}

TEST(ProcfsTasks, ACallerWhoseCgroupCannotBeListedIsTimedFromItself) {
    FakeProcesses p;
    p.procs = {{1, {kHost, 0, 1}}, {320, {kHost, 1, 600}}};
    EXPECT_EQ(320, container_init(p, 320, kHost));
}

TEST(ProcfsTasks, AGoneCallerHasNoContainer) {
    FakeProcesses p;
    EXPECT_EQ(std::nullopt, container_init(p, 42, kHost));
}

TEST(ProcfsTasks, StatLinesAreParsedAfterTheLastParenthesis) {
    auto s = parse_task_stat(
        "1234 (a) b (c) R 77 1234 1234 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 0 0");
    ASSERT_TRUE(s);
    EXPECT_EQ('R', s->state);
    EXPECT_EQ(77, s->ppid);
    EXPECT_EQ(98765u, s->start_ticks);
    EXPECT_FALSE(parse_task_stat("1234 (cut"));
    EXPECT_FALSE(parse_task_stat("1234 (x) R 77"));
    EXPECT_FALSE(parse_task_stat(""));
}

TEST(ProcfsTasks, PidListsAreBoundedAndSkipJunk) {
    EXPECT_EQ((std::vector<pid_t>{1, 22, 333}), parse_pid_list("1\n22\nx\n-4\n333\n", 10));
    EXPECT_EQ((std::vector<pid_t>{1, 22}), parse_pid_list("1\n22\n333\n", 2));
    EXPECT_TRUE(parse_pid_list("", 10).empty());
}

}  // namespace
}  // namespace kapsel::procfs
