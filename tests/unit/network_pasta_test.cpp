// network/pasta.cpp's command line: the published ports and nothing else forwarded.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "network/pasta.hpp"
#include "network/slirp.hpp"

namespace kapsel::network {
namespace {

using ::testing::ElementsAre;

// The values given to `option`, in order.
std::vector<std::string> values_of(const std::vector<std::string>& args, const std::string& option) {
    std::vector<std::string> out;
    for (size_t i = 0; i + 1 < args.size(); ++i)
        if (args[i] == option) out.push_back(args[i + 1]);
    return out;
}

TEST(PastaArgs, NothingIsForwardedButThePublishedPorts) {
    auto a = pasta_args("/ns/x", {}, "/ns/x.pasta.pid", false);
    EXPECT_THAT(values_of(a, "-t"), ElementsAre("none")) << "pasta's default forwards every bound port";
    EXPECT_THAT(values_of(a, "-u"), ElementsAre("none"));
    EXPECT_THAT(values_of(a, "-T"), ElementsAre("none")) << "the host's loopback stays the host's";
    EXPECT_THAT(values_of(a, "-U"), ElementsAre("none"));
    EXPECT_NE(a.end(), std::find(a.begin(), a.end(), "--no-map-gw")) << "the gateway is not the host";
    EXPECT_THAT(values_of(a, "--netns"), ElementsAre("/ns/x"));
    EXPECT_THAT(values_of(a, "--pid"), ElementsAre("/ns/x.pasta.pid"));
    EXPECT_THAT(values_of(a, "--dns-forward"), ElementsAre(kPastaDns));
    EXPECT_TRUE(values_of(a, "--runas").empty()) << "a user's pasta is the user's";
    EXPECT_THAT(values_of(pasta_args("/ns/x", {}, "/p", true), "--runas"), ElementsAre("0:0"));
}

TEST(PastaArgs, EachPublishedPortIsOneSpec) {
    std::vector<PortMapping> ports = {
        {.host_ip = "127.0.0.1", .host_port = 8080, .container_port = 80},
        {.host_ip = "", .host_port = 9000, .container_port = 90, .range = 3},
        {.host_ip = "127.0.0.1", .host_port = 5353, .container_port = 53, .protocol = "udp"},
    };
    auto a = pasta_args("/ns/x", ports, "/p", false);
    EXPECT_THAT(values_of(a, "-t"), ElementsAre("127.0.0.1/8080:80", "9000-9002:90-92"));
    EXPECT_THAT(values_of(a, "-u"), ElementsAre("127.0.0.1/5353:53"));
}

TEST(SlirpArgs, TheHostsLoopbackIsOutOfReachAndPortsGoThroughItsApi) {
    auto a = slirp_args("/ns/x", "/ns/x.slirp.sock");
    EXPECT_NE(a.end(), std::find(a.begin(), a.end(), "--disable-host-loopback"));
    EXPECT_NE(a.end(), std::find(a.begin(), a.end(), "--enable-sandbox"));
    EXPECT_THAT(values_of(a, "--api-socket"), ElementsAre("/ns/x.slirp.sock"));
    EXPECT_THAT(values_of(a, "--ready-fd"), ElementsAre("3"));
    ASSERT_GE(a.size(), 2u);
    EXPECT_EQ("/ns/x", a[a.size() - 2]);
    EXPECT_EQ(R"({"arguments":{"guest_port":80,"host_addr":"127.0.0.1","host_port":8080,"proto":"tcp"},"execute":"add_hostfwd"})",
              slirp_hostfwd_request("tcp", "127.0.0.1", 8080, 80));
    EXPECT_NE(std::string::npos, slirp_hostfwd_request("udp", "", 53, 53).find(R"("host_addr":"0.0.0.0")"))
        << "every address of the host";
}

}  // namespace
}  // namespace kapsel::network
