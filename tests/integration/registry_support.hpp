// What the registry tests share: Debian's docker-registry and
// tests/integration/fake_registry.py as servers on the loopback interface, and a test
// fixture with a store per number and the busybox image fixture.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness.hpp"

namespace kapsel::test {

namespace sfs = std::filesystem;

inline std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

inline void write_text(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary);
    f << text;
}

inline void sleep_ms(int ms) {
    timespec t{ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, nullptr);
}

inline std::string source_dir() {
    if (const char* p = std::getenv("KAPSEL_SOURCE_DIR")) return p;
    return KAPSEL_TEST_SOURCE_DIR;
}

inline std::string image_fixture() {
    if (const char* p = std::getenv("KAPSEL_IMAGE_FIXTURES")) return p;
    return KAPSEL_TEST_IMAGES;
}

inline bool executable(const std::string& p) {
    return access(p.c_str(), X_OK) == 0;
}

// A free TCP port on 127.0.0.1 (the kernel's choice; closed again at once).
inline int free_port() {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
    close(s);
    return ntohs(a.sin_port);
}

// The status of GET path on 127.0.0.1:port, or -1 when nothing answers.
inline int http_get_status(int port, const std::string& path) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int status = -1;
    if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        if (write(s, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
            char buf[64] = {};
            if (read(s, buf, sizeof buf - 1) > 12) status = std::atoi(buf + 9);
        }
    }
    close(s);
    return status;
}

// A server in the background, stopped and reaped when the test ends.
class Daemon {
  public:
    Daemon() = default;
    Daemon(const Daemon&) = delete;
    ~Daemon() { stop(); }
    void start(const std::vector<std::string>& argv, const std::string& log) {
        pid_ = fork();
        if (pid_ == 0) {
            int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            dup2(fd, 1);
            dup2(fd, 2);
            exec_argv(argv);
        }
    }
    bool running() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
    void stop() {
        if (pid_ <= 0) return;
        kill(pid_, SIGTERM);
        for (int i = 0; i < 50 && waitpid(pid_, nullptr, WNOHANG) == 0; ++i) sleep_ms(100);
        if (kill(pid_, SIGKILL) == 0) waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

  private:
    pid_t pid_ = -1;
};

struct RegistryConfig {
    std::string htpasswd;  // a bcrypt htpasswd file: Basic authentication
    bool tls = false;      // HTTPS with a self-signed certificate for 127.0.0.1
};

// Debian's docker-registry on 127.0.0.1 with its storage in a temporary directory.
class LocalRegistry {
  public:
    explicit LocalRegistry(const RegistryConfig& c = {}) {
        if (!executable(kBinary)) {
            why_ = std::string(kBinary) +
                   " is missing (scripts/install-deps installs docker-registry)";
            return;
        }
        port_ = free_port();
        std::string config = dir_.path() + "/config.yml";
        std::string yml =
            "version: 0.1\n"
            "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
            "storage:\n  filesystem:\n    rootdirectory: " +
            dir_.path() +
            "/data\n"
            "  delete:\n    enabled: true\n"
            "http:\n  addr: 127.0.0.1:" +
            std::to_string(port_) + "\n";
        if (c.tls) {
            std::string key = dir_.path() + "/key.pem", cert = dir_.path() + "/cert.pem";
            auto made = run_program({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048",
                                     "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                                     "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert});
            if (made.code != 0) {
                why_ = "openssl cannot make a certificate: " + made.err;
                return;
            }
            yml += "  tls:\n    certificate: " + cert + "\n    key: " + key + "\n";
        }
        if (!c.htpasswd.empty())
            yml += "auth:\n  htpasswd:\n    realm: kapsel-test\n    path: " + c.htpasswd + "\n";
        write_text(config, yml);
        daemon_.start({kBinary, "serve", config}, log());
        for (int i = 0; i < 100; ++i) {
            // Over TLS, the plain request is answered "400 Bad Request": it listens.
            int st = http_get_status(port_, "/v2/");
            if (st == 200 || st == 401 || (c.tls && st == 400)) return;
            if (!daemon_.running()) break;
            sleep_ms(100);
        }
        why_ = "docker-registry did not start: " + read_text(log());
    }
    // Empty when the registry runs; otherwise why it does not.
    const std::string& unavailable() const { return why_; }
    std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
    std::string log() const { return dir_.path() + "/registry.log"; }

  private:
    static constexpr const char* kBinary = "/usr/bin/docker-registry";
    TempDir dir_;
    Daemon daemon_;
    int port_ = 0;
    std::string why_;
};

// tests/integration/fake_registry.py serving the fixture image as busybox:latest.
class FakeRegistry {
  public:
    explicit FakeRegistry(const std::vector<std::string>& options) {
        std::string script = source_dir() + "/tests/integration/fake_registry.py";
        if (!executable("/usr/bin/python3")) {
            why_ = "python3 is missing";
            return;
        }
        std::string portfile = dir_.path() + "/port";
        std::vector<std::string> argv = {"/usr/bin/python3", script, image_fixture() + "/oci",
                                         portfile, requests()};
        argv.insert(argv.end(), options.begin(), options.end());
        daemon_.start(argv, dir_.path() + "/server.log");
        for (int i = 0; i < 100 && port_ == 0; ++i) {
            if (access(portfile.c_str(), F_OK) == 0)
                port_ = std::atoi(read_text(portfile).c_str());
            else if (!daemon_.running())
                break;
            else
                sleep_ms(50);
        }
        if (port_ == 0)
            why_ = "fake_registry.py did not start: " + read_text(dir_.path() + "/server.log");
    }
    const std::string& unavailable() const { return why_; }
    std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
    // One line per request: "GET /v2/busybox/blobs/sha256:... range=bytes=N- auth=bearer".
    std::string requests() const { return dir_.path() + "/requests.log"; }
    std::vector<std::string> request_lines() const {
        std::vector<std::string> out;
        std::istringstream in(read_text(requests()));
        for (std::string l; std::getline(in, l);) out.push_back(l);
        return out;
    }
    void set_drops(int n) { http_get_status(port_, "/control?drops=" + std::to_string(n)); }

  private:
    TempDir dir_;
    Daemon daemon_;
    int port_ = 0;
    std::string why_;
};

inline int64_t monotonic_ms() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<int64_t>(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
}

// Runs a program on a pseudo-terminal (stdin, stdout and stderr, so that kapsel draws
// its progress lines); returns what it wrote there and its exit status.
inline Output run_on_pty(const std::vector<std::string>& argv, int timeout_ms = 60000) {
    int master = -1;
    winsize ws{24, 160, 0, 0};
    pid_t pid = forkpty(&master, nullptr, nullptr, &ws);
    if (pid == 0) exec_argv(argv);
    Output o;
    int64_t deadline = monotonic_ms() + timeout_ms;
    char buf[4096];
    while (monotonic_ms() < deadline) {
        pollfd p{master, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) continue;
        ssize_t n = read(master, buf, sizeof buf);
        if (n <= 0) break;  // EIO: the program and its children closed the terminal
        o.out.append(buf, static_cast<size_t>(n));
    }
    close(master);
    if (monotonic_ms() >= deadline) kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    o.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return o;
}

#define REQUIRE_SERVER(s) \
    if (!(s).unavailable().empty()) GTEST_SKIP() << "skipped: " << (s).unavailable()

inline bool contains(const std::string& hay, const std::string& needle) {
    return hay.find(needle) != std::string::npos;
}

// One line of error output, as kapsel promises.
inline bool one_line(const std::string& s) {
    return !s.empty() && s.find('\n') == s.size() - 1;
}

class RegistryTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        // The image fixture, when the tests run outside ctest (which makes it first).
        if (access((image_fixture() + "/oci/index.json").c_str(), R_OK) != 0) {
            std::string fixtures = sfs::path(image_fixture()).parent_path();
            run_program({source_dir() + "/scripts/make-image-fixtures", kapsel_binary(), fixtures},
                        "", 300000);
        }
    }

    void SetUp() override {
        REQUIRE_ROOT();
        if (access((image_fixture() + "/oci/index.json").c_str(), R_OK) != 0)
            GTEST_SKIP() << "skipped: image fixture " << image_fixture()
                         << " is missing (scripts/make-image-fixtures)";
    }

    std::string store(int n) const { return tmp_.path() + "/store" + std::to_string(n); }

    Output kapsel(int n, const std::vector<std::string>& args, int timeout_ms = 60000) {
        std::vector<std::string> argv = {kapsel_binary(), "--storage-root", store(n)};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_program(argv, "", timeout_ms);
    }

    json images(int n) {
        auto out = kapsel(n, {"images", "--format", "json"});
        EXPECT_EQ(out.code, 0) << out.err;
        return json::parse(out.out, nullptr, false);
    }

    // The fixture image in store n; returns its id.
    std::string load_fixture(int n) {
        auto out = kapsel(n, {"load", "-q", "-i", image_fixture() + "/oci-archive.tar"});
        EXPECT_EQ(out.code, 0) << out.err;
        auto list = images(n);
        return list.is_array() && list.size() == 1 ? list[0]["id"].get<std::string>() : "";
    }

    // The fixture's config digest (its image id) and layer digest, from the layout.
    static json fixture_manifest() {
        std::string oci = image_fixture() + "/oci";
        auto index = json::parse(read_text(oci + "/index.json"));
        std::string d = index["manifests"][0]["digest"];
        return json::parse(read_text(oci + "/blobs/sha256/" + d.substr(7)));
    }

    // No image, no layer, no layer blob and nothing in tmp/: what a failed pull leaves.
    void expect_empty_store(int n, const std::string& layer_digest) {
        auto list = images(n);
        EXPECT_TRUE(list.is_array() && list.empty()) << list.dump();
        EXPECT_TRUE(sfs::is_empty(store(n) + "/layers")) << "a layer directory was left";
        EXPECT_FALSE(sfs::exists(store(n) + "/blobs/sha256/" + layer_digest.substr(7)))
            << "the bad blob was stored";
        EXPECT_TRUE(sfs::is_empty(store(n) + "/tmp")) << "something was left in tmp/";
    }

    TempDir tmp_;
};

}  // namespace kapsel::test
