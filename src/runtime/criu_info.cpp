// CRIU's abilities on this host (see criu_info.hpp).
#include "runtime/criu_info.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "linux/breakpoints.hpp"
#include "runtime/checkpoint.hpp"
#include "util/fd.hpp"
#include "util/strings.hpp"

extern char** environ;

namespace kapsel::runtime {
namespace {

struct Query {
    std::vector<std::string> args;
    pid_t pid = -1;
    unique_fd out;
    std::string text;
    int status = -1;  // exit code; -1: did not run or did not finish
};

// Starts every query with stdout and stderr on a pipe, then reads them all until
// they end or `timeout_ms` passes (a query still running then is killed).
void run_all(const std::string& bin, std::vector<Query>& qs, int timeout_ms) {
    for (auto& q : qs) {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) < 0) continue;
        unique_fd r(p[0]), w(p[1]);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, w.get(), 1);
        posix_spawn_file_actions_adddup2(&fa, w.get(), 2);
        std::vector<char*> argv{const_cast<char*>(bin.c_str())};
        for (auto& a : q.args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        if (::posix_spawnp(&q.pid, bin.c_str(), &fa, nullptr, argv.data(), environ) != 0)
            q.pid = -1;
        posix_spawn_file_actions_destroy(&fa);
        if (q.pid > 0) q.out = std::move(r);
    }
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
        std::vector<pollfd> fds;
        std::vector<Query*> who;
        for (auto& q : qs)
            if (q.out) fds.push_back({q.out.get(), POLLIN, 0}), who.push_back(&q);
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        until - std::chrono::steady_clock::now())
                        .count();
        if (fds.empty() || left <= 0) break;
        if (::poll(fds.data(), fds.size(), static_cast<int>(left)) < 0 && errno != EINTR) break;
        for (size_t i = 0; i < fds.size(); ++i) {
            if (!fds[i].revents) continue;
            char buf[4096];
            ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            // CRIU's answers are a few lines; more is not an answer.
            if (n > 0 && who[i]->text.size() < 65536)
                who[i]->text.append(buf, static_cast<size_t>(n));
            else if (n <= 0)
                who[i]->out.reset();
        }
    }
    for (auto& q : qs) {
        if (q.pid <= 0) continue;
        if (q.out) ::kill(q.pid, SIGKILL);
        int st = 0;
        while (::waitpid(q.pid, &st, 0) < 0 && errno == EINTR) {
        }
        if (!q.out && WIFEXITED(st)) q.status = WEXITSTATUS(st);
    }
}

}  // namespace

CriuInfo criu_info(const Globals& g) {
    CriuInfo info;
    info.binary = criu_binary(g);
    std::vector<Query> qs(4);
    qs[0].args = {"--version"};
    qs[1].args = {"check"};
    qs[2].args = {"check", "--feature", "mem_dirty_track"};
    qs[3].args = {"check", "--feature", "uffd-noncoop"};
    run_all(info.binary, qs, 10000);
    // "Version: 4.1.1"
    for (auto& line : split(qs[0].text, '\n'))
        if (line.rfind("Version:", 0) == 0) info.version = std::string(trim(line.substr(8)));
    info.check = qs[1].status == 0;
    if (!info.check) {
        for (auto& line : split(qs[1].text, '\n'))
            if (line.find("Error") != std::string::npos) {
                info.check_error = std::string(trim(line));
                break;
            }
        if (info.check_error.empty())
            info.check_error = qs[1].status < 0 ? "criu did not run" : "criu check failed";
    }
    info.memory_tracking = qs[2].status == 0;
    info.lazy_pages = qs[3].status == 0;
    auto fire = linux::hardware_breakpoints_fire();
    info.hardware_breakpoints = fire && *fire;
    return info;
}

std::vector<std::pair<std::string, std::string>> criu_annotations(const CriuInfo& info) {
    auto yes = [](bool b) { return std::string(b ? "true" : "false"); };
    return {
        {"io.github.kapsel.criu.binary", info.binary},
        {"io.github.kapsel.criu.version", info.version},
        {"io.github.kapsel.criu.check", info.check ? "ok" : info.check_error},
        {"io.github.kapsel.criu.memory-tracking", yes(info.memory_tracking)},
        {"io.github.kapsel.criu.lazy-pages", yes(info.lazy_pages)},
        {"io.github.kapsel.criu.hardware-breakpoints", yes(info.hardware_breakpoints)},
    };
}

}  // namespace kapsel::runtime
