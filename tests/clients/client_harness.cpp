// Client test harness: the recording runtime wrapper, call parsing, the pty runner and
// the checks every client test ends with.
#include "client_harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

extern char** environ;

namespace kapsel::test {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
    std::ifstream f(path);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

bool executable(const std::string& path) {
    return access(path.c_str(), X_OK) == 0;
}

std::string image_dir() {
    if (const char* p = std::getenv("KAPSEL_IMAGE_FIXTURES")) return p;
    return KAPSEL_TEST_IMAGES;
}

std::string image_name() {
    std::string n = read_file(image_dir() + "/name");
    while (!n.empty() && n.back() == '\n') n.pop_back();
    return n;
}

bool kapsel_has_verb(const std::string& verb) {
    return run_program({kapsel_binary(), verb, "--help"}).code == 0;
}

static int64_t now_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// ---- the recording runtime ----

// bash, not sh: printf %q quotes each argument so that the log line splits back exactly.
static const char* kWrapper = R"SH(#!/bin/bash
# Records a client's call of the OCI runtime, then runs kapsel (a child, not exec,
# so that the exit code can be recorded too).
dir=@DIR@
logf=
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
        --log | -log) logf=${args[i+1]}; i=$((i + 1)) ;;
        --log=* | -log=*) logf=${args[i]#*=} ;;
        --root | -root | --log-format | -log-format | --criu | -criu) i=$((i + 1)) ;;
        -*) ;;
        *) break ;;
    esac
done
caller=$(cat /proc/$PPID/comm 2>/dev/null)
printf 'CALL %s %s %s\n' "$$" "${caller:-?}" "$(printf '%q ' "$@")" >> "$dir/calls.log"
pre=0
[ -n "$logf" ] && [ -f "$logf" ] && pre=$(stat -c %s "$logf")
@KAPSEL@ "$@"
rc=$?
if [ -n "$logf" ] && [ -f "$logf" ]; then
    tail -c +$((pre + 1)) "$logf" > "$dir/logs/$$.log"
    printf 'LOG %s %q\n' "$$" "$logf" >> "$dir/calls.log"
fi
printf 'EXIT %s %s\n' "$$" "$rc" >> "$dir/calls.log"
exit $rc
)SH";

static std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size())
        s.replace(at, from.size(), to);
    return s;
}

RecordingRuntime::RecordingRuntime(const std::string& dir) : dir_(dir), path_(dir + "/kapsel") {
    fs::create_directories(dir + "/logs");
    std::string script = replace_all(kWrapper, "@DIR@", "'" + dir + "'");
    script = replace_all(script, "@KAPSEL@", "'" + kapsel_binary() + "'");
    std::ofstream(path_) << script;
    chmod(path_.c_str(), 0755);
    std::ofstream(dir + "/calls.log");
}

std::string RecordingRuntime::raw_log() const {
    return read_file(dir_ + "/calls.log");
}

// Undoes bash's printf %q for the forms it produces for paths and ids: backslash
// escapes and $'...' strings.
static std::vector<std::string> split_quoted(const std::string& line) {
    std::vector<std::string> out;
    std::string cur;
    bool any = false;
    for (size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (c == ' ') {
            if (any) out.push_back(cur);
            cur.clear();
            any = false;
        } else if (c == '\\' && i + 1 < line.size()) {
            cur += line[++i];
            any = true;
        } else if (c == '$' && i + 1 < line.size() && line[i + 1] == '\'') {
            for (i += 2; i < line.size() && line[i] != '\''; ++i) {
                if (line[i] == '\\' && i + 1 < line.size()) {
                    char e = line[++i];
                    cur += e == 'n' ? '\n' : e == 't' ? '\t' : e;
                } else {
                    cur += line[i];
                }
            }
            any = true;
        } else if (c == '\'' && line.compare(i, 2, "''") == 0) {
            i += 1;  // '' is the empty string
            any = true;
        } else {
            cur += c;
            any = true;
        }
    }
    if (any) out.push_back(cur);
    return out;
}

std::vector<RuntimeCall> RecordingRuntime::calls() const {
    std::vector<RuntimeCall> calls;
    std::map<std::string, size_t> by_pid;
    std::istringstream is(raw_log());
    std::string line;
    while (std::getline(is, line)) {
        std::istringstream ls(line);
        std::string kind, pid;
        ls >> kind >> pid;
        if (kind == "CALL") {
            RuntimeCall c;
            c.pid = pid;
            ls >> c.caller;
            std::string rest;
            std::getline(ls, rest);
            c.args = split_quoted(rest);
            by_pid[pid] = calls.size();
            calls.push_back(c);
        } else if (by_pid.count(pid)) {
            RuntimeCall& c = calls[by_pid[pid]];
            std::string rest;
            std::getline(ls >> std::ws, rest);
            if (kind == "EXIT") c.exit_code = std::stoi(rest);
            if (kind == "LOG") {
                auto parts = split_quoted(rest);
                c.log_file = parts.empty() ? "" : parts[0];
                c.log_bytes = read_file(dir_ + "/logs/" + pid + ".log");
            }
        }
    }
    return calls;
}

std::string argv_pattern(const RuntimeCall& call, const std::string& tmp,
                         const std::vector<std::pair<std::string, std::string>>& words) {
    // containerd names tasks by the client's ids (c1, ...), which also name the bundle:
    // <state>/io.containerd.runtime.v2.task/<namespace>/<id>.
    static const std::regex task_dir("io\\.containerd\\.runtime\\.v2\\.task/[^/]+/([^/]+)");
    std::set<std::string> ids;
    std::smatch m;
    for (auto& a : call.args)
        if (std::regex_search(a, m, task_dir)) ids.insert(m[1]);
    std::string s = "RUNTIME";
    for (auto& a : call.args) s += " " + (ids.count(a) ? "<ID>" : a);
    s = replace_all(s, tmp, "<TMP>");
    for (auto& [from, to] : words) s = replace_all(s, from, to);
    static const std::vector<std::pair<std::regex, std::string>> rules = {
        {std::regex("[0-9a-f]{64}"), "<ID>"},
        {std::regex("(io\\.containerd\\.runtime\\.v2\\.task/[^/]+)/[^/ ]+"), "$1/<ID>"},
        {std::regex("<ID>/(?!init\\.pid)[^/ ]+\\.pid"), "<ID>/<EXEC-ID>.pid"},
        {std::regex("/(runc-process|podman|pty|exec-process-)[0-9]+"), "/$1<N>"},
        {std::regex("conmon-term\\.[A-Za-z0-9]+"), "conmon-term.<X>"},
    };
    for (auto& [re, with] : rules) s = std::regex_replace(s, re, with);
    return s;
}

// ---- processes, mounts, the pty ----

std::vector<std::string> processes_mentioning(const std::string& needle) {
    std::vector<std::string> found;
    for (auto& e : fs::directory_iterator("/proc")) {
        std::string name = e.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        if (std::stoi(name) == getpid() || !process_alive(std::stoi(name))) continue;
        std::string cmd = read_file(e.path() / "cmdline");
        for (auto& ch : cmd)
            if (ch == '\0') ch = ' ';
        if (cmd.find(needle) != std::string::npos) found.push_back(name + ": " + cmd);
    }
    return found;
}

std::vector<std::string> mounts_below(const std::string& dir) {
    std::vector<std::string> found;
    std::istringstream is(read_file("/proc/self/mountinfo"));
    std::string line;
    while (std::getline(is, line)) {
        std::istringstream ls(line);
        std::string f[5];
        for (auto& x : f) ls >> x;
        if (f[4].rfind(dir + "/", 0) == 0) found.push_back(f[4]);
    }
    return found;
}

std::string cgroup_file(int pid, const std::string& controller, const std::string& file_v1,
                        const std::string& file_v2) {
    // Mount points: a v1 hierarchy per controller set, and the cgroup2 one.
    std::map<std::string, std::string> v1_mount;
    std::string v2_mount;
    std::istringstream mi(read_file("/proc/self/mountinfo"));
    std::string line;
    while (std::getline(mi, line)) {
        auto dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        std::istringstream pre(line.substr(0, dash)), post(line.substr(dash + 3));
        std::string f[5], type, source, options;
        for (auto& x : f) pre >> x;
        post >> type >> source >> options;
        if (type == "cgroup2") v2_mount = f[4];
        if (type != "cgroup") continue;
        std::istringstream os(options);
        for (std::string o; std::getline(os, o, ',');) v1_mount[o] = f[4];
    }
    std::istringstream cg(read_file("/proc/" + std::to_string(pid) + "/cgroup"));
    std::string v2_path;
    while (std::getline(cg, line)) {
        auto a = line.find(':'), b = line.find(':', a + 1);
        if (a == std::string::npos || b == std::string::npos) continue;
        std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
        if (controllers.empty()) v2_path = path;
        std::istringstream cs(controllers);
        for (std::string c; std::getline(cs, c, ',');)
            if (c == controller && v1_mount.count(c)) return v1_mount[c] + path + "/" + file_v1;
    }
    return v2_mount + v2_path + "/" + file_v2;
}

std::string shell_quote(const std::string& word) {
    return "'" + replace_all(word, "'", "'\\''") + "'";
}

Output run_on_pty(const std::string& command, int timeout_ms) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) return {};
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        setpgid(0, 0);
        const char* argv[] = {"/usr/bin/script", "-qec", command.c_str(), "/dev/null", nullptr};
        execve(argv[0], const_cast<char**>(argv), environ);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    Output o;
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    pollfd fds[2] = {{out[0], POLLIN, 0}, {pidfd, POLLIN, 0}};
    int64_t deadline = now_ms() + timeout_ms;
    bool killed = false;
    char buf[4096];
    for (;;) {
        int left = static_cast<int>(deadline - now_ms());
        if (left <= 0) {
            kill(-pid, SIGKILL);
            killed = true;
            break;
        }
        if (poll(fds, 2, left) <= 0) continue;
        if (fds[0].fd >= 0 && (fds[0].revents & (POLLIN | POLLHUP))) {
            ssize_t n = read(out[0], buf, sizeof buf);
            if (n > 0)
                o.out.append(buf, static_cast<size_t>(n));
            else
                fds[0].fd = -1;
        }
        if (fds[1].revents & POLLIN) break;
    }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;)
        o.out.append(buf, static_cast<size_t>(n));
    close(in[1]);
    close(out[0]);
    close(pidfd);
    int status = 0;
    waitpid(pid, &status, 0);
    o.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (killed) o.err = "[test harness: killed after timeout]";
    return o;
}

// ---- the test base ----

void ClientTest::SetUp() {
    if (!have_root())
        GTEST_SKIP() << "skipped: client tests need root (podman and containerd as root)";
    if (!executable("/usr/bin/script"))
        GTEST_SKIP()
            << "skipped: script(1) is missing (scripts/install-clients installs util-linux)";
    if (access((image_dir() + "/oci-archive.tar").c_str(), R_OK) != 0)
        GTEST_SKIP() << "skipped: image fixture " << image_dir()
                     << " is missing (run scripts/make-image-fixtures)";
    runtime_ = std::make_unique<RecordingRuntime>(tmp() + "/runtime");
}

Output ClientTest::client(const std::vector<std::string>& argv, int timeout_ms,
                          const std::vector<std::string>& env, const std::string& input) {
    std::string line;
    for (auto& a : argv) line += (line.empty() ? "" : " ") + a;
    std::cout << "$ " << line << "\n";
    Output o = run_program(argv, input, timeout_ms, {}, env);
    std::cout << o.out << o.err << "[exit " << o.code << "]\n";
    return o;
}

void ClientTest::allow_failure(std::function<bool(const RuntimeCall&)> expected) {
    allowed_failures_.push_back(std::move(expected));
}

void ClientTest::wait_for_calls(int timeout_ms) {
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        bool pending = false;
        for (auto& c : runtime_->calls()) pending |= c.exit_code < 0;
        if (!pending || now_ms() > deadline) return;
        usleep(100 * 1000);
    }
}

std::string ClientTest::diagnostics() const {
    if (!runtime_) return "";
    std::string d = "---- runtime calls (" + runtime_->path() + ") ----\n" + runtime_->raw_log();
    for (auto& c : runtime_->calls())
        if (!c.log_bytes.empty())
            d += "---- kapsel --log " + c.log_file + " (call " + c.pid + ") ----\n" + c.log_bytes;
    return d + extra_diagnostics();
}

static bool valid_log_line(const std::string& line) {
    json j = json::parse(line, nullptr, false);
    return j.is_object() && j.contains("level") && j["level"].is_string() && j.contains("msg") &&
           j["msg"].is_string() && j.contains("time") && j["time"].is_string();
}

void ClientTest::TearDown() {
    if (!runtime_ || !ready_) return;
    client_cleanup();
    wait_for_calls();
    auto calls = runtime_->calls();
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::cout << "==== " << calls.size() << " runtime calls in " << info->test_suite_name() << "."
              << info->name() << " (caller: exit code: argv) ====\n";
    std::set<std::string> patterns;
    for (auto& c : calls) {
        std::cout << "  [" << c.caller << "] exit " << c.exit_code << ": kapsel";
        for (auto& a : c.args) std::cout << " " << a;
        std::cout << "\n";
        patterns.insert(c.caller + ": " + argv_pattern(c, tmp(), pattern_words_));
    }
    std::cout << "==== distinct argv patterns ====\n";
    for (auto& p : patterns) std::cout << "  " << p << "\n";

    for (auto& c : calls) {
        bool allowed = false;
        for (auto& f : allowed_failures_) allowed |= f(c);
        if (!allowed) {
            EXPECT_EQ(0, c.exit_code)
                << "[" << c.caller << "] " << argv_pattern(c, tmp(), pattern_words_);
        }
        // podman and containerd read the --log file as runc's JSON lines.
        std::istringstream is(c.log_bytes);
        std::string line;
        while (std::getline(is, line)) {
            EXPECT_TRUE(valid_log_line(line))
                << "not a JSON log line in " << c.log_file << ": " << line;
        }
    }
    // conmon and shims exit shortly after their container (and conmon's exit command may
    // still run the client's cleanup); give them a moment before looking at mounts.
    auto procs = processes_mentioning(tmp());
    for (int64_t deadline = now_ms() + 10000; !procs.empty() && now_ms() < deadline;) {
        usleep(100 * 1000);
        procs = processes_mentioning(tmp());
    }
    EXPECT_TRUE(procs.empty()) << "processes left behind: " << procs.front();
    release_client_mounts();
    auto left = mounts_below(tmp());
    EXPECT_TRUE(left.empty()) << "mounts left below " << tmp() << ": " << left.front();
    if (HasFailure())
        ADD_FAILURE() << "client's runtime calls and kapsel's logs:\n" << diagnostics();
}

}  // namespace kapsel::test
