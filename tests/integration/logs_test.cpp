// Bounded logs of detached containers (run --log-opt max-size, max-file), as a docker
// user checks them: the files on disk stay within max-size x max-file, `kapsel logs`
// prints what is kept in order without a gap, `logs -f` sees every kept line once,
// bad options are refused with nothing made, and a restored container keeps its bound.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace kapsel::test {
namespace {

namespace fsys = std::filesystem;
using namespace std::chrono_literals;


class BoundedLogs : public ImageStoreTest {
  protected:
    static std::vector<std::string> lines(const std::string& s) {
        std::vector<std::string> out;
        std::string line;
        for (char c : s) {
            if (c != '\n')
                line += c;
            else
                out.push_back(std::move(line)), line.clear();
        }
        if (!line.empty()) out.push_back(line);
        return out;
    }
    // Lines that are all numbers, as `seq` wrote them (a cut line would not be one of
    // the sequence, or would break the order).
    static std::vector<long> numbers(const std::string& s) {
        std::vector<long> out;
        for (auto& l : lines(s)) {
            EXPECT_FALSE(l.empty() || l.find_first_not_of("0123456789") != std::string::npos)
                << "not a line of seq: \"" << l << "\"";
            out.push_back(l.empty() ? -1 : std::stol(l.substr(0, 18)));
        }
        return out;
    }
    std::string dir_of(const std::string& id) { return store() + "/containers/" + id; }
    // The container's log files: ctr.log and ctr.log.N, by name and size.
    std::map<std::string, uintmax_t> log_files(const std::string& id) {
        std::map<std::string, uintmax_t> out;
        for (auto& e : fsys::directory_iterator(dir_of(id))) {
            std::string name = e.path().filename();
            if (name == "ctr.log" || (name.rfind("ctr.log.", 0) == 0 && name != "ctr.log.dropped"))
                out[name] = e.file_size();
        }
        return out;
    }
    void expect_no_container(const std::string& at) {
        for (auto& e : fsys::directory_iterator(at + "/containers"))
            ADD_FAILURE() << "left: " << e.path();
    }
};

TEST_F(BoundedLogs, FiveMegabytesLeaveAtMostMaxSizeTimesMaxFileAndLogsPrintsTheKeptLinesInOrder) {
    // About 4.8 MB of numbered lines, as fast as the container can write them.
    Output run = k({"run", "-d", "--log-opt", "max-size=1m", "--log-opt", "max-file=3", kImage,
                    "seq", "1", "700000"});
    ASSERT_EQ(0, run.code) << run.err;
    std::string id = lines(run.out).at(0);
    ASSERT_TRUE(wait_for_status(id, "exited")) << status_of(id);

    auto files = log_files(id);
    uintmax_t total = 0;
    for (auto& [name, size] : files) {
        EXPECT_LE(size, 1u << 20) << name << " is within max-size";
        total += size;
    }
    EXPECT_LE(total, 3u << 20) << "max-size x max-file";
    EXPECT_EQ(3u, files.size()) << "ctr.log, ctr.log.1, ctr.log.2";
    EXPECT_GE(total, 2u << 20) << "two full rotated files are kept";

    auto kept = numbers(k({"logs", id}).out);
    ASSERT_FALSE(kept.empty());
    EXPECT_EQ(700000, kept.back()) << "the newest line is the last one";
    for (size_t i = 1; i < kept.size(); ++i)
        if (kept[i] != kept[i - 1] + 1) {
            ADD_FAILURE() << "gap or disorder after line " << kept[i - 1] << ": " << kept[i];
            break;
        }
    // Every byte kept is printed: the oldest line is whole, and what is printed is all
    // of the files but at most the cut line before it.
    uintmax_t printed = 0;
    for (long n : kept) printed += std::to_string(n).size() + 1;
    EXPECT_LE(printed, total);
    EXPECT_GT(printed + 8, total);

    json inspect = json::parse(k({"inspect", id}).out).at(0);
    EXPECT_EQ(1u << 20, inspect["Container"]["log_opts"]["max-size"])
        << inspect["Container"].dump();
    EXPECT_EQ(3, inspect["Container"]["log_opts"]["max-file"]);
}

TEST_F(BoundedLogs, FollowingFromTheStartSeesEveryKeptLineOnceInOrder) {
    // The writing starts after `logs -f` does.
    Output run = k({"run", "-d", "--log-opt", "max-size=1m", "--log-opt", "max-file=3", kImage,
                    "sh", "-c", "sleep 1; seq 1 700000"});
    ASSERT_EQ(0, run.code) << run.err;
    std::string id = lines(run.out).at(0);
    Output follow = k({"logs", "-f", id});
    ASSERT_EQ(0, follow.code) << follow.err;
    ASSERT_TRUE(wait_for_status(id, "exited")) << status_of(id);

    auto seen = numbers(follow.out);
    ASSERT_FALSE(seen.empty());
    for (size_t i = 1; i < seen.size(); ++i)
        if (seen[i] <= seen[i - 1]) {
            ADD_FAILURE() << "line " << seen[i] << " after " << seen[i - 1]
                          << ": repeated or out of order";
            break;
        }
    auto kept = numbers(k({"logs", id}).out);
    ASSERT_FALSE(kept.empty());
    // Whatever the follower saw beyond that may have been cut meanwhile; what is kept it saw.
    auto from = std::find(seen.begin(), seen.end(), kept.front());
    ASSERT_NE(seen.end(), from) << "the follower missed the oldest kept line " << kept.front();
    EXPECT_TRUE(std::equal(kept.begin(), kept.end(), from, seen.end()))
        << "the follower saw the kept lines " << kept.front() << " to " << kept.back()
        << " in order";
    EXPECT_EQ(700000, seen.back());
}

TEST_F(BoundedLogs, FollowingShowsALineWithoutNewlineOnceTheContainerPauses) {
    // Lines go out whole, but a prompt is not held back for ever.
    Output run = k(
        {"run", "-d", "--log-opt", "max-size=1m", kImage, "sh", "-c", "printf 'ready> '; sleep 3"});
    ASSERT_EQ(0, run.code) << run.err;
    std::string id = lines(run.out).at(0);
    std::vector<std::string> a = {"--storage-root", store(), "logs", "-f", id};
    Output follow = kapsel(a, "", 1500);  // killed while the container sleeps
    EXPECT_EQ("ready> ", follow.out) << follow.err;
}

TEST_F(BoundedLogs, OneFileKeepsItsNewerPartWithinMaxSize) {
    Output run = k({"run", "-d", "--log-opt", "max-size=100k", kImage, "seq", "1", "100000"});
    ASSERT_EQ(0, run.code) << run.err;
    std::string id = lines(run.out).at(0);
    ASSERT_TRUE(wait_for_status(id, "exited")) << status_of(id);
    auto files = log_files(id);
    ASSERT_EQ(1u, files.size());
    EXPECT_LT(files["ctr.log"], 100u << 10);
    auto kept = numbers(k({"logs", id}).out);
    ASSERT_FALSE(kept.empty());
    EXPECT_EQ(100000, kept.back());
    EXPECT_EQ(static_cast<size_t>(100000 - kept.front() + 1), kept.size()) << "no gap";
}

TEST_F(BoundedLogs, RmOfAContainerWhoseLogIsBeingCutLeavesNothing) {
    // `yes` keeps the keeper cutting while rm moves the directory away and removes it.
    for (int i = 0; i < 8; ++i) {
        Output run = k({"run", "-d", "--log-opt", "max-size=64k", "--log-opt", "max-file=3", kImage,
                        "yes", "a line of the log"});
        ASSERT_EQ(0, run.code) << run.err;
        std::this_thread::sleep_for(200ms);
        Output rm = k({"rm", "-f", lines(run.out).at(0)});
        EXPECT_EQ(0, rm.code) << rm.err;
    }
    expect_no_container(store());
    for (auto& e : fsys::directory_iterator(store() + "/tmp"))
        ADD_FAILURE() << "left: " << e.path();
}

TEST_F(BoundedLogs, TheMonitorAndTheKeeperHoldNoFdOfTheCaller) {
    // As `flock LOCK kapsel run -d ...` gives kapsel the lock's fd: a monitor that kept
    // it would hold the lock as long as the container runs.
    std::string lock_path = root() + "/lock";
    int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(lock, 0);
    ASSERT_EQ(0, ::flock(lock, LOCK_EX));
    Output run = kapsel({"--storage-root", store(), "run", "-d", "--log-opt", "max-size=1m", kImage,
                         "sleep", "100"},
                        "", 30000, {lock});
    ::close(lock);
    ASSERT_EQ(0, run.code) << run.err;
    std::string id = lines(run.out).at(0);
    json meta = json::parse(std::ifstream(dir_of(id) + "/container.json"));
    int monitor = meta["monitor"]["pid"];
    // The keeper is the monitor's child named kapsel-logkeep.
    std::vector<int> pids = {monitor};
    for (auto& e : fsys::directory_iterator("/proc")) {
        std::ifstream stat(e.path() / "stat");
        std::string line;
        if (!std::getline(stat, line) || line.find("(kapsel-logkeep)") == std::string::npos) continue;
        std::istringstream rest(line.substr(line.rfind(')') + 2));
        std::string state;
        int ppid = 0;
        rest >> state >> ppid;
        if (ppid == monitor) pids.push_back(std::stoi(e.path().filename()));
    }
    ASSERT_EQ(2u, pids.size()) << "the monitor and its keeper";
    for (int pid : pids)
        for (auto& fd : fsys::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
            std::error_code ec;
            EXPECT_NE(lock_path, fsys::read_symlink(fd.path(), ec).string())
                << "pid " << pid << " holds the caller's " << fd.path();
        }
    int again = ::open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
    EXPECT_EQ(0, ::flock(again, LOCK_EX | LOCK_NB)) << "the lock is free again";
    ::close(again);
}

TEST_F(BoundedLogs, BadOptionsAreOneErrorLineAndMakeNothing) {
    struct Case {
        std::vector<std::string> opts;
        std::string says;
    } cases[] = {
        {{"--log-opt", "max-file=3"}, "max-file can only be used with max-size"},
        {{"--log-opt", "max-size=10x"}, "max-size \"10x\" is not a size"},
        {{"--log-opt", "max-size=0"}, "more than 0"},
        {{"--log-opt", "max-size=1m", "--log-opt", "max-file=0"}, "max-file \"0\""},
        {{"--log-opt", "mode=non-blocking"}, "unknown option \"mode\""},
        {{"--log-opt", "max-size=1k"}, "below two blocks"},
    };
    for (auto& c : cases) {
        std::vector<std::string> args = {"run", "-d"};
        args.insert(args.end(), c.opts.begin(), c.opts.end());
        args.insert(args.end(), {kImage, "true"});
        Output o = k(args);
        EXPECT_EQ(1, o.code) << c.says;
        EXPECT_NE(std::string::npos, o.err.find(c.says)) << o.err;
        EXPECT_NE(std::string::npos, o.err.find("--log-opt")) << o.err;
        EXPECT_EQ(1u, lines(o.err).size()) << o.err;
        EXPECT_TRUE(o.out.empty()) << o.out;
    }
    expect_no_container(store());
}

TEST_F(BoundedLogs, AFileSystemThatCannotCutIsNamedAndNothingIsMade) {
    // tmpfs has no fallocate COLLAPSE_RANGE.
    std::string tmpfs = root() + "/tmpfs";
    fsys::create_directories(tmpfs);
    ASSERT_EQ(0, ::mount("none", tmpfs.c_str(), "tmpfs", 0, nullptr)) << strerror(errno);
    load_image(tmpfs + "/store");
    Output o = k({"run", "-d", "--log-opt", "max-size=1m", kImage, "true"}, {}, tmpfs + "/store");
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("(tmpfs) cannot cut a file's head")) << o.err;
    EXPECT_EQ(1u, lines(o.err).size()) << o.err;
    expect_no_container(tmpfs + "/store");
    // Without the option, the log is unbounded there as before.
    Output plain = k({"run", "-d", "--rm", kImage, "true"}, {}, tmpfs + "/store");
    EXPECT_EQ(0, plain.code) << plain.err;
    for (int i = 0; i < 250 && !fsys::is_empty(tmpfs + "/store/containers"); ++i)
        std::this_thread::sleep_for(20ms);
    ::umount2(tmpfs.c_str(), MNT_DETACH);
}

TEST_F(BoundedLogs, ARestoredContainerKeepsItsBound) {
    const char* criu = "/opt/kapsel-criu/bin/criu";
    if (access(criu, X_OK) != 0) GTEST_SKIP() << "skipped: CRIU is missing (scripts/install-criu)";
    if (run_program({criu, "check"}).code != 0) GTEST_SKIP() << "skipped: `criu check` fails here";
    // About 80 KB a second against 64 KiB x 2.
    Output run =
        k({"run", "-d", "--name", "chatty", "--log-opt", "max-size=64k", "--log-opt", "max-file=2",
           kImage, "sh", "-c", "while true; do seq 1 1000; sleep 0.05; done"});
    ASSERT_EQ(0, run.code) << run.err;
    std::string id = lines(run.out).at(0);
    auto dropped = [&] {
        std::ifstream in(dir_of(id) + "/ctr.log.dropped");
        unsigned long long n = 0;
        in >> n;
        return n;
    };
    for (int i = 0; i < 300 && dropped() == 0; ++i) std::this_thread::sleep_for(20ms);
    ASSERT_GT(dropped(), 0u) << "the log was cut before the checkpoint";

    Output ck = k({"checkpoint", "--image-path", root() + "/ck", "chatty"});
    ASSERT_EQ(0, ck.code) << ck.err << ck.out;
    ASSERT_TRUE(wait_for_status(id, "checkpointed")) << status_of(id);
    auto at_checkpoint = dropped();
    Output rs = k({"restore", "chatty"});
    ASSERT_EQ(0, rs.code) << rs.err;
    for (int i = 0; i < 300 && dropped() == at_checkpoint; ++i) std::this_thread::sleep_for(20ms);
    EXPECT_GT(dropped(), at_checkpoint) << "the restored container's log is cut again";

    uintmax_t total = 0;
    for (auto& [name, size] : log_files(id)) total += size;
    // The bound and what the container may write while the keeper looks (a few ms).
    EXPECT_LE(total, (128u << 10) + (16u << 10));
    json inspect = json::parse(k({"inspect", "chatty"}).out).at(0);
    EXPECT_EQ(64u << 10, inspect["Container"]["log_opts"]["max-size"])
        << inspect["Container"].dump();
    auto kept = numbers(k({"logs", "chatty"}).out);
    for (size_t i = 1; i < kept.size(); ++i)
        if (kept[i] != kept[i - 1] + 1 && !(kept[i] == 1 && kept[i - 1] == 1000)) {
            ADD_FAILURE() << "gap after " << kept[i - 1] << ": " << kept[i];
            break;
        }
    EXPECT_EQ(0, k({"rm", "-f", "chatty"}).code);
}

}  // namespace
}  // namespace kapsel::test
