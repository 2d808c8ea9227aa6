// kapsel network create|ls|inspect|rm|prune through the real binary, with a storage root
// of the test's own: what a user types and sees, and what stays on disk.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness.hpp"

namespace kapsel::test {
namespace {

namespace fsys = std::filesystem;

class NetworkCli : public KapselTest {
  protected:
    std::string store() const { return root() + "/store"; }
    std::string net_dir() const { return store() + "/networks"; }
    Output k(const std::vector<std::string>& args) {
        std::vector<std::string> a = {"--storage-root", store()};
        a.insert(a.end(), args.begin(), args.end());
        // The networks are host-wide (runtime/network.hpp); the test's stay in its store.
        return kapsel(a, "", 30000, {}, {"KAPSEL_NETWORK_ROOT=" + store()});
    }
    // The network files in the store, sorted.
    std::vector<std::string> files() const {
        std::vector<std::string> out;
        if (fsys::exists(net_dir()))
            for (auto& e : fsys::directory_iterator(net_dir()))
                if (e.path().extension() == ".json") out.push_back(e.path().filename());
        std::sort(out.begin(), out.end());
        return out;
    }
    // A failure a user can read: exit 1, one line on stderr containing `text`.
    static void expect_one_line_error(const Output& o, const std::string& text) {
        EXPECT_EQ(1, o.code) << o.out << o.err;
        EXPECT_EQ("", o.out);
        EXPECT_EQ(1, std::count(o.err.begin(), o.err.end(), '\n')) << o.err;
        EXPECT_NE(std::string::npos, o.err.find(text)) << o.err;
    }
};

TEST_F(NetworkCli, CreateListInspectRemove) {
    Output c = k({"network", "create", "web"});
    ASSERT_EQ(0, c.code) << c.err;
    EXPECT_EQ("web\n", c.out);
    Output c2 = k({"network", "create", "--subnet", "10.123.0.0/16", "--gateway", "10.123.0.254",
                   "--internal", "--disable-dns", "back"});
    ASSERT_EQ(0, c2.code) << c2.err;
    EXPECT_EQ((std::vector<std::string>{"back.json", "web.json"}), files());

    Output ls = k({"network", "ls"});
    ASSERT_EQ(0, ls.code) << ls.err;
    std::istringstream lines(ls.out);
    std::string header, first, second;
    std::getline(lines, header);
    std::getline(lines, first);
    std::getline(lines, second);
    EXPECT_EQ(0u, header.find("NETWORK ID")) << header;
    EXPECT_NE(std::string::npos, header.find("NAME"));
    EXPECT_NE(std::string::npos, header.find("DRIVER"));
    EXPECT_NE(std::string::npos, header.find("SUBNET"));
    EXPECT_NE(std::string::npos, first.find(" back ")) << first;
    EXPECT_NE(std::string::npos, first.find("10.123.0.0/16")) << first;
    EXPECT_NE(std::string::npos, second.find(" web ")) << second;
    EXPECT_EQ("back\nweb\n", k({"network", "ls", "-q"}).out);
    json arr = json::parse(k({"network", "ls", "--format", "json"}).out);
    ASSERT_EQ(2u, arr.size());

    Output in = k({"network", "inspect", "back", "web"});
    ASSERT_EQ(0, in.code) << in.err;
    json j = json::parse(in.out);
    ASSERT_TRUE(j.is_array());
    ASSERT_EQ(2u, j.size());
    EXPECT_EQ("back", j[0]["name"]);
    EXPECT_EQ("bridge", j[0]["driver"]);
    EXPECT_EQ(64u, j[0]["id"].get<std::string>().size());
    EXPECT_EQ("10.123.0.0/16", j[0]["subnets"][0]["subnet"]);
    EXPECT_EQ("10.123.0.254", j[0]["subnets"][0]["gateway"]);
    EXPECT_EQ(true, j[0]["internal"]);
    EXPECT_EQ(false, j[0]["dns_enabled"]);
    EXPECT_EQ(false, j[0]["ipv6_enabled"]);
    EXPECT_EQ("host-local", j[0]["ipam_options"]["driver"]);
    EXPECT_EQ("web", j[1]["name"]);
    EXPECT_EQ(true, j[1]["dns_enabled"]);
    EXPECT_EQ(0u, j[1]["network_interface"].get<std::string>().find("kapsel"));
    // The file on disk is what inspect shows: podman's format, readable as podman's.
    std::ifstream f(net_dir() + "/web.json");
    json file = json::parse(f);
    EXPECT_EQ(j[1], file);

    Output rm = k({"network", "rm", "web", "back"});
    ASSERT_EQ(0, rm.code) << rm.err;
    EXPECT_EQ("web\nback\n", rm.out);
    EXPECT_TRUE(files().empty());
    EXPECT_EQ("", k({"network", "ls", "-q"}).out);
}

TEST_F(NetworkCli, InspectOfTheDefaultNetworkMakesIt) {
    Output in = k({"network", "inspect", "kapsel"});
    ASSERT_EQ(0, in.code) << in.err;
    json j = json::parse(in.out);
    EXPECT_EQ("kapsel", j[0]["name"]);
    EXPECT_EQ("kapsel0", j[0]["network_interface"]);
    EXPECT_EQ((std::vector<std::string>{"kapsel.json"}), files());
}

TEST_F(NetworkCli, PruneRemovesAllUnusedNetworks) {
    ASSERT_EQ(0, k({"network", "create", "a"}).code);
    ASSERT_EQ(0, k({"network", "create", "b"}).code);
    Output p = k({"network", "prune", "-f"});
    ASSERT_EQ(0, p.code) << p.err;
    EXPECT_EQ("a\nb\n", p.out);
    EXPECT_TRUE(files().empty());
    Output again = k({"network", "prune"});
    EXPECT_EQ(0, again.code);
    EXPECT_EQ("", again.out);
}

TEST_F(NetworkCli, BadInputIsOneLineAndLeavesNothing) {
    expect_one_line_error(k({"network", "create", "bad/name"}),
                          "invalid network name \"bad/name\"");
    expect_one_line_error(k({"network", "create", "../../etc"}), "invalid network name");
    expect_one_line_error(k({"network", "create", "--subnet", "10.0.0.1/24", "x"}),
                          "invalid subnet \"10.0.0.1/24\"");
    expect_one_line_error(k({"network", "create", "--subnet", "10.0.0", "x"}), "invalid subnet");
    expect_one_line_error(k({"network", "create", "--subnet", "10.0.0.0/33", "x"}),
                          "invalid subnet");
    expect_one_line_error(k({"network", "create", "--subnet", "10.0.0.0/31", "x"}),
                          "prefix length must be 8..30");
    expect_one_line_error(
        k({"network", "create", "--subnet", "10.124.0.0/24", "--gateway", "10.125.0.1", "x"}),
        "gateway 10.125.0.1 is not a host address of subnet 10.124.0.0/24");
    expect_one_line_error(k({"network", "create", "--gateway", "10.125.0.1", "x"}),
                          "--gateway needs --subnet");
    expect_one_line_error(k({"network", "create", "--driver", "macvlan", "x"}), "only bridge");
    expect_one_line_error(k({"network", "create"}), "create expects one network name");
    expect_one_line_error(k({"network", "create", "a", "b"}), "create expects one network name");
    expect_one_line_error(k({"network", "create", "--bogus", "x"}), "bogus");
    expect_one_line_error(k({"network", "frobnicate"}), "unknown subcommand \"frobnicate\"");
    expect_one_line_error(k({"network"}), "expects create, ls, inspect, rm or prune");
    expect_one_line_error(k({"network", "ls", "--format", "yaml"}),
                          "--format must be table or json");
    expect_one_line_error(k({"network", "inspect", "nope"}), "network nope not found");
    expect_one_line_error(k({"network", "rm", "nope"}), "network nope not found");
    EXPECT_TRUE(files().empty());

    ASSERT_EQ(0, k({"network", "create", "--subnet", "10.126.0.0/16", "big"}).code);
    expect_one_line_error(k({"network", "create", "--subnet", "10.126.7.0/24", "x"}),
                          "subnet 10.126.7.0/24 overlaps network big (10.126.0.0/16)");
    expect_one_line_error(k({"network", "create", "big"}), "network big already exists");
    EXPECT_EQ((std::vector<std::string>{"big.json"}), files());
}

// A subnet that one of the host's routes covers is refused, naming the route.
TEST_F(NetworkCli, SubnetOfAHostRouteIsRefused) {
    std::ifstream routes("/proc/net/route");
    std::string line, iface, dest, gw, flags, refcnt, use, metric, mask;
    std::getline(routes, line);
    std::string found_iface, cidr;
    while (std::getline(routes, line)) {
        std::istringstream cols(line);
        if (!(cols >> iface >> dest >> gw >> flags >> refcnt >> use >> metric >> mask)) continue;
        uint32_t d = static_cast<uint32_t>(std::stoul(dest, nullptr, 16));
        uint32_t m = static_cast<uint32_t>(std::stoul(mask, nullptr, 16));
        if (m == 0) continue;
        unsigned prefix = __builtin_popcount(m);
        if (prefix < 8 || prefix > 30) continue;
        // The kernel prints big-endian words as host numbers: the first byte is the low one.
        cidr = std::to_string(d & 0xff) + "." + std::to_string(d >> 8 & 0xff) + "." +
               std::to_string(d >> 16 & 0xff) + "." + std::to_string(d >> 24) + "/" +
               std::to_string(prefix);
        found_iface = iface;
        break;
    }
    if (cidr.empty()) GTEST_SKIP() << "skipped: the host has no route with a prefix of 8..30";
    expect_one_line_error(k({"network", "create", "--subnet", cidr, "x"}),
                          "overlaps the host's route on " + found_iface + " (" + cidr + ")");
    EXPECT_TRUE(files().empty());
}

TEST_F(NetworkCli, HelpAndManPage) {
    Output h = k({"--help"});
    EXPECT_NE(std::string::npos, h.out.find("  network ")) << h.out;
    Output n = k({"network", "--help"});
    EXPECT_EQ(0, n.code);
    EXPECT_NE(std::string::npos, n.out.find("prune")) << n.out;
    Output c = k({"network", "create", "--help"});
    EXPECT_EQ(0, c.code);
    EXPECT_NE(std::string::npos, c.out.find("--subnet")) << c.out;
    EXPECT_TRUE(fsys::exists(std::string(KAPSEL_TEST_SOURCE_DIR) + "/docs/man/kapsel-network.8"));
}

}  // namespace
}  // namespace kapsel::test
