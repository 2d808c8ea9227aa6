// Integration test harness.
#include "harness.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace kapsel::test {

std::string kapsel_binary() {
    if (const char* p = std::getenv("KAPSEL_BIN")) return p;
    return KAPSEL_TEST_BINARY;
}

std::string fixture_rootfs() {
    if (const char* p = std::getenv("KAPSEL_FIXTURE_ROOTFS")) return p;
    return KAPSEL_TEST_ROOTFS;
}

bool have_root() {
    return ::geteuid() == 0;
}

bool prctl_capbset_read_resource() {
    return prctl(PR_CAPBSET_READ, 24 /*CAP_SYS_RESOURCE*/, 0, 0, 0) == 1;
}

bool process_alive(int pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto close = all.rfind(')');
    if (close == std::string::npos || close + 2 >= all.size()) return false;
    char state = all[close + 2];
    return state != 'Z' && state != 'X';
}

static int64_t now_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void exec_argv(const std::vector<std::string>& argv) {
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(127);
}

Output run_program(const std::vector<std::string>& argv, const std::string& input, int timeout_ms,
                   const std::vector<int>& pass_fds, const std::vector<std::string>& extra_env) {
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) return {};
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        // Nothing of the test's own reaches the program but what it is given: the
        // machine-wide integration-test lock (flock's fd 3) held by a container monitor
        // that outlived a failed test kept every other suite waiting.
        syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
        for (int fd : pass_fds) {
            int flags = fcntl(fd, F_GETFD);
            fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
        }
        setpgid(0, 0);
        std::vector<std::string> env;
        for (char** e = environ; *e; ++e) env.emplace_back(*e);
        for (auto& e : extra_env) env.push_back(e);
        std::vector<char*> a, envp;
        for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
        a.push_back(nullptr);
        for (auto& s : env) envp.push_back(const_cast<char*>(s.c_str()));
        envp.push_back(nullptr);
        execve(a[0], a.data(), envp.data());
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    signal(SIGPIPE, SIG_IGN);
    if (!input.empty()) (void)!write(in[1], input.data(), input.size());
    close(in[1]);
    Output o;
    // The program may leave its stdout/stderr with a process that outlives it (a
    // created container holds them), so its exit, not EOF, ends the reading.
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    pollfd fds[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {pidfd, POLLIN, 0}};
    int64_t deadline = now_ms() + timeout_ms;
    bool killed = false, exited = false;
    auto drain = [&](int i) {
        char buf[4096];
        ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
            fds[i].fd = -1;
            return false;
        }
        (i == 0 ? o.out : o.err).append(buf, static_cast<size_t>(n));
        return true;
    };
    while (!exited && (fds[0].fd >= 0 || fds[1].fd >= 0 || true)) {
        int left = static_cast<int>(deadline - now_ms());
        if (left <= 0) {
            kill(-pid, SIGKILL);
            killed = true;
            break;
        }
        if (poll(fds, 3, left) <= 0) continue;
        for (int i = 0; i < 2; ++i)
            if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP))) drain(i);
        if (fds[2].revents & POLLIN) exited = true;
    }
    for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0) continue;
        fcntl(fds[i].fd, F_SETFL, O_NONBLOCK);
        while (drain(i)) {
        }
    }
    close(pidfd);
    close(out[0]);
    close(err[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    o.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (killed) o.err += "\n[test harness: killed after timeout]";
    return o;
}

TempDir::TempDir() {
    char tmpl[] = "/tmp/kapsel-test.XXXXXX";
    path_ = mkdtemp(tmpl);
    chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() {
    // Anything a failing test left mounted below us goes first.
    std::ifstream mi("/proc/self/mountinfo");
    std::vector<std::string> mps;
    std::string line;
    while (std::getline(mi, line)) {
        std::istringstream is(line);
        std::string f[5];
        for (auto& x : f) is >> x;
        if (f[4].rfind(path_, 0) == 0) mps.push_back(f[4]);
    }
    std::sort(mps.begin(), mps.end(), [](auto& a, auto& b) { return a.size() > b.size(); });
    for (auto& m : mps) umount2(m.c_str(), MNT_DETACH);
    run_program({"/bin/rm", "-rf", "--one-file-system", path_});
}

FdListener::FdListener() : path_(dir_.path() + "/listener.sock") {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strcpy(a.sun_path, path_.c_str());
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || listen(fd_, 1) < 0)
        throw std::runtime_error("listen on " + path_);
}

FdListener::~FdListener() { close(fd_); }

int FdListener::receive(std::string* message, int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return -1;
    int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    char buf[8192];
    iovec iov{buf, sizeof buf};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    int fd = -1;
    ssize_t n = recvmsg(c, &m, MSG_CMSG_CLOEXEC);
    if (n > 0) {
        if (message) message->assign(buf, static_cast<size_t>(n));
        if (cmsghdr* h = CMSG_FIRSTHDR(&m)) std::memcpy(&fd, CMSG_DATA(h), sizeof fd);
    }
    close(c);
    return fd;
}

Bundle::Bundle(const std::string& script) {
    Output o = run_program({kapsel_binary(), "spec", "--bundle", tmp_.path()});
    if (o.code != 0) throw std::runtime_error("kapsel spec failed: " + o.err);
    std::ifstream f(tmp_.path() + "/config.json");
    config = json::parse(f);
    config["root"]["path"] = fixture_rootfs();
    config["root"]["readonly"] = true;
    config["process"]["terminal"] = false;
    set_script(script);
}

void Bundle::set_script(const std::string& script) {
    config["process"]["args"] = {"/bin/sh", "-c", script};
}

void Bundle::own_rootfs() {
    std::string dst = tmp_.path() + "/rootfs";
    Output o = run_program({"/bin/cp", "-a", fixture_rootfs(), dst});
    if (o.code != 0) throw std::runtime_error("copy rootfs: " + o.err);
    config["root"]["path"] = "rootfs";
    config["root"]["readonly"] = false;
}

std::string Bundle::rootfs() const {
    std::string p = config["root"]["path"];
    return p.front() == '/' ? p : tmp_.path() + "/" + p;
}

void Bundle::write() const {
    std::ofstream f(tmp_.path() + "/config.json", std::ios::trunc);
    f << config.dump(2);
}

void Bundle::drop_namespace(const std::string& type) {
    auto& ns = config["linux"]["namespaces"];
    for (auto it = ns.begin(); it != ns.end(); ++it)
        if ((*it)["type"] == type) {
            ns.erase(it);
            return;
        }
}

void Bundle::add_namespace(const std::string& type, const std::string& path) {
    drop_namespace(type);
    json n = {{"type", type}};
    if (!path.empty()) n["path"] = path;
    config["linux"]["namespaces"].push_back(n);
}

static std::string fixture_listing() {
    std::vector<std::string> names;
    for (auto& e : std::filesystem::directory_iterator(fixture_rootfs()))
        names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    std::string out;
    for (auto& n : names) out += n + " ";
    return out;
}

void KapselTest::SetUp() {
    if (!have_root())
        GTEST_SKIP() << "skipped: integration tests need root (namespaces, mounts, cgroups)";
    if (access(fixture_rootfs().c_str(), F_OK) != 0)
        GTEST_SKIP() << "skipped: fixture rootfs " << fixture_rootfs()
                     << " is missing (run scripts/make-fixtures)";
    fixture_before_ = fixture_listing();
}

void stop_procfs_service(const std::string& state_root) {
    // The container-aware procfs service of the test's state root (started by the first
    // container that had it) lingers after the last delete: it ends with the test, so
    // that no service outlives the root it serves.
    std::ifstream f(state_root + "/procfs/keeper.pid");
    pid_t pid = 0;
    if (!(f >> pid) || pid <= 1) return;
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) return;
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    if (std::getline(comm, name) && name == "kapsel-procfs") {
        syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, nullptr, 0);
        pollfd p{pidfd, POLLIN, 0};
        if (poll(&p, 1, 5000) != 1) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    }
    close(pidfd);
}

void KapselTest::TearDown() {
    if (!have_root()) return;
    // Delete whatever the test left running, so no container outlives its test.
    Output o = kapsel({"list", "-q"});
    std::istringstream is(o.out);
    std::string id;
    while (std::getline(is, id))
        if (!id.empty()) kapsel({"delete", "--force", id});
    stop_procfs_service(root_.path() + "/state");
    // A test that mounts at a new path must use its own rootfs copy: the mount
    // point would otherwise be created in the shared fixture.
    EXPECT_EQ(fixture_before_, fixture_listing()) << "the test changed the shared fixture rootfs";
}

Output KapselTest::kapsel(const std::vector<std::string>& args, const std::string& input,
                          int timeout_ms, const std::vector<int>& pass_fds,
                          const std::vector<std::string>& env) {
    std::vector<std::string> argv = {kapsel_binary(), "--root", root_.path() + "/state"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv, input, timeout_ms, pass_fds, env);
}

Output KapselTest::run(Bundle& b, const std::string& id, const std::vector<std::string>& extra) {
    b.write();
    std::vector<std::string> args = {"run", "--bundle", b.dir()};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(id);
    return kapsel(args);
}

json KapselTest::state(const std::string& id) {
    Output o = kapsel({"state", id});
    if (o.code != 0) return json();
    return json::parse(o.out, nullptr, false);
}

std::vector<std::string> KapselTest::cgroup_dirs(const std::string& id) {
    std::ifstream f(root_.path() + "/state/" + id + "/state.json");
    if (!f) return {};
    json j = json::parse(f, nullptr, false);
    if (j.is_discarded()) return {};
    return j.value("cgroup_dirs", std::vector<std::string>{});
}

void KapselTest::expect_nothing_left(const std::string& id, const Bundle& b) {
    struct stat st;
    EXPECT_NE(0, stat((root_.path() + "/state/" + id).c_str(), &st))
        << "state directory left behind";
    Output found = run_program(
        {"/usr/bin/find", "/sys/fs/cgroup", "-maxdepth", "4", "-type", "d", "-name", id});
    EXPECT_EQ("", found.out) << "cgroup left behind";
    std::ifstream mi("/proc/self/mountinfo");
    std::string line;
    while (std::getline(mi, line))
        EXPECT_EQ(std::string::npos, line.find(b.dir())) << "mount left behind: " << line;
    // No live process may still run from the bundle (its cwd or root there).
    for (auto& e : std::filesystem::directory_iterator("/proc")) {
        std::string name = e.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::error_code ec;
        auto root = std::filesystem::read_symlink(e.path() / "root", ec).string();
        auto cwd = std::filesystem::read_symlink(e.path() / "cwd", ec).string();
        if (!process_alive(std::stoi(name))) continue;
        bool own_rootfs = b.rootfs() != fixture_rootfs();
        EXPECT_TRUE(root.rfind(b.dir(), 0) != 0 && cwd.rfind(b.dir(), 0) != 0 &&
                    (!own_rootfs || root.rfind(b.rootfs(), 0) != 0))
            << "process " << name << " left behind";
    }
}

void ImageStoreTest::SetUp() {
    KapselTest::SetUp();
    REQUIRE_ROOT();
    load_image(store());
}

void ImageStoreTest::TearDown() {
    // A failed test must not leave monitors and mounts behind for the next one.
    if (have_root() && std::filesystem::exists(store())) {
        std::istringstream ids(k({"ps", "-aq"}).out);
        for (std::string id; std::getline(ids, id);)
            if (!id.empty()) k({"rm", "-f", id});
    }
    KapselTest::TearDown();
}

void ImageStoreTest::load_image(const std::string& at) {
    Output o = kapsel({"--storage-root", at, "load", "-q", "-i",
                       std::string(KAPSEL_TEST_IMAGES) + "/docker-archive.tar"});
    ASSERT_EQ(0, o.code) << o.err;
}

Output ImageStoreTest::k(const std::vector<std::string>& args, const std::vector<std::string>& env,
                         const std::string& at) {
    std::vector<std::string> a = {"--storage-root", at.empty() ? store() : at};
    a.insert(a.end(), args.begin(), args.end());
    return kapsel(a, "", 60000, {}, env);
}

std::string ImageStoreTest::sh(const std::string& script, const std::vector<std::string>& opts) {
    std::vector<std::string> a = {"run", "--rm"};
    a.insert(a.end(), opts.begin(), opts.end());
    a.insert(a.end(), {kImage, "sh", "-c", script});
    Output o = k(a);
    EXPECT_EQ(0, o.code) << script << ": " << o.err;
    return o.out;
}

json ImageStoreTest::containers() { return json::parse(k({"ps", "-a", "--format", "json"}).out); }

std::string ImageStoreTest::status_of(const std::string& name_or_id) {
    for (auto& c : containers()) {
        bool named = c["Names"].is_array() && !c["Names"].empty() && c["Names"][0] == name_or_id;
        bool by_id = name_or_id.size() >= 12 &&
                     c["Id"].get<std::string>().rfind(name_or_id.substr(0, 12), 0) == 0;
        if (named || by_id) return c["State"];
    }
    return "(none)";
}

bool ImageStoreTest::wait_for_status(const std::string& name_or_id, const std::string& status,
                                     std::chrono::milliseconds limit) {
    for (auto until = std::chrono::steady_clock::now() + limit;
         std::chrono::steady_clock::now() < until;) {
        if (status_of(name_or_id).rfind(status, 0) == 0) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

}  // namespace kapsel::test
