// --network pasta (issue 16): a user-mode network through pasta (Debian's passt), as root
// and as an ordinary user. A published port answers on the host's loopback; the
// container reaches none of the host's own ports (neither its loopback nor through the
// gateway); when the container goes, so do pasta, the namespace and the record. All
// traffic stays on loopback and in the container's namespace.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include <chrono>
#include <fstream>
#include <thread>

#include "as_user.hpp"
#include "harness.hpp"
#include "registry_support.hpp"

namespace kapsel::test {
namespace {

using namespace std::chrono_literals;

bool has_pasta() { return access("/usr/bin/pasta", X_OK) == 0; }

// pasta processes running now (passt runs on as passt.avx2).
int pastas() {
    Output o = run_program({"/bin/sh", "-c", "pgrep -c -x 'passt|passt.avx2|pasta' || true"});
    return std::atoi(o.out.c_str());
}

bool no_pasta_within(std::chrono::milliseconds limit, int before) {
    for (auto end = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < end;
         std::this_thread::sleep_for(50ms))
        if (pastas() <= before) return true;
    return false;
}

const char* kWeb = "mkdir -p /www && echo hello from pasta > /www/index.html && exec httpd -f -p 80 -h /www";

class Pasta : public ImageStoreTest {
  protected:
    void SetUp() override {
        ImageStoreTest::SetUp();
        if (IsSkipped()) return;
        if (!has_pasta()) GTEST_SKIP() << "skipped: pasta is not installed (scripts/install-deps installs passt)";
    }
    static Output get(const std::string& url) {
        return run_program({"/bin/busybox", "wget", "-q", "-O", "-", url}, "", 10000);
    }
};

TEST_F(Pasta, APublishedPortAnswersAndTheHostsOwnPortsAreOutOfReach) {
    int before = pastas();
    int port = free_port(), hostport = free_port();
    // A server of the host's own, on its loopback only.
    TempDir site;
    { std::ofstream(site.path() + "/index.html") << "the host's\n"; }
    pid_t host_httpd = ::fork();
    if (host_httpd == 0)
        exec_argv({"/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:" + std::to_string(hostport), "-h", site.path()});
    struct Reap {
        pid_t pid;
        ~Reap() { ::kill(pid, SIGKILL); ::waitpid(pid, nullptr, 0); }
    } reap{host_httpd};

    Output run = k({"run", "-d", "--name", "pw", "--network", "pasta", "-p",
                    "127.0.0.1:" + std::to_string(port) + ":80", kImage, "sh", "-c", kWeb});
    ASSERT_EQ(0, run.code) << run.err;
    Output got;
    for (int i = 0; i < 50 && (got = get("http://127.0.0.1:" + std::to_string(port) + "/")).out.empty(); ++i)
        std::this_thread::sleep_for(100ms);
    EXPECT_EQ("hello from pasta\n", got.out);
    EXPECT_EQ("80/tcp -> 127.0.0.1:" + std::to_string(port) + "\n", k({"port", "pw"}).out);
    EXPECT_EQ("the host's\n", get("http://127.0.0.1:" + std::to_string(hostport) + "/").out) << "the host's server runs";
    std::string inside =
        "gw=$(ip route | awk '/default/ {print $3}'); "
        "timeout 3 wget -q -O - http://127.0.0.1:" + std::to_string(hostport) + "/ || echo loopback-unreachable; "
        "timeout 3 wget -q -O - http://$gw:" + std::to_string(hostport) + "/ || echo gateway-unreachable; "
        "grep nameserver /etc/resolv.conf";
    Output o = k({"exec", "pw", "sh", "-c", inside});
    EXPECT_EQ("loopback-unreachable\ngateway-unreachable\nnameserver 169.254.1.1\n", o.out) << o.err;
    EXPECT_EQ(before + 1, pastas());

    EXPECT_EQ(0, k({"rm", "-f", "pw"}).code);
    EXPECT_TRUE(no_pasta_within(3000ms, before)) << "pasta ends with its container";
    Output left = run_program({"/bin/sh", "-c", "grep -l '\"container_name\": \"pw\"' /var/lib/kapsel/networks/attachments/*.json 2>/dev/null; true"});
    EXPECT_EQ("", left.out) << "no record left";
}

TEST_F(Pasta, AnAttachedRunAndBadInput) {
    int before = pastas();
    EXPECT_EQ("eth0\n", sh("ls /sys/class/net | grep -v lo", {"--network", "pasta"}));
    EXPECT_TRUE(no_pasta_within(3000ms, before));
    Output ip = k({"run", "--rm", "--network", "pasta", "--ip", "10.0.0.5", kImage, "true"});
    EXPECT_NE(0, ip.code);
    EXPECT_EQ(1, std::count(ip.err.begin(), ip.err.end(), '\n')) << ip.err;
    EXPECT_NE(std::string::npos, ip.err.find("--ip, --mac-address and --network-alias need a bridge network")) << ip.err;
    EXPECT_TRUE(no_pasta_within(3000ms, before));
}

int slirps() {
    Output o = run_program({"/bin/sh", "-c", "pgrep -c -x slirp4netns || true"});
    return std::atoi(o.out.c_str());
}

// slirp4netns, by name or where pasta is missing: the same published port, the same
// host loopback out of reach, and it ends with the container.
TEST_F(Pasta, Slirp4netnsPublishesAndStandsInWherePastaIsMissing) {
    if (access("/usr/bin/slirp4netns", X_OK) != 0) GTEST_SKIP() << "skipped: slirp4netns is not installed";
    int before = slirps();
    int port = free_port();
    std::vector<std::string> no_pasta = {"KAPSEL_PASTA=/nonexistent/pasta"};
    Output run = k({"run", "-d", "--name", "sw", "--network", "pasta", "-p", "127.0.0.1:" + std::to_string(port) + ":80",
                    kImage, "sh", "-c", kWeb},
                   no_pasta);
    ASSERT_EQ(0, run.code) << run.err;
    Output got;
    for (int i = 0; i < 50 && (got = get("http://127.0.0.1:" + std::to_string(port) + "/")).out.empty(); ++i)
        std::this_thread::sleep_for(100ms);
    EXPECT_EQ("hello from pasta\n", got.out);
    json inspected = json::parse(k({"inspect", "sw"}).out);
    EXPECT_EQ("slirp4netns", inspected[0]["NetworkSettings"].value("Mode", "")) << "which one was used";
    EXPECT_EQ(before + 1, slirps());
    Output o = k({"exec", "sw", "sh", "-c", "timeout 3 wget -q -O - http://10.0.2.2:" + std::to_string(port) +
                                                "/ || echo host-loopback-unreachable; grep nameserver /etc/resolv.conf"});
    EXPECT_EQ("host-loopback-unreachable\nnameserver 10.0.2.3\n", o.out) << o.err;
    EXPECT_EQ(0, k({"rm", "-f", "sw"}).code);
    bool gone = false;
    for (int i = 0; i < 60 && !(gone = slirps() <= before); ++i) std::this_thread::sleep_for(50ms);
    EXPECT_TRUE(gone) << "slirp4netns ends with its container";
    EXPECT_EQ("eth0\n", sh("ls /sys/class/net | grep -v lo", {"--network", "pasta"})) << "pasta again once it is there";
}

// As a user: pasta needs /dev/net/tun, mode 0600 on this project's machines: refused in one
// line naming it; with 0666 (set for this test, restored after) a user's container
// publishes a port on the host's loopback.
TEST(PastaAsUser, NeedsTunAndThenPublishesAPort) {
    if (!have_root()) GTEST_SKIP() << "skipped: needs root to make the test user";
    if (!has_pasta()) GTEST_SKIP() << "skipped: pasta is not installed";
    struct stat tun {};
    if (::stat("/dev/net/tun", &tun) != 0) GTEST_SKIP() << "skipped: no /dev/net/tun";
    AsUser user;
    std::string store = user.make_dir("store");
    std::vector<std::string> base = {"--storage-root", store};
    auto k = [&](std::vector<std::string> args) {
        args.insert(args.begin(), base.begin(), base.end());
        return user.kapsel(args);
    };
    Output load = k({"load", "-q", "-i", std::string(KAPSEL_TEST_IMAGES) + "/docker-archive.tar"});
    ASSERT_EQ(0, load.code) << load.err;
    {
        struct Mode {
            mode_t old;
            explicit Mode(mode_t m) : old(m) { ::chmod("/dev/net/tun", 0600); }
            ~Mode() { ::chmod("/dev/net/tun", old & 07777); }
        } closed(tun.st_mode);
        Output refused = k({"run", "--rm", "--network", "pasta", "localhost/kapsel-busybox:latest", "true"});
        EXPECT_NE(0, refused.code);
        EXPECT_EQ(1, std::count(refused.err.begin(), refused.err.end(), '\n')) << refused.err;
        EXPECT_NE(std::string::npos, refused.err.find("/dev/net/tun")) << refused.err;
    }
    struct Mode {
        mode_t old;
        Mode(mode_t old_mode) : old(old_mode) { ::chmod("/dev/net/tun", 0666); }
        ~Mode() { ::chmod("/dev/net/tun", old & 07777); }
    } open_tun(tun.st_mode);
    int before = pastas();
    Output dflt = k({"run", "--rm", "localhost/kapsel-busybox:latest", "ls", "/sys/class/net"});
    EXPECT_EQ(0, dflt.code) << dflt.err;
    EXPECT_NE(std::string::npos, dflt.out.find("eth0")) << "a user's default network is pasta where it can run";
    int port = free_port();
    Output run = k({"run", "-d", "--name", "uw", "--network", "pasta", "-p", "127.0.0.1:" + std::to_string(port) + ":80",
                    "localhost/kapsel-busybox:latest", "sh", "-c", kWeb});
    ASSERT_EQ(0, run.code) << run.err;
    Output got;
    for (int i = 0; i < 50 && (got = run_program({"/bin/busybox", "wget", "-q", "-O", "-",
                                                  "http://127.0.0.1:" + std::to_string(port) + "/"},
                                                 "", 10000))
                                  .out.empty();
         ++i)
        std::this_thread::sleep_for(100ms);
    EXPECT_EQ("hello from pasta\n", got.out);
    Output owner = run_program({"/bin/sh", "-c", "ps -o user= -p $(pgrep -n -x 'passt|passt.avx2')"});
    EXPECT_NE("root\n", owner.out) << "the user's pasta is the user's";
    EXPECT_EQ(0, k({"rm", "-f", "uw"}).code);
    EXPECT_TRUE(no_pasta_within(3000ms, before));
}

}  // namespace
}  // namespace kapsel::test
