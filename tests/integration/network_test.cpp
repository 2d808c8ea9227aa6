// Bridge networks for `kapsel run` (issue 15), through netavark and aardvark-dns on the real
// kernel: a published port answers from the host's loopback, containers on one network reach
// each other by name and alias, two networks are apart, an internal one has no way out, and
// whatever ends (rm, --rm, a killed monitor, a failed run) leaves no interface, namespace,
// firewall rule or address behind. All traffic stays on loopback and in the namespaces and
// bridges the tests make.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "harness.hpp"
#include "registry_support.hpp"

namespace kapsel::test {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> split_on(const std::string& text, const std::string& sep) {
    std::vector<std::string> out;
    size_t at = 0;
    for (size_t next; (next = text.find(sep, at)) != std::string::npos; at = next + sep.size())
        out.push_back(text.substr(at, next - at));
    out.push_back(text.substr(at));
    return out;
}

bool has_netavark() {
    return access("/usr/lib/podman/netavark", X_OK) == 0 || access("/usr/libexec/podman/netavark", X_OK) == 0;
}

// The host's network state that a container's network adds to: interfaces, the firewall
// rules (iptables-save without its counters and comment lines), kapsel's attachments.
std::string host_network_state(const std::string& attachments_dir) {
    std::string out;
    Output links = run_program({"/bin/sh", "-c", "ip -o link show | sed 's/^[0-9]*: //; s/@[^:]*:/:/' | cut -d: -f1 | sort"});
    out += "links:\n" + links.out;
    for (const char* table : {"filter", "nat"}) {
        Output rules = run_program({"/bin/sh", "-c", std::string("iptables-save -t ") + table +
                                                         " | grep -v '^#' | sed 's/\\[[0-9:]*\\]//' | sort"});
        out += std::string(table) + ":\n" + rules.out;
    }
    Output att = run_program({"/bin/sh", "-c", "ls " + attachments_dir + " 2>/dev/null"});
    out += "attachments:\n" + att.out;
    // aardvark-dns's records (names and addresses): none may stay for a container gone.
    Output dns = run_program({"/bin/sh", "-c", "cd " + attachments_dir + "/../netavark/aardvark-dns 2>/dev/null && "
                                               "for f in *; do [ \"$f\" = aardvark.pid ] || cat \"$f\"; done"});
    out += "dns:\n" + dns.out;
    return out;
}

class Network : public ImageStoreTest {
  protected:
    void SetUp() override {
        ImageStoreTest::SetUp();
        if (IsSkipped()) return;
        if (!has_netavark()) GTEST_SKIP() << "skipped: netavark is not installed (scripts/install-deps installs it)";
        // netavark's own chains (its isolation jump in FORWARD among them) come with the
        // first container and are not always taken away with the last: one container
        // first, so that every test's "before" has them. Then no spare namespace of an
        // earlier test: each test's "before" is the host without.
        sh("true");
        ASSERT_EQ(0, k({"system", "prune"}).code);
    }
    void TearDown() override {
        // The containers first: a network in use cannot be removed.
        json all = containers();
        if (all.is_array())
            for (auto& c : all)
                if (c.is_object()) k({"rm", "-f", c.value("Id", c.value("ID", ""))});
        for (auto& n : networks_) k({"network", "rm", n});
        ImageStoreTest::TearDown();
    }
    // A network of the test's own, removed at the end.
    void make_network(const std::string& name, const std::vector<std::string>& opts = {}) {
        std::vector<std::string> a = {"network", "create"};
        a.insert(a.end(), opts.begin(), opts.end());
        a.push_back(name);
        Output o = k(a);
        ASSERT_EQ(0, o.code) << o.err;
        networks_.push_back(name);
    }
    std::string attachments_dir() const { return "/var/lib/kapsel/networks/attachments"; }
    // The container's id (run -d prints it).
    std::string run_d(const std::vector<std::string>& args) {
        std::vector<std::string> a = {"run", "-d"};
        a.insert(a.end(), args.begin(), args.end());
        Output o = k(a);
        EXPECT_EQ(0, o.code) << o.err;
        return std::string(o.out.substr(0, o.out.find('\n')));
    }
    json inspect(const std::string& name) {
        Output o = k({"inspect", name});
        EXPECT_EQ(0, o.code) << o.err;
        auto j = json::parse(o.out, nullptr, false);
        return j.is_array() && !j.empty() ? j[0] : j;
    }
    std::string ip_of(const std::string& name) {
        return inspect(name)["NetworkSettings"].value("IPAddress", "");
    }
    // GET / on 127.0.0.1:port from the host, with busybox's wget.
    static Output get(int port) {
        // (busybox 1.35's wget crashes with -T: the harness's timeout bounds it instead.)
        return run_program({"/bin/busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:" + std::to_string(port) + "/"},
                           "", 10000);
    }
    // An httpd serving "hello from NAME" in a container.
    std::string web(const std::string& name, const std::vector<std::string>& opts = {}) {
        std::vector<std::string> a = {"--name", name};
        a.insert(a.end(), opts.begin(), opts.end());
        a.insert(a.end(), {kImage, "sh", "-c",
                           "mkdir -p /www && echo hello from " + name + " > /www/index.html && exec httpd -f -p 80 -h /www"});
        return run_d(a);
    }
    std::vector<std::string> networks_;
};

TEST_F(Network, APublishedPortAnswersFromTheHostsLoopback) {
    int port = free_port();
    web("web", {"-p", "127.0.0.1:" + std::to_string(port) + ":80"});
    Output got;
    for (int i = 0; i < 50 && (got = get(port)).out.empty(); ++i) std::this_thread::sleep_for(100ms);
    EXPECT_EQ("hello from web\n", got.out) << got.err << "; its log: " << k({"logs", "web"}).out
                                           << k({"ps", "-a"}).out;
    Output ports = k({"port", "web"});
    EXPECT_EQ("80/tcp -> 127.0.0.1:" + std::to_string(port) + "\n", ports.out) << ports.err;
    json settings = inspect("web")["NetworkSettings"];
    EXPECT_TRUE(settings["Networks"].contains("kapsel")) << settings.dump();
    EXPECT_TRUE(std::regex_match(settings.value("IPAddress", ""), std::regex(R"(\d+\.\d+\.\d+\.\d+)"))) << settings.dump();
    EXPECT_EQ(std::to_string(port), settings["Ports"]["80/tcp"][0].value("HostPort", "")) << settings.dump();
    // The container's own view: its address, the generated /etc files (bound, not written
    // into its layer).
    std::string inside = sh("cat /etc/hostname; grep -c box /etc/hosts; grep -c nameserver /etc/resolv.conf",
                            {"--hostname", "box"});
    EXPECT_EQ("box\n1\n1\n", inside);
    // As podman sets it in a namespace of the container's own: ICMP sockets for root's group.
    EXPECT_EQ("0\t0\n", sh("cat /proc/sys/net/ipv4/ping_group_range"));
    EXPECT_EQ(0, k({"rm", "-f", "web"}).code);
    EXPECT_NE(0, get(port).code) << "nothing answers once it is gone";
}

TEST_F(Network, ContainersOnOneNetworkReachEachOtherByNameAndAlias) {
    make_network("ktest-front");
    web("db", {"--network", "ktest-front", "--network-alias", "database"});
    std::string by_name = sh("for i in 1 2 3 4 5 6 7 8 9 10; do timeout 3 wget -q -O - http://db/ && break; sleep 0.2; done",
                             {"--network", "ktest-front"});
    EXPECT_EQ("hello from db\n", by_name);
    std::string by_alias = sh("timeout 3 wget -q -O - http://database/", {"--network", "ktest-front"});
    EXPECT_EQ("hello from db\n", by_alias);
    // Its generated files say so too.
    std::string hosts = sh("cat /etc/hosts /etc/resolv.conf", {"--network", "ktest-front", "--name", "client",
                                                               "--add-host", "extra.example:192.0.2.7", "--dns-search", "corp.example"});
    EXPECT_NE(std::string::npos, hosts.find("client")) << hosts;
    EXPECT_NE(std::string::npos, hosts.find("192.0.2.7\textra.example")) << hosts;
    EXPECT_NE(std::string::npos, hosts.find("search corp.example")) << hosts;
}

TEST_F(Network, PublishAllPublishesTheImagesExposedPortsOnFreeHostPorts) {
    std::string archive = std::string(KAPSEL_TEST_IMAGES) + "/../busybox-expose/oci-archive.tar";
    ASSERT_EQ(0, access(archive.c_str(), R_OK)) << archive << " (scripts/make-image-fixtures)";
    ASSERT_EQ(0, k({"load", "-q", "-i", archive}).code);
    run_d({"--name", "exposed", "-P", "localhost/kapsel-busybox-expose:latest", "sh", "-c",
           "mkdir -p /www && echo exposed > /www/index.html && exec httpd -f -p 80 -h /www"});
    Output ports = k({"port", "exposed"});
    ASSERT_EQ(0, ports.code) << ports.err;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(ports.out, m, std::regex(R"(80/tcp -> 0\.0\.0\.0:(\d+)\n)"))) << ports.out;
    int port = std::stoi(m[1]);
    EXPECT_TRUE(std::regex_search(ports.out, std::regex(R"(8053/udp -> 0\.0\.0\.0:\d+\n)"))) << ports.out;
    Output got;
    for (int i = 0; i < 50 && (got = get(port)).out.empty(); ++i) std::this_thread::sleep_for(100ms);
    EXPECT_EQ("exposed\n", got.out);
    EXPECT_EQ("0.0.0.0:" + std::to_string(port) + "\n", k({"port", "exposed", "80"}).out);
}

TEST_F(Network, TwoNetworksCannotReachEachOther) {
    make_network("ktest-a");
    make_network("ktest-b");
    web("a1", {"--network", "ktest-a"});
    std::string a_ip = ip_of("a1");
    ASSERT_FALSE(a_ip.empty());
    // From its own network it answers; from the other one neither the address nor the
    // name does.
    EXPECT_EQ("hello from a1\n",
              sh("for i in 1 2 3 4 5 6 7 8 9 10; do timeout 3 wget -q -O - http://" + a_ip + "/ && break; sleep 0.2; done",
                 {"--network", "ktest-a"}));
    Output other = k({"run", "--rm", "--network", "ktest-b", kImage, "sh", "-c",
                      "timeout 3 wget -q -O - http://" + a_ip + "/ || echo unreachable; timeout 3 wget -q -O - http://a1/ || echo unknown"});
    EXPECT_EQ("unreachable\nunknown\n", other.out) << other.err;
}

// netavark 1.4 takes its isolation jump away with the last container of any network; the
// networks still in use must stay apart all the same.
TEST_F(Network, NetworksStayApartAfterAnotherNetworksLastContainerGoes) {
    make_network("ktest-sa");
    make_network("ktest-sb");
    make_network("ktest-sc");
    web("wa", {"--network", "ktest-sa"});
    run_d({"--name", "wb", "--network", "ktest-sb", kImage, "sleep", "600"});
    std::string url = "http://" + ip_of("wa") + "/";
    std::string probe = "timeout 3 wget -q -O - " + url + " || echo apart";
    EXPECT_EQ("apart\n", k({"exec", "wb", "sh", "-c", probe}).out);
    sh("true", {"--network", "ktest-sc"});
    EXPECT_EQ(0, k({"network", "rm", "ktest-sc"}).code);
    networks_.pop_back();
    EXPECT_EQ("apart\n", k({"exec", "wb", "sh", "-c", probe}).out) << "still apart once ktest-sc went";
    EXPECT_EQ(0, k({"rm", "-f", "wb"}).code);
    EXPECT_EQ("apart\n", sh(probe, {"--network", "ktest-sb", "--name", "wb2"})) << "and after wb went";
}

TEST_F(Network, AnInternalNetworkHasNoRouteOut) {
    make_network("ktest-internal", {"--internal"});
    std::string routes = sh("ip route", {"--network", "ktest-internal"});
    EXPECT_EQ(std::string::npos, routes.find("default")) << routes;
    std::string normal = sh("ip route");
    EXPECT_NE(std::string::npos, normal.find("default")) << normal;
}

TEST_F(Network, AContainerJoinsAnothersNetworkByName) {
    web("base");
    std::string ip = ip_of("base");
    ASSERT_FALSE(ip.empty());
    // The same namespace: its address, its server on localhost, its /etc/hosts.
    std::string out = sh("ip -4 -o addr show eth0 | awk '{print $4}'; "
                         "for i in 1 2 3 4 5 6 7 8 9 10; do timeout 3 wget -q -O - http://127.0.0.1/ && break; sleep 0.2; done; "
                         "grep -c base /etc/hosts",
                         {"--network", "container:base"});
    EXPECT_EQ(ip, out.substr(0, out.find('/'))) << out;
    EXPECT_NE(std::string::npos, out.find("hello from base\n1\n")) << out;
    Output gone = k({"run", "--rm", "--network", "container:nosuch", kImage, "true"});
    EXPECT_NE(0, gone.code);
    EXPECT_NE(std::string::npos, gone.err.find("nosuch")) << gone.err;
}

TEST_F(Network, TwoConcurrentRunsNeverGetTheSameAddress) {
    std::vector<std::thread> runs;
    std::vector<std::string> ips(6);
    for (int i = 0; i < 6; ++i)
        runs.emplace_back([&, i] {
            Output o = k({"run", "--rm", kImage, "sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'"});
            ips[size_t(i)] = o.out;
        });
    for (auto& t : runs) t.join();
    std::vector<std::string> sorted = ips;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted.end(), std::adjacent_find(sorted.begin(), sorted.end())) << "an address twice";
    for (auto& ip : ips) EXPECT_FALSE(ip.empty());
}

TEST_F(Network, AHundredRunsLeaveTheHostsNetworkAsBefore) {
    sh("true");  // netavark's own chains exist from the first container on, for good
    std::string before = host_network_state(attachments_dir());
    for (int i = 0; i < 100; ++i) {
        Output o = k({"run", "--rm", "-p", "127.0.0.1::80", kImage, "true"});
        ASSERT_EQ(0, o.code) << "run " << i << ": " << o.err;
    }
    EXPECT_EQ(before, host_network_state(attachments_dir()));
}

TEST_F(Network, AKilledMonitorsNetworkIsTakenDownBySystemPrune) {
    std::string before = host_network_state(attachments_dir());
    std::string id = run_d({"--name", "orphan", kImage, "sleep", "600"});
    ASSERT_EQ(64u, id.size());
    json meta = inspect("orphan")["Container"];
    int monitor = meta["monitor"].value("pid", 0);
    ASSERT_GT(monitor, 0);
    ASSERT_EQ(0, ::kill(monitor, SIGKILL));
    // The container itself ends (killed by its runtime id), with no monitor to see it.
    EXPECT_EQ(0, kapsel({"kill", id, "KILL"}).code);
    std::this_thread::sleep_for(300ms);
    Output check = k({"system", "check"});
    EXPECT_NE(std::string::npos, check.out.find("network")) << check.out << check.err;
    Output prune = k({"system", "prune"});
    EXPECT_EQ(0, prune.code) << prune.err;
    EXPECT_NE(std::string::npos, prune.out.find("network")) << prune.out;
    EXPECT_EQ(0, k({"rm", "-f", "orphan"}).code);
    EXPECT_EQ(before, host_network_state(attachments_dir()));
}

// The server is started after the restore (exec): CRIU 4.1.1 cannot dump a TCP socket on
// this kernel (6.16 and later refuse SO_PASSCRED on it, which CRIU asks for), so what is
// checked is the network itself: the same namespace, address, name and forwarded port.
TEST_F(Network, ACheckpointedContainerComesBackWithItsAddressAndPorts) {
    const char* criu = "/opt/kapsel-criu/bin/criu";
    if (access(criu, X_OK) != 0) GTEST_SKIP() << "skipped: CRIU is missing (scripts/install-criu)";
    if (run_program({criu, "check"}).code != 0) GTEST_SKIP() << "skipped: `criu check` fails here";
    std::string before = host_network_state(attachments_dir());
    int port = free_port();
    run_d({"--name", "cweb", "-p", "127.0.0.1:" + std::to_string(port) + ":80", kImage, "sh", "-c",
           "mkdir -p /www && echo hello from cweb > /www/index.html && while true; do sleep 0.1; done"});
    std::string ip = ip_of("cweb");
    ASSERT_FALSE(ip.empty());
    Output ck = k({"checkpoint", "--image-path", root() + "/ck", "cweb"});
    ASSERT_EQ(0, ck.code) << ck.err;
    EXPECT_TRUE(wait_for_status("cweb", "checkpointed")) << status_of("cweb");
    Output rs = k({"restore", "cweb"});
    ASSERT_EQ(0, rs.code) << rs.err;
    EXPECT_EQ(ip, ip_of("cweb"));
    Output inside = k({"exec", "cweb", "sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'"});
    EXPECT_EQ(ip, inside.out.substr(0, inside.out.find('/'))) << inside.out << inside.err;
    ASSERT_EQ(0, k({"exec", "-d", "cweb", "httpd", "-f", "-p", "80", "-h", "/www"}).code);
    Output got;
    for (int i = 0; i < 50 && (got = get(port)).out.empty(); ++i) std::this_thread::sleep_for(100ms);
    EXPECT_EQ("hello from cweb\n", got.out) << "the same host port, forwarded into the restored container";
    EXPECT_EQ("hello from cweb\n", sh("timeout 3 wget -q -O - http://cweb/")) << "and its name";
    EXPECT_EQ(0, k({"rm", "-f", "cweb"}).code);
    EXPECT_EQ(0, k({"system", "prune"}).code) << "the spare the wget's namespace became";
    EXPECT_EQ(before, host_network_state(attachments_dir()));
}

// An aardvark-dns netavark lost track of (its pid file naming another process: a crash,
// a hand) stays on port 53 with stale names; the next run ends it before netavark starts
// its own, and names resolve again.
TEST_F(Network, AStrayAardvarkDnsIsEndedAndNamesResolve) {
    std::string dir = attachments_dir() + "/../netavark/aardvark-dns";
    auto running = [&] {
        Output o = run_program({"/bin/sh", "-c", "for p in $(pgrep -f 'aardvark-dns --config " + dir +
                                                     "'); do grep -q '^State:.*Z' /proc/$p/status || echo $p; done"});
        return std::count(o.out.begin(), o.out.end(), '\n');
    };
    run_d({"--name", "s0", kImage, "sleep", "600"});
    ASSERT_EQ(1, running());
    {
        std::ofstream pid(dir + "/aardvark.pid", std::ios::trunc);
        pid << "999999";
    }
    EXPECT_EQ(0, k({"rm", "-f", "s0"}).code);
    ASSERT_EQ(1, running()) << "netavark could not end it: a stray";
    run_d({"--name", "s1", kImage, "sleep", "600"});
    EXPECT_EQ(1, running()) << "one aardvark-dns, netavark's own";
    EXPECT_NE(std::string::npos, sh("nslookup s1").find("Address: " + ip_of("s1")));
    EXPECT_EQ(0, k({"rm", "-f", "s1"}).code);
}

// netavark runs under kapsel's netavark lock. A run killed while netavark is at work must
// not let the next netavark (a prune's teardown, another run's setup) in beside it: the
// lock is held until netavark itself has ended, and what it finished is then taken down.
TEST_F(Network, ANetavarkStillAtWorkForAKilledRunKeepsTheLock) {
    std::string before = host_network_state(attachments_dir());
    TempDir d;
    std::string slow = d.path() + "/netavark", started = d.path() + "/started";
    {
        std::ofstream f(slow);
        f << "#!/bin/sh\ncase \" $* \" in *' setup '*) touch " << started << "; sleep 2;; esac\n"
          << "exec /usr/lib/podman/netavark \"$@\"\n";
    }
    ASSERT_EQ(0, chmod(slow.c_str(), 0755));
    std::string lock = attachments_dir() + "/../netavark.lock";
    Output o = run_program(
        {"/bin/sh", "-c",
         "KAPSEL_NETAVARK=" + slow + " KAPSEL_AARDVARK_DNS=/usr/lib/podman/aardvark-dns " + kapsel_binary() +
             " --root " + root() + "/state --storage-root " + store() + " run -d --name late " + kImage +
             " sleep 600 & pid=$!; i=0; while [ ! -e " + started + " ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; "
             "kill -9 $pid; wait $pid; flock -n " + lock + " true && echo free || echo held"},
        "", 30000);
    EXPECT_EQ("held\n", o.out) << o.err;
    Output prune = k({"system", "prune"});
    EXPECT_EQ(0, prune.code) << prune.err;
    k({"rm", "-f", "late"});
    EXPECT_EQ(before, host_network_state(attachments_dir()));
}

// A name aardvark-dns holds for a container that has no attachment (a netavark that
// finished after the container's teardown left it) is reported by system check and
// forgotten by system prune; the names of the containers still there stay.
TEST_F(Network, AnOrphanedNameIsReportedAndForgottenByPrune) {
    make_network("ktest-dns");
    run_d({"--name", "kept", "--network", "ktest-dns", kImage, "sleep", "600"});
    std::string records = attachments_dir() + "/../netavark/aardvark-dns/ktest-dns";
    std::string ghost(64, 'e');
    {
        std::ofstream f(records, std::ios::app);
        f << ghost << " 10.90.250.250  ghost\n";
    }
    Output check = k({"system", "check"});
    EXPECT_NE(std::string::npos, check.out.find("name for container eeeeeeeeeeee")) << check.out << check.err;
    Output prune = k({"system", "prune"});
    EXPECT_EQ(0, prune.code) << prune.err;
    EXPECT_NE(std::string::npos, prune.out.find("forgot aardvark-dns's name for container eeeeeeeeeeee")) << prune.out;
    std::ifstream in(records);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(std::string::npos, text.find(ghost)) << text;
    EXPECT_NE(std::string::npos, text.find(" kept")) << text;
    EXPECT_NE(std::string::npos, sh("nslookup kept", {"--network", "ktest-dns"}).find("Address: " + ip_of("kept")));
    EXPECT_EQ(std::string::npos, k({"system", "check"}).out.find("aardvark")) << "nothing left to forget";
    EXPECT_EQ(0, k({"rm", "-f", "kept"}).code);
}

// The spare attachments (namespaces kept set up for the next container) in the host's
// network store, by their records.
int spares(const std::string& attachments_dir) {
    Output o = run_program({"/bin/sh", "-c", "cat " + attachments_dir + "/*.json 2>/dev/null | grep -c '\"spare\": true'"});
    return std::atoi(o.out.c_str());
}

// A container's namespace, set up by netavark, is kept when the container ends and serves
// the next one on that network (its address, and its own name in aardvark-dns), up to
// $KAPSEL_NETWORK_SPARES a network; never one a process with CAP_NET_ADMIN ran in, one
// with published ports, or one another container joined. system prune and network rm
// take the spares down.
TEST_F(Network, AnEndedContainersNamespaceServesTheNext) {
    std::string before = host_network_state(attachments_dir());
    ASSERT_EQ(0, spares(attachments_dir()));
    std::string first = sh("ip -4 -o addr show eth0 | awk '{print $4}'");
    EXPECT_EQ(1, spares(attachments_dir())) << "kept when it ended";
    // The next container gets it: the same address, its own name.
    EXPECT_EQ(first + "resolves\n",
              sh("ip -4 -o addr show eth0 | awk '{print $4}'; nslookup next >/dev/null && echo resolves", {"--name", "next"}));
    std::string id = run_d({"--name", "named", kImage, "sleep", "600"});
    EXPECT_EQ(0, spares(attachments_dir())) << "taken";
    EXPECT_EQ(first, inspect("named")["NetworkSettings"].value("IPAddress", "") + "/24\n");
    EXPECT_NE(std::string::npos, sh("nslookup named").find("Address: " + ip_of("named")));
    EXPECT_EQ(0, k({"rm", "-f", "named"}).code);
    EXPECT_EQ(2, spares(attachments_dir())) << "the nslookup's (set up anew) and named's";
    EXPECT_EQ(std::string::npos, sh("nslookup named 2>&1; true").find("Address: " + first.substr(0, first.find('/'))))
        << "the name went with its container";

    // Not kept: a container that may change its namespace, or that publishes a port.
    sh("true", {"--cap-add", "NET_ADMIN"});
    sh("true", {"-p", "127.0.0.1::80"});
    EXPECT_EQ(2, spares(attachments_dir())) << "neither took one nor left one";
    run_d({"--name", "execd", kImage, "sleep", "600"});
    EXPECT_EQ(1, spares(attachments_dir()));
    std::string execd = inspect("execd").value("Id", "");
    EXPECT_EQ(0, kapsel({"exec", "--cap", "CAP_NET_ADMIN", execd, "true"}).code);
    EXPECT_EQ(0, k({"rm", "-f", "execd"}).code);
    EXPECT_EQ(1, spares(attachments_dir())) << "a process with CAP_NET_ADMIN ran in it";

    // At most KAPSEL_NETWORK_SPARES a network.
    std::vector<std::string> env = {"KAPSEL_NETWORK_SPARES=1"};
    for (auto n : {"a", "b", "c"})
        ASSERT_EQ(0, k({"run", "-d", "--name", n, kImage, "sleep", "600"}, env).code);
    for (auto n : {"a", "b", "c"}) EXPECT_EQ(0, k({"rm", "-f", n}, env).code);
    EXPECT_EQ(1, spares(attachments_dir()));

    // A user network's spares do not keep it in use.
    make_network("ktest-spare");
    sh("true", {"--network", "ktest-spare"});
    EXPECT_EQ(2, spares(attachments_dir()));
    Output rm = k({"network", "rm", "ktest-spare"});
    EXPECT_EQ(0, rm.code) << rm.err;
    networks_.clear();
    EXPECT_EQ(1, spares(attachments_dir()));

    Output prune = k({"system", "prune"});
    EXPECT_NE(std::string::npos, prune.out.find("took down spare network namespace")) << prune.out;
    EXPECT_EQ(before, host_network_state(attachments_dir()));
}

// A spare that a run claimed and died with before its own record was written (what
// kapsel before the claim named its root left behind): no container's, any root's prune
// takes it down.
TEST_F(Network, ASpareAKilledRunHadClaimedIsTakenDownByPrune) {
    // netavark's own chains exist from the first container on, for good.
    sh("true");
    ASSERT_EQ(0, k({"system", "prune"}).code);
    std::string before = host_network_state(attachments_dir());
    sh("true");
    ASSERT_EQ(1, spares(attachments_dir()));
    // The claim's first step, as it was: the spare's record marked taken, with no root.
    Output marked = run_program({"/bin/sh", "-c", "cd " + attachments_dir() + " && f=$(grep -l '\"spare\": true' *.json) && "
                                                 "sed -i 's/\"spare\": true/\"spare\": false/' $f && echo $f"});
    ASSERT_EQ(0, marked.code) << marked.err;
    EXPECT_EQ(0, spares(attachments_dir()));
    Output check = k({"system", "check"});
    EXPECT_NE(std::string::npos, check.out.find("network")) << check.out;
    EXPECT_EQ(0, k({"system", "prune"}).code);
    EXPECT_EQ(before, host_network_state(attachments_dir()));
}

// Without a bridge (none, the private loopback, the host's network) a container still
// gets /etc/hosts with its own names and --add-host's, and /etc/hostname, bound over the
// image's; /etc/resolv.conf only where there is a way out (the host's) or --dns asks.
// Needs no netavark.
using NetworkEtc = ImageStoreTest;

TEST_F(NetworkEtc, WithoutABridgeAContainerStillHasItsOwnHostsAndHostname) {
    std::string script = "cat /etc/hosts; echo --; cat /etc/resolv.conf 2>/dev/null; echo --; cat /etc/hostname; "
                         "echo --; grep -c ' /etc/' /proc/self/mounts";
    for (std::string mode : {"none", "private", "host"}) {
        std::string out = sh(script, {"--network", mode, "--hostname", "hh", "--name", "nn-" + mode,
                                      "--add-host", "db:10.1.2.3"});
        auto parts = split_on(out, "--\n");
        ASSERT_EQ(4u, parts.size()) << mode << ": " << out;
        EXPECT_NE(std::string::npos, parts[0].find("127.0.0.1")) << mode;
        EXPECT_NE(std::string::npos, parts[0].find("\thh nn-" + mode + "\n")) << mode << ": " << parts[0];
        EXPECT_NE(std::string::npos, parts[0].find("10.1.2.3\tdb\n")) << mode;
        EXPECT_EQ("hh\n", parts[2]) << mode;
        if (mode == "host") {
            EXPECT_NE(std::string::npos, parts[1].find("nameserver")) << "the host's resolvers";
            EXPECT_EQ("3\n", parts[3]);
        } else {
            EXPECT_EQ("", parts[1]) << mode << ": no way out, no resolv.conf";
            EXPECT_EQ("2\n", parts[3]) << mode;
        }
    }
    EXPECT_EQ("nameserver 9.9.9.9\n", sh("cat /etc/resolv.conf", {"--network", "none", "--dns", "9.9.9.9"}));
    // Where the image had no /etc/hosts or /run, the empty ones made to mount on are not
    // the container's changes: diff does not list them, commit does not keep them.
    ASSERT_EQ(0, k({"run", "--name", "changer", "--network", "none", kImage, "sh", "-c", "echo x > /f"}).code);
    EXPECT_EQ("C /etc\nA /f\n", k({"diff", "changer"}).out);
    Output commit = k({"commit", "changer", "localhost/changed:1"});
    ASSERT_EQ(0, commit.code) << commit.err;
    json img = json::parse(k({"inspect", "localhost/changed:1"}).out);
    if (img.is_array()) img = img[0];
    std::string top = img["Layers"].back().get<std::string>().substr(7);
    Output files = run_program({"/bin/sh", "-c", "cd " + store() + "/layers/" + top + " && find . | sort"});
    EXPECT_EQ(".\n./etc\n./f\n", files.out);
    EXPECT_EQ(0, k({"rm", "changer"}).code);
    Output clash = k({"run", "--rm", "--network", "container:nosuch", "--add-host", "a:1.2.3.4", kImage, "true"});
    EXPECT_NE(0, clash.code);
    EXPECT_NE(std::string::npos, clash.err.find("cannot be used with --network container:")) << clash.err;
}

TEST_F(Network, BadInputIsOneLineAndLeavesNothing) {
    std::string before = host_network_state(attachments_dir());
    int port = free_port();
    web("holder", {"-p", "127.0.0.1:" + std::to_string(port) + ":80"});
    std::string with_holder = host_network_state(attachments_dir());
    struct Case {
        std::vector<std::string> args;
        std::string says;
    } cases[] = {
        {{"--network", "ktest-nosuch"}, "ktest-nosuch"},
        {{"-p", "80:80:80:80"}, "-p \"80:80:80:80\""},
        {{"-p", "70000"}, "not a port"},
        {{"-p", "127.0.0.1:" + std::to_string(port) + ":80"}, "port " + std::to_string(port) + "/tcp is"},
        {{"--ip", "300.1.1.1"}, "--ip"},
        {{"--ip", "192.0.2.5"}, "192.0.2.5"},
        {{"--add-host", "nocolon"}, "--add-host"},
        {{"--network", "none", "-p", "8080:80"}, "need a bridge network"},
        // Fails after the network is set up (the user is looked up in the image then):
        // what was set up goes again.
        {{"-p", "127.0.0.1::80", "-u", "nosuchuser"}, "nosuchuser"},
    };
    for (auto& c : cases) {
        std::vector<std::string> a = {"run", "--rm"};
        a.insert(a.end(), c.args.begin(), c.args.end());
        a.insert(a.end(), {kImage, "true"});
        Output o = k(a);
        EXPECT_NE(0, o.code) << c.args[1];
        EXPECT_EQ(1, std::count(o.err.begin(), o.err.end(), '\n')) << o.err;
        EXPECT_NE(std::string::npos, o.err.find(c.says)) << o.err;
        EXPECT_EQ(with_holder, host_network_state(attachments_dir())) << c.args[1];
    }
    EXPECT_EQ(0, k({"rm", "-f", "holder"}).code);
    EXPECT_EQ(before, host_network_state(attachments_dir()));
}

}  // namespace
}  // namespace kapsel::test
