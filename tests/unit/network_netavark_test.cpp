// network/netavark.cpp's pure parts: what netavark is told, what its answer is taken to
// say (never trusted to have any field), and aardvark-dns's record files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "network/netavark.hpp"

namespace kapsel::network {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kA(64, 'a'), kB(64, 'b'), kC(64, 'c');

TEST(NetavarkOutput, GivesEachNetworksInterfaceAddressAndDns) {
    auto st = parse_setup_output(R"({"ktest": {"interfaces": {"eth0": {"mac_address": "aa:bb:cc:dd:ee:ff",
        "subnets": [{"ipnet": "fd00::2/64", "gateway": "fd00::1"}, {"ipnet": "10.90.7.2/24", "gateway": "10.90.7.1"}]}},
        "dns_server_ips": ["10.90.7.1"], "dns_search_domains": ["dns.podman"]}})");
    ASSERT_TRUE(st) << st.error().message;
    ASSERT_EQ(1u, st->size());
    const EndpointStatus& e = (*st)[0];
    EXPECT_EQ("ktest", e.network);
    EXPECT_EQ("eth0", e.interface);
    EXPECT_EQ("aa:bb:cc:dd:ee:ff", e.mac);
    EXPECT_EQ("10.90.7.2/24", e.address) << "IPv6 is not made: the IPv4 subnet is the address";
    EXPECT_EQ("10.90.7.1", e.gateway);
    EXPECT_THAT(e.dns_servers, ElementsAre("10.90.7.1"));
    EXPECT_THAT(e.dns_search, ElementsAre("dns.podman"));
}

TEST(NetavarkOutput, AnAnswerOfTheWrongShapeIsAnErrorOrNothingNeverACrash) {
    EXPECT_THAT(parse_setup_output("{not json").error().message, HasSubstr("not JSON"));
    EXPECT_THAT(parse_setup_output("[1,2]").error().message, HasSubstr("not a JSON object"));
    EXPECT_THAT(parse_setup_output(std::string(300 * 1024, ' ')).error().message, HasSubstr("too large"));
    auto odd = parse_setup_output(R"({"a": 5, "b": {"interfaces": []}, "c": {"interfaces": {"eth0": 7}},
        "d": {"interfaces": {"eth0": {"subnets": [5, {"ipnet": 7}], "mac_address": []}}, "dns_server_ips": "x"}})");
    ASSERT_TRUE(odd) << odd.error().message;
    for (auto& e : *odd) {
        EXPECT_EQ("", e.address);
        EXPECT_EQ("", e.mac);
        EXPECT_TRUE(e.dns_servers.empty());
    }
}

TEST(AardvarkRecords, NameTheContainersOfEachLineButTheFirst) {
    std::string text = "10.90.7.1\n" + kA + " 10.90.7.2  web,alias\n" + "garbage line\n" + kB +
                       " 10.90.7.3  db\n";
    EXPECT_THAT(aardvark_record_ids(text), ElementsAre(kA, kB));
    EXPECT_TRUE(aardvark_record_ids(kA + " 10.90.7.2  web\n").empty()) << "the first line is the network's";
    EXPECT_TRUE(aardvark_record_ids("").empty());
}

TEST(AardvarkRecords, ForgettingTakesOutOnlyTheLinesOfContainersGone) {
    std::string text = "10.90.7.1\n" + kA + " 10.90.7.2  web\n" + kB + " 10.90.7.3  db\n" + kC + " 10.90.7.4  c";
    auto gone = [&](const std::string& id) { return id != kB; };
    EXPECT_EQ("10.90.7.1\n" + kB + " 10.90.7.3  db\n", without_aardvark_records(text, gone));
    EXPECT_EQ(text, without_aardvark_records(text, [](const std::string&) { return false; }));
    std::string header_like_id = kA + " 1.2.3.4\n";
    EXPECT_EQ(header_like_id, without_aardvark_records(header_like_id, [](const std::string&) { return true; }))
        << "the first line stays whatever it holds";
}

TEST(AardvarkRecords, ARecordGivenToAnotherContainerKeepsItsAddresses) {
    std::string text = "10.90.7.1\n" + kA + " 10.90.7.2  web,www\n" + kB + " 10.90.7.3 fd00::3 db\n";
    EXPECT_EQ("10.90.7.1\n" + kC + " 10.90.7.2  next\n" + kB + " 10.90.7.3 fd00::3 db\n",
              with_aardvark_record_renamed(text, kA, kC, {"next"}));
    EXPECT_EQ("10.90.7.1\n" + kA + " 10.90.7.2  web,www\n" + kB + " 10.90.7.3 fd00::3 \n",
              with_aardvark_record_renamed(text, kB, kB, {})) << "a spare keeps no name";
    EXPECT_EQ(text, with_aardvark_record_renamed(text, kC, kA, {"x"})) << "no such line";
}

TEST(NetavarkOutput, WhatAnAttachmentKeepsReadsBackAsNetavarkSaidIt) {
    EndpointStatus e{"ktest", "eth0", "aa:bb:cc:dd:ee:ff", "10.90.7.2/24", "10.90.7.1", {"10.90.7.1"}, {"dns.podman"}};
    auto back = parse_setup_output(setup_output_json({e}).dump());
    ASSERT_TRUE(back) << back.error().message;
    ASSERT_EQ(1u, back->size());
    const EndpointStatus& b = (*back)[0];
    EXPECT_EQ(std::tie(e.network, e.interface, e.mac, e.address, e.gateway, e.dns_servers, e.dns_search),
              std::tie(b.network, b.interface, b.mac, b.address, b.gateway, b.dns_servers, b.dns_search));
}

TEST(NetavarkOptions, EveryNetworkIsIsolatedAndAnUnknownOneIsAnError) {
    Network n;
    n.name = "ktest";
    n.id = std::string(64, '1');
    n.driver = "bridge";
    n.interface = "ktest0";
    Attachment a;
    a.container_id = kA;
    a.container_name = "web";
    Endpoint e;
    e.network = "ktest";
    e.interface = "eth0";
    e.aliases = {"web", "www"};
    e.ip = "10.90.7.9";
    a.endpoints.push_back(e);
    auto o = netavark_options(a, {n});
    ASSERT_TRUE(o) << o.error().message;
    EXPECT_EQ(kA, (*o)["container_id"]);
    EXPECT_EQ("10.90.7.9", (*o)["networks"]["ktest"]["static_ips"][0]);
    EXPECT_EQ("www", (*o)["networks"]["ktest"]["aliases"][1]);
    EXPECT_EQ("true", (*o)["network_info"]["ktest"]["options"]["isolate"]);
    EXPECT_THAT(netavark_options(a, {}).error().message, HasSubstr("\"ktest\" is not known"));
}

}  // namespace
}  // namespace kapsel::network
