// checkpoint/restore through CRIU: a container's processes are dumped, the container
// is gone, and restore brings them back where they were — with the new caller's stdio
// pipes, the same host bind mounts, under another id and root (a migration) too.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.hpp"

extern char** environ;

namespace kapsel::test {
namespace {

namespace fsys = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kPrivateCriu = "/opt/kapsel-criu/bin/criu";

// A counter that lives in the shell's memory: a restarted container would start at 1
// again, a restored one goes on from where it was dumped.
constexpr const char* kCounter =
    "i=0; while true; do i=$((i+1)); echo $i > /count; sleep 0.05; done";

// A container with a counter and a host directory, and the checkpoint's image path.
class CheckpointTest : public KapselTest {
  protected:
    void SetUp() override {
        KapselTest::SetUp();
        REQUIRE_ROOT();
        data_ = root() + "/data";
        fsys::create_directory(data_);
        std::ofstream(data_ + "/from-host") << "host\n";
    }
    // A bundle with its own rootfs and a host directory bound at /data.
    void prepare(Bundle& b, const std::string& script) {
        b.own_rootfs();
        b.set_script(script);
        b.config["mounts"].push_back({{"destination", "/data"},
                                      {"type", "bind"},
                                      {"source", data_},
                                      {"options", {"rbind", "ro"}}});
        b.write();
    }
    int count(const std::string& rootfs) {
        std::ifstream in(rootfs + "/count");
        int n = -1;
        in >> n;
        return n;
    }
    int wait_count_at_least(const std::string& rootfs, int n) {
        for (int i = 0; i < 200 && count(rootfs) < n; ++i) std::this_thread::sleep_for(20ms);
        return count(rootfs);
    }
    std::string images() { return root() + "/images"; }
    std::string data_;
};

// With the real CRIU (scripts/install-criu).
class Checkpoint : public CheckpointTest {
  protected:
    void SetUp() override {
        CheckpointTest::SetUp();
        if (IsSkipped()) return;
        if (access(kPrivateCriu, X_OK) != 0)
            GTEST_SKIP() << "skipped: CRIU is missing (" << kPrivateCriu
                         << "; scripts/install-criu installs it)";
        Output check = run_program({kPrivateCriu, "check"});
        if (check.code != 0)
            GTEST_SKIP() << "skipped: `criu check` fails on this kernel: " << check.err;
    }
};

// Starts argv with the given stdin and stdout/stderr; returns its exit code.
int spawn_with_stdio(const std::vector<std::string>& argv, int in, int out) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_adddup2(&fa, out, 1);
    posix_spawn_file_actions_adddup2(&fa, out, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return -1;
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Reads from fd until `want` appears (or 10 s pass).
std::string read_until(int fd, const std::string& want) {
    std::string got;
    char buf[256];
    pollfd p{fd, POLLIN, 0};
    auto until = std::chrono::steady_clock::now() + 10s;
    while (got.find(want) == std::string::npos && std::chrono::steady_clock::now() < until) {
        if (poll(&p, 1, 100) <= 0) continue;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
    }
    return got;
}

struct Pipe {
    int r = -1, w = -1;
    Pipe() {
        int p[2];
        if (pipe2(p, O_CLOEXEC) == 0) r = p[0], w = p[1];
    }
    ~Pipe() {
        if (r >= 0) close(r);
        if (w >= 0) close(w);
    }
};

TEST_F(Checkpoint, TheContainerStopsAndRestoreContinuesWhereItWas) {
    Bundle b;
    prepare(b, kCounter);
    ASSERT_EQ(0, kapsel({"run", "-d", "--bundle", b.dir(), "c1"}).code);
    wait_count_at_least(b.rootfs(), 10);
    Output ck = kapsel({"checkpoint", "--image-path", images(), "c1"});
    ASSERT_EQ(0, ck.code) << ck.err;
    // As with runc: the dumped container is gone, its id free for restore.
    EXPECT_NE(0, kapsel({"state", "c1"}).code);
    int at_dump = count(b.rootfs());
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(at_dump, count(b.rootfs())) << "nothing runs after the checkpoint";

    std::string pid_file = root() + "/restored.pid";
    Output rs = kapsel({"restore", "-d", "--image-path", images(), "--bundle", b.dir(),
                        "--pid-file", pid_file, "c1"});
    ASSERT_EQ(0, rs.code) << rs.err;
    json st = state("c1");
    EXPECT_EQ("running", st["status"]);
    std::ifstream pf(pid_file);
    int pid = 0;
    pf >> pid;
    EXPECT_EQ(st["pid"], pid);
    EXPECT_GT(wait_count_at_least(b.rootfs(), at_dump + 5), at_dump + 4)
        << "the counter went on from " << at_dump;
    // It is a whole container again: in its cgroup, with its namespaces and host binds.
    Output ps = kapsel({"exec", "c1", "sh", "-c", "cat /data/from-host; cat /proc/1/cmdline"});
    EXPECT_EQ(0, ps.code) << ps.err;
    EXPECT_EQ(0u, ps.out.rfind("host\n/bin/sh", 0)) << ps.out << ps.err;
    EXPECT_EQ(0, kapsel({"pause", "c1"}).code);
    EXPECT_EQ(0, kapsel({"resume", "c1"}).code);
    auto dirs = cgroup_dirs("c1");
    ASSERT_FALSE(dirs.empty());
    for (auto& d : dirs) {
        std::ifstream procs(d + "/cgroup.procs");
        bool found = false;
        for (int p; procs >> p;) found |= p == pid;
        EXPECT_TRUE(found) << "the restored init " << pid << " is not in " << d;
    }
    EXPECT_EQ(0, kapsel({"delete", "-f", "c1"}).code);
    for (auto& d : dirs) EXPECT_FALSE(fsys::exists(d)) << d;
}

TEST_F(Checkpoint, LeaveRunningKeepsTheContainerRunning) {
    Bundle b;
    prepare(b, kCounter);
    ASSERT_EQ(0, kapsel({"run", "-d", "--bundle", b.dir(), "c1"}).code);
    wait_count_at_least(b.rootfs(), 3);
    Output ck = kapsel({"checkpoint", "--leave-running", "--image-path", images(), "c1"});
    ASSERT_EQ(0, ck.code) << ck.err;
    EXPECT_EQ("running", state("c1")["status"]);
    int n = count(b.rootfs());
    EXPECT_GT(wait_count_at_least(b.rootfs(), n + 3), n);
    EXPECT_TRUE(fsys::exists(images() + "/inventory.img"));
    EXPECT_EQ(0, kapsel({"delete", "-f", "c1"}).code);
}

TEST_F(Checkpoint, RestoredStdioIsTheNewCallersPipes) {
    // podman's conmon and containerd's shim give a container pipes; a restore by them
    // must connect the restored process to their new pipes.
    Bundle b;
    prepare(b, "echo started; while read line; do echo got:$line; done");
    {
        Pipe in, out;
        ASSERT_EQ(0, spawn_with_stdio({kapsel_binary(), "--root", root() + "/state", "run", "-d",
                                       "--bundle", b.dir(), "c1"},
                                      in.r, out.w));
        close(out.w), out.w = -1;
        ASSERT_NE(std::string::npos, read_until(out.r, "started").find("started"));
        Output ck = kapsel({"checkpoint", "--image-path", images(), "c1"});
        ASSERT_EQ(0, ck.code) << ck.err;
    }
    Pipe in, out;
    ASSERT_EQ(0, spawn_with_stdio({kapsel_binary(), "--root", root() + "/state", "restore", "-d",
                                   "--image-path", images(), "--bundle", b.dir(), "c1"},
                                  in.r, out.w));
    close(out.w), out.w = -1;
    ASSERT_EQ(6, write(in.w, "hello\n", 6));
    EXPECT_NE(std::string::npos, read_until(out.r, "got:hello").find("got:hello"));
    EXPECT_EQ(0, kapsel({"delete", "-f", "c1"}).code);
}

TEST_F(Checkpoint, StdoutIntoAFileOfTheHostIsHandedOverAtRestore) {
    // `kapsel run -d c1 > log`: a file CRIU cannot reach from the container's mounts.
    // It is an external file at dump; at restore the caller's stdout takes its place.
    Bundle b;
    prepare(b, "i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done");
    std::string before = root() + "/before.log", after = root() + "/after.log";
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out = open(before.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ASSERT_EQ(0, spawn_with_stdio({kapsel_binary(), "--root", root() + "/state", "run", "-d",
                                   "--bundle", b.dir(), "c1"},
                                  null, out));
    close(out);
    auto last_line = [](const std::string& file) {
        std::ifstream in(file);
        std::string line, last;
        while (std::getline(in, line)) last = line;
        return last.empty() ? 0 : std::stoi(last);
    };
    for (int i = 0; i < 200 && last_line(before) < 5; ++i) std::this_thread::sleep_for(20ms);
    Output ck = kapsel({"checkpoint", "--image-path", images(), "c1"});
    ASSERT_EQ(0, ck.code) << ck.err;
    int at_dump = last_line(before);
    EXPECT_GE(at_dump, 5);

    out = open(after.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ASSERT_EQ(0, spawn_with_stdio({kapsel_binary(), "--root", root() + "/state", "restore", "-d",
                                   "--image-path", images(), "--bundle", b.dir(), "c1"},
                                  null, out));
    close(out), close(null);
    for (int i = 0; i < 200 && last_line(after) < at_dump + 3; ++i) std::this_thread::sleep_for(20ms);
    std::ifstream in(after);
    int first = 0;
    in >> first;
    EXPECT_EQ(at_dump + 1, first) << "the restored shell counts on where it was, into the new file";
    EXPECT_EQ(at_dump, last_line(before)) << "the old file gets nothing more";
    EXPECT_EQ(0, kapsel({"delete", "-f", "c1"}).code);

    // Restored with its stdout closed, nothing could take the file's place: a clear
    // error before anything is made.
    Output closed = run_program({"/bin/sh", "-c",
                                 "exec \"$0\" --root \"$1\" restore -d --image-path \"$2\" "
                                 "--bundle \"$3\" c2 >&-",
                                 kapsel_binary(), root() + "/state", images(), b.dir()});
    EXPECT_EQ(1, closed.code);
    EXPECT_NE(std::string::npos, closed.err.find("fd 1 of the container was " + before)) << closed.err;
    EXPECT_FALSE(fsys::exists(root() + "/state/c2"));
}

TEST_F(Checkpoint, RestoreUnderAnotherIdRootAndBundleIsAMigration) {
    Bundle b;
    prepare(b, kCounter);
    ASSERT_EQ(0, kapsel({"run", "-d", "--bundle", b.dir(), "c1"}).code);
    wait_count_at_least(b.rootfs(), 5);
    ASSERT_EQ(0, kapsel({"checkpoint", "--image-path", images(), "c1"}).code);
    int at_dump = count(b.rootfs());
    // "Another host": the bundle and the images copied elsewhere, another state root.
    TempDir elsewhere;
    std::string bundle = elsewhere.path() + "/bundle";
    fsys::copy(b.dir(), bundle, fsys::copy_options::recursive | fsys::copy_options::copy_symlinks);
    json config = json::parse(std::ifstream(bundle + "/config.json"));
    config["root"]["path"] = bundle + "/" + fsys::path(b.rootfs()).filename().string();
    std::ofstream(bundle + "/config.json") << config.dump();
    fsys::copy(images(), elsewhere.path() + "/images", fsys::copy_options::recursive);
    Output rs = kapsel({"--root", elsewhere.path() + "/state", "restore", "-d", "--image-path",
                        elsewhere.path() + "/images", "--bundle", bundle, "moved"});
    ASSERT_EQ(0, rs.code) << rs.err;
    std::string moved_rootfs = config["root"]["path"];
    EXPECT_GT(wait_count_at_least(moved_rootfs, at_dump + 3), at_dump);
    EXPECT_EQ(at_dump, count(b.rootfs())) << "the original rootfs is left alone";
    EXPECT_EQ(0, kapsel({"--root", elsewhere.path() + "/state", "delete", "-f", "moved"}).code);
}

TEST_F(Checkpoint, AttachedRestoreWaitsAndReturnsTheExitCode) {
    Bundle b;
    prepare(b, "sleep 0.5; exit 7");
    ASSERT_EQ(0, kapsel({"run", "-d", "--bundle", b.dir(), "c1"}).code);
    ASSERT_EQ(0, kapsel({"checkpoint", "--image-path", images(), "c1"}).code);
    Output rs = kapsel({"restore", "--image-path", images(), "--bundle", b.dir(), "c1"});
    EXPECT_EQ(7, rs.code) << rs.err;
    EXPECT_NE(0, kapsel({"state", "c1"}).code) << "deleted after it exited, as with run";
}

// Issue 13: a container with a terminal is checkpointed and restored, as with runc.
// Its pty's master was the caller's, so the old terminal cannot come along: the
// restored processes get a new one, whose master goes to the restore's console
// socket; the shell goes on counting on it, and it is still their controlling
// terminal and /dev/console.
TEST_F(Checkpoint, AContainerWithATerminalComesBackOnANewTerminal) {
    Bundle b;
    prepare(b, "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.05; done");
    b.config["process"]["terminal"] = true;
    b.write();
    FdListener first;
    int master = -1;
    std::thread receiver([&] { master = first.receive(); });
    Output c = kapsel({"run", "-d", "--bundle", b.dir(), "--console-socket", first.path(), "c1"});
    receiver.join();
    ASSERT_EQ(0, c.code) << c.err;
    ASSERT_GE(master, 0);
    std::string before = read_until(master, "tick 5\r\n");
    ASSERT_NE(std::string::npos, before.find("tick 5\r\n")) << before;

    Output ck = kapsel({"checkpoint", "--image-path", images(), "c1"});
    ASSERT_EQ(0, ck.code) << ck.err;
    // Everything the shell wrote before the dump, to its last number (the read ends
    // when the dumped processes' side of the pty is gone).
    std::string rest = read_until(master, "no such text");
    close(master);
    before += rest;
    int last = 0;
    for (size_t at = before.find("tick "); at != std::string::npos;
         at = before.find("tick ", at + 1))
        last = std::max(last, std::atoi(before.c_str() + at + 5));
    ASSERT_GT(last, 0);

    // Detached, the new master needs somewhere to go.
    Output nowhere = kapsel({"restore", "-d", "--image-path", images(), "--bundle", b.dir(), "c1"});
    EXPECT_EQ(1, nowhere.code);
    EXPECT_NE(std::string::npos, nowhere.err.find("--console-socket")) << nowhere.err;
    EXPECT_NE(0, kapsel({"state", "c1"}).code) << "nothing made";

    FdListener second;
    int restored = -1;
    std::thread receiver2([&] { restored = second.receive(); });
    Output rs = kapsel({"restore", "-d", "--image-path", images(), "--bundle", b.dir(),
                        "--console-socket", second.path(), "c1"});
    receiver2.join();
    ASSERT_EQ(0, rs.code) << rs.err;
    ASSERT_GE(restored, 0) << "no new master arrived";
    std::string next = "tick " + std::to_string(last + 1) + "\r\n";
    std::string after = read_until(restored, next);
    EXPECT_NE(std::string::npos, after.find(next)) << "the count goes on: " << after;
    EXPECT_EQ(std::string::npos, after.find("tick 1\r\n")) << "not started again: " << after;

    // Still a session on its terminal (tty_nr is the pty's), and /dev/console is it.
    Output in = kapsel({"exec", "c1", "sh", "-c",
                        "cut -d' ' -f7 /proc/1/stat; stat -L -c '%t' /dev/console /proc/1/fd/0"});
    EXPECT_EQ(0, in.code) << in.err;
    std::istringstream lines(in.out);
    long tty_nr = 0;
    std::string console_major, stdin_major;
    lines >> tty_nr >> console_major >> stdin_major;
    EXPECT_EQ(136, tty_nr >> 8) << in.out;
    EXPECT_EQ("88", console_major) << in.out;
    EXPECT_EQ("88", stdin_major) << in.out;
    EXPECT_EQ(0, kapsel({"delete", "-f", "c1"}).code);
    close(restored);
}

TEST_F(Checkpoint, WhatCannotBeCheckpointedIsAClearErrorAndLeavesNothing) {
    Bundle b;
    prepare(b, "sleep 100");
    ASSERT_EQ(0, kapsel({"create", "--bundle", b.dir(), "c1"}).code);
    Output created = kapsel({"checkpoint", "--image-path", images(), "c1"});
    EXPECT_EQ(1, created.code);
    EXPECT_NE(std::string::npos, created.err.find("it is created")) << created.err;
    EXPECT_FALSE(fsys::exists(images()));
    EXPECT_EQ(0, kapsel({"delete", "-f", "c1"}).code);

    fsys::create_directory(images());
    Output empty = kapsel({"restore", "-d", "--image-path", images(), "--bundle", b.dir(), "c3"});
    EXPECT_EQ(1, empty.code);
    EXPECT_NE(std::string::npos, empty.err.find("holds no checkpoint")) << empty.err;
    EXPECT_FALSE(fsys::exists(root() + "/state/c3"));
    EXPECT_NE(0, kapsel({"checkpoint", "nosuch"}).code);
}

TEST_F(Checkpoint, AFailedRestoreLeavesNoStateNoCgroupNoProcess) {
    Bundle b;
    prepare(b, kCounter);
    ASSERT_EQ(0, kapsel({"run", "-d", "--bundle", b.dir(), "c1"}).code);
    auto dirs = cgroup_dirs("c1");
    ASSERT_FALSE(dirs.empty());
    ASSERT_EQ(0, kapsel({"checkpoint", "--image-path", images(), "c1"}).code);
    // The host directory the container had bound is gone: CRIU cannot restore the mount.
    fsys::remove_all(data_);
    Output rs = kapsel({"restore", "-d", "--image-path", images(), "--bundle", b.dir(), "c1"});
    EXPECT_EQ(1, rs.code);
    EXPECT_NE(std::string::npos, rs.err.find("restore.log")) << "names the log: " << rs.err;
    EXPECT_FALSE(fsys::exists(root() + "/state/c1"));
    for (auto& d : dirs) EXPECT_FALSE(fsys::exists(d)) << d;
    int at_dump = count(b.rootfs());
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(at_dump, count(b.rootfs())) << "no restored process runs";
}

TEST_F(Checkpoint, FeaturesSayWhatCriuCanDoHere) {
    Output f = kapsel({"features"});
    ASSERT_EQ(0, f.code) << f.err;
    json a = json::parse(f.out)["annotations"];
    Output version = run_program({kPrivateCriu, "--version"});
    EXPECT_NE(std::string::npos,
              version.out.find("Version: " + a.value("io.github.kapsel.criu.version", "?")))
        << version.out;
    EXPECT_EQ("ok", a["io.github.kapsel.criu.check"]);
    // The kernel's own answers: with CONFIG_MEM_SOFT_DIRTY a page written after the
    // bits were cleared ("4" to clear_refs) has bit 55 in its pagemap entry; and
    // userfaultfd exists or not.
    static volatile char page[4096] __attribute__((aligned(4096)));
    int refs = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    ASSERT_GE(refs, 0);
    ASSERT_EQ(1, write(refs, "4", 1));
    close(refs);
    page[0] = 1;
    uint64_t entry = 0;
    int map = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(map, 0);
    off_t at = static_cast<off_t>(reinterpret_cast<uintptr_t>(page) / 4096 * 8);
    ASSERT_EQ(8, pread(map, &entry, 8, at));
    close(map);
    bool soft_dirty = entry & (1ULL << 55);
    EXPECT_EQ(soft_dirty ? "true" : "false", a["io.github.kapsel.criu.memory-tracking"]);
    int uffd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC));
    bool have_uffd = uffd >= 0 || errno != ENOSYS;
    if (uffd >= 0) close(uffd);
    EXPECT_EQ(have_uffd ? "true" : "false", a["io.github.kapsel.criu.lazy-pages"]);
    EXPECT_TRUE(a.contains("io.github.kapsel.criu.hardware-breakpoints"));
}

// What kapsel does when CRIU hangs or dies: a stand-in CRIU
// (tools/criu_standin.cpp) freezes the container and seizes its processes with
// ptrace, as CRIU does, then hangs or dies. kapsel must stop it, put the container
// back exactly as it was, and say so in one line naming CRIU's log.
class CriuFailure : public CheckpointTest {
  protected:
    // `--criu` for a stand-in that hangs or dies.
    std::string criu(const std::string& mode) {
        std::string path = root() + "/criu-" + mode;
        std::ofstream(path) << "#!/bin/sh\nexec " << KAPSEL_TEST_CRIU_STANDIN << " " << mode
                            << " \"$@\"\n";
        fsys::permissions(path, fsys::perms::owner_all);
        return path;
    }
    static int tracer_of(int pid) {
        std::ifstream in("/proc/" + std::to_string(pid) + "/status");
        for (std::string line; std::getline(in, line);)
            if (line.rfind("TracerPid:", 0) == 0) return std::stoi(line.substr(10));
        return -1;
    }
    // c1: the counter, detached, counting.
    void start_counter(Bundle& b) {
        prepare(b, kCounter);
        ASSERT_EQ(0, kapsel({"run", "-d", "--bundle", b.dir(), "c1"}).code);
        wait_count_at_least(b.rootfs(), 3);
    }
    // Running as before: thawed in every hierarchy, no process held by a tracer, and
    // the counter moves.
    void expect_running_as_before(const std::string& id, const std::string& rootfs) {
        EXPECT_EQ("running", state(id)["status"]);
        auto dirs = cgroup_dirs(id);
        ASSERT_FALSE(dirs.empty());
        for (auto& d : dirs) {
            std::string f;
            if (fsys::exists(d + "/freezer.state")) {
                std::ifstream(d + "/freezer.state") >> f;
                EXPECT_EQ("THAWED", f) << d;
            } else if (fsys::exists(d + "/cgroup.freeze")) {
                std::ifstream(d + "/cgroup.freeze") >> f;
                EXPECT_EQ("0", f) << d;
            }
        }
        std::ifstream procs(dirs.front() + "/cgroup.procs");
        for (int pid; procs >> pid;) EXPECT_EQ(0, tracer_of(pid)) << "process " << pid;
        int n = count(rootfs);
        EXPECT_GT(wait_count_at_least(rootfs, n + 3), n) << "the counter does not move";
    }
};

TEST_F(CriuFailure, AHangingDumpIsStoppedAtTheDeadlineAndTheContainerRunsOn) {
    Bundle b;
    ASSERT_NO_FATAL_FAILURE(start_counter(b));
    auto t0 = std::chrono::steady_clock::now();
    Output ck = kapsel({"--criu", criu("hang"), "checkpoint", "--criu-timeout", "2",
                        "--image-path", images(), "c1"});
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(1, ck.code);
    EXPECT_NE(std::string::npos, ck.err.find("criu dump did not finish within 2 s")) << ck.err;
    EXPECT_NE(std::string::npos, ck.err.find("log: " + images() + "/dump.log")) << ck.err;
    EXPECT_NE(std::string::npos, ck.err.find("the container runs on")) << ck.err;
    EXPECT_EQ(1, std::count(ck.err.begin(), ck.err.end(), '\n')) << "one line: " << ck.err;
    EXPECT_LT(took, 6s) << "2 s, and at most 2 s more to stop CRIU";
    EXPECT_TRUE(fsys::exists(images() + "/dump.log")) << "CRIU's log is kept";
    expect_running_as_before("c1", b.rootfs());
    EXPECT_EQ(0, kapsel({"delete", "-f", "c1"}).code);
}

TEST_F(CriuFailure, ADumpThatDiesMidwayLeavesTheContainerThawedAndRunning) {
    Bundle b;
    ASSERT_NO_FATAL_FAILURE(start_counter(b));
    Output ck = kapsel({"--criu", criu("die"), "checkpoint", "--image-path", images(), "c1"});
    EXPECT_EQ(1, ck.code);
    // The stand-in left the cgroup frozen when it died.
    EXPECT_NE(std::string::npos, ck.err.find("the parasite died")) << ck.err;
    EXPECT_NE(std::string::npos, ck.err.find("the container runs on")) << ck.err;
    expect_running_as_before("c1", b.rootfs());
    EXPECT_EQ(0, kapsel({"delete", "-f", "c1"}).code);
}

TEST_F(CriuFailure, APausedContainerStaysPausedAfterAFailedDump) {
    Bundle b;
    ASSERT_NO_FATAL_FAILURE(start_counter(b));
    ASSERT_EQ(0, kapsel({"pause", "c1"}).code);
    Output ck = kapsel({"--criu", criu("die"), "checkpoint", "--image-path", images(), "c1"});
    EXPECT_EQ(1, ck.code);
    EXPECT_NE(std::string::npos, ck.err.find("stays paused")) << ck.err;
    EXPECT_EQ("paused", state("c1")["status"]);
    ASSERT_EQ(0, kapsel({"resume", "c1"}).code);
    expect_running_as_before("c1", b.rootfs());
    EXPECT_EQ(0, kapsel({"delete", "-f", "c1"}).code);
}

TEST_F(CriuFailure, InterruptingACheckpointStopsCriuAndPutsTheContainerBack) {
    // Ctrl-C, or a caller's kill after its own deadline: kapsel must not leave the
    // container seized by a CRIU that nobody waits for.
    Bundle b;
    ASSERT_NO_FATAL_FAILURE(start_counter(b));
    pid_t pid = fork();
    if (pid == 0)
        exec_argv({kapsel_binary(), "--root", root() + "/state", "--criu", criu("hang"),
                   "checkpoint", "--image-path", images(), "c1"});
    std::string log = images() + "/dump.log";
    auto seized = [&] {
        std::ifstream in(log);
        std::stringstream text;
        text << in.rdbuf();
        return text.str().find("waiting for a trap") != std::string::npos;
    };
    for (int i = 0; i < 500 && !seized(); ++i) std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(seized()) << "the stand-in never seized the container";
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
    expect_running_as_before("c1", b.rootfs());
    EXPECT_EQ(0, kapsel({"delete", "-f", "c1"}).code);
}

TEST_F(CriuFailure, AHangingOrDyingRestoreLeavesNothingBehind) {
    Bundle b;
    prepare(b, "sleep 100");
    fsys::create_directories(images());
    std::ofstream(images() + "/inventory.img") << "stand-in";
    for (std::string mode : {"hang", "die"}) {
        SCOPED_TRACE(mode);
        Output rs = kapsel({"--criu", criu(mode), "restore", "-d", "--criu-timeout", "2",
                            "--image-path", images(), "--bundle", b.dir(), "c1"});
        EXPECT_EQ(1, rs.code);
        EXPECT_NE(std::string::npos, rs.err.find("restore.log")) << rs.err;
        if (mode == "hang")
            EXPECT_NE(std::string::npos, rs.err.find("did not finish within 2 s")) << rs.err;
        else
            EXPECT_NE(std::string::npos, rs.err.find("restore failed midway")) << rs.err;
        // The process the stand-in "restored" in the new cgroup is gone with it.
        std::ifstream in(images() + "/restore.log");
        int restored = 0;
        for (std::string line; std::getline(in, line);)
            if (auto at = line.find("restored pid "); at != std::string::npos)
                restored = std::stoi(line.substr(at + 13));
        ASSERT_GT(restored, 0);
        for (int i = 0; i < 100 && process_alive(restored); ++i) std::this_thread::sleep_for(20ms);
        EXPECT_FALSE(process_alive(restored));
        expect_nothing_left("c1", b);
    }
}

}  // namespace
}  // namespace kapsel::test
