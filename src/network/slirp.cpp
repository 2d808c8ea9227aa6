// See slirp.hpp.
#include "network/slirp.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/proc.hpp"

extern char** environ;

namespace kapsel::network {
namespace {

std::string pid_file_of(const std::string& netns) { return netns + ".slirp.pid"; }
std::string socket_of(const std::string& netns) { return netns + ".slirp.sock"; }

// One request on slirp4netns's API socket; its answer ({"return": ...} or {"error": ...}).
Result<nlohmann::json> api_call(const std::string& socket_path, const std::string& request) {
    unique_fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s) return sys_error("socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof addr.sun_path) return make_error("slirp4netns: socket path too long: " + socket_path);
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
        return sys_error("connect " + socket_path);
    KAPSEL_TRY(fs::write_all(s.get(), request, socket_path));
    ::shutdown(s.get(), SHUT_WR);
    std::string reply;
    char buf[4096];
    for (;;) {
        pollfd p{s.get(), POLLIN, 0};
        if (::poll(&p, 1, 5000) <= 0) return make_error("slirp4netns: no answer on " + socket_path);
        ssize_t r = ::read(s.get(), buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        reply.append(buf, static_cast<size_t>(r));
        if (reply.size() > 65536) return make_error("slirp4netns: answer too large");
    }
    auto j = nlohmann::json::parse(reply, nullptr, false);
    if (!j.is_object()) return make_error("slirp4netns: not a JSON object: " + reply.substr(0, 200));
    return j;
}

}  // namespace

std::vector<std::string> slirp_args(const std::string& netns, const std::string& api_socket) {
    return {"--configure", "--mtu=65520", "--disable-host-loopback", "--enable-sandbox", "--enable-seccomp",
            "--netns-type=path", "--api-socket", api_socket, "--ready-fd", "3", netns, "tap0"};
}

std::string slirp_hostfwd_request(const std::string& protocol, const std::string& host_ip, uint16_t host_port,
                                  uint16_t container_port) {
    nlohmann::json args = {{"proto", protocol},
                           {"host_addr", host_ip.empty() ? "0.0.0.0" : host_ip},
                           {"host_port", host_port},
                           {"guest_port", container_port}};
    return nlohmann::json{{"execute", "add_hostfwd"}, {"arguments", args}}.dump();
}

Result<std::string> find_slirp4netns() {
    if (const char* env = std::getenv("KAPSEL_SLIRP4NETNS"); env && *env) {
        if (::access(env, X_OK) != 0) return sys_error(std::string("KAPSEL_SLIRP4NETNS: run ") + env);
        return std::string(env);
    }
    if (::access("/usr/bin/slirp4netns", X_OK) == 0) return std::string("/usr/bin/slirp4netns");
    return make_error("neither pasta nor slirp4netns is installed (apt install passt), which a user-mode "
                      "network needs");
}

Status start_slirp4netns(const std::string& program, const std::string& netns, const std::vector<PortMapping>& ports) {
    std::string sock = socket_of(netns);
    ::unlink(sock.c_str());
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) < 0) return sys_error("pipe for slirp4netns");
    unique_fd ready_rd(ready[0]), ready_wr(ready[1]);
    std::vector<std::string> argv = {program};
    for (auto& a : slirp_args(netns, sock)) argv.push_back(a);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    int pidpipe[2];
    if (::pipe2(pidpipe, O_CLOEXEC) < 0) return sys_error("pipe for slirp4netns");
    unique_fd pid_rd(pidpipe[0]), pid_wr(pidpipe[1]);
    // Twice forked: slirp4netns runs on after the container's start, and its parent is
    // init (which reaps it), not a kapsel that ends or a monitor that would not; so kapsel
    // is no child subreaper while its middle process ends.
    int subreaper = 0;
    ::prctl(PR_GET_CHILD_SUBREAPER, &subreaper);
    if (subreaper) ::prctl(PR_SET_CHILD_SUBREAPER, 0);
    pid_t middle = ::fork();
    if (middle < 0) {
        if (subreaper) ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        return sys_error("fork for slirp4netns");
    }
    if (middle == 0) {
        ::setsid();
        pid_t child = ::fork();
        if (child != 0) {
            (void)!::write(pid_wr.get(), &child, sizeof child);
            ::_exit(child < 0 ? 1 : 0);
        }
        int null = ::open("/dev/null", O_RDWR);
        if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(null, 1) < 0 || ::dup2(null, 2) < 0 ||
            ::dup2(ready_wr.get(), 3) < 0)
            ::_exit(127);
        ::close_range(4, ~0U, 0);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) ::signal(sig, SIG_DFL);
        ::execve(program.c_str(), args.data(), environ);
        ::_exit(127);
    }
    ready_wr.reset();
    pid_wr.reset();
    int status = 0;
    while (::waitpid(middle, &status, 0) < 0 && errno == EINTR) {
    }
    if (subreaper) ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    pid_t pid = 0;
    if (::read(pid_rd.get(), &pid, sizeof pid) != sizeof pid || pid <= 0)
        return make_error("slirp4netns: could not start " + program);
    auto stop = [&](Error e) -> Error {
        ::kill(pid, SIGKILL);
        ::unlink(sock.c_str());
        return e;
    };
    KAPSEL_TRY_CTX(fs::write_file_atomic(pid_file_of(netns), std::to_string(pid) + "\n", 0600), "slirp4netns");
    // Ready: it writes "1" to fd 3 once tap0 is configured; EOF means it died.
    pollfd p{ready_rd.get(), POLLIN, 0};
    char c = 0;
    if (::poll(&p, 1, 10000) <= 0 || ::read(ready_rd.get(), &c, 1) != 1 || c != '1')
        return stop(make_error("slirp4netns did not configure the container's network (" + program + ")"));
    for (auto& m : ports)
        for (unsigned i = 0; i < m.range; ++i) {
            auto reply = api_call(sock, slirp_hostfwd_request(m.protocol, m.host_ip, static_cast<uint16_t>(m.host_port + i),
                                                              static_cast<uint16_t>(m.container_port + i)));
            if (!reply) return stop(reply.error());
            if (reply->contains("error"))
                return stop(make_error("slirp4netns: publish port " + std::to_string(m.host_port + i) + ": " +
                                       reply->dump()));
        }
    return {};
}

void stop_slirp4netns(const std::string& netns) {
    std::string pid_file = pid_file_of(netns);
    auto text = fs::read_file(pid_file);
    ::unlink(pid_file.c_str());
    ::unlink(socket_of(netns).c_str());
    if (!text) return;
    pid_t pid = static_cast<pid_t>(std::atoi(text->c_str()));
    auto program = find_slirp4netns();
    struct stat bin {};
    if (program && ::stat(program->c_str(), &bin) == 0 && process_runs(pid, bin)) ::kill(pid, SIGTERM);
}

}  // namespace kapsel::network
