// network/subnet.cpp: IPv4 addresses and CIDR subnets from text, and their arithmetic.
#include <gtest/gtest.h>

#include <string>

#include "network/subnet.hpp"

namespace kapsel::network {
namespace {

Ipv4 ip(const char* s) {
    auto a = parse_ipv4(s);
    EXPECT_TRUE(a.has_value()) << s;
    return a.value_or(Ipv4{});
}

Cidr net(const char* s) {
    auto c = parse_cidr(s);
    EXPECT_TRUE(c.has_value()) << s;
    return c.value_or(Cidr{});
}

TEST(ParseIpv4, DottedQuads) {
    EXPECT_EQ(ip("10.89.0.2").value, 0x0a590002u);
    EXPECT_EQ(ip("0.0.0.0").value, 0u);
    EXPECT_EQ(ip("255.255.255.255").value, 0xffffffffu);
    EXPECT_EQ(to_string(ip("192.168.100.7")), "192.168.100.7");
}

TEST(ParseIpv4, RefusesEverythingElse) {
    for (const char* bad :
         {"",          "10.0.0",   "10.0.0.0.0", "256.1.1.1", "1.256.1.1",  "1.1.1.1000",
          "01.2.3.4",  "1.2.3.04", "00.0.0.0",   "1..2.3",    ".1.2.3",     "1.2.3.",
          " 1.2.3.4",  "1.2.3.4 ", "+1.2.3.4",   "-1.2.3.4",  "1.2.3.4/24", "a.b.c.d",
          "0x1.2.3.4", "1,2,3,4",  "::1",        "1.2.3.4\n"}) {
        EXPECT_FALSE(parse_ipv4(bad).has_value()) << '"' << bad << '"';
    }
    EXPECT_FALSE(parse_ipv4(std::string(100000, '1')).has_value());
    EXPECT_FALSE(parse_ipv4(std::string("1.2.3.4\0", 8)).has_value()) << "an embedded NUL";
}

TEST(ParseCidr, NetworksWithTheirPrefix) {
    Cidr c = net("10.89.0.0/24");
    EXPECT_EQ(c.base.value, 0x0a590000u);
    EXPECT_EQ(c.prefix, 24u);
    EXPECT_EQ(to_string(c), "10.89.0.0/24");
    EXPECT_EQ(net("0.0.0.0/0").prefix, 0u);
    EXPECT_EQ(net("10.0.0.7/32").prefix, 32u);
    EXPECT_EQ(to_string(net("172.16.0.0/12")), "172.16.0.0/12");
}

TEST(ParseCidr, RefusesMalformedTextAndHostBits) {
    for (const char* bad :
         {"", "10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/100", "10.0.0.0/-1", "10.0.0.0/08",
          "10.0.0.0/ 8", "10.0.0.1/24", "10.0.0.128/24", "1.0.0.0/0", "10.0.0/24", "256.0.0.0/8",
          "01.0.0.0/8", "10.0.0.0/24/24", "/24", "10.0.0.0/x", "10.0.0.0/24 "}) {
        EXPECT_FALSE(parse_cidr(bad).has_value()) << '"' << bad << '"';
    }
    EXPECT_FALSE(parse_cidr(std::string(1 << 20, '9') + "/24").has_value());
    EXPECT_FALSE(parse_cidr("10.0.0.0/" + std::string(1000, '0') + "24").has_value());
}

TEST(Subnet, ContainsOnlyItsOwnAddresses) {
    Cidr c = net("10.90.3.0/24");
    EXPECT_TRUE(contains(c, ip("10.90.3.0")));
    EXPECT_TRUE(contains(c, ip("10.90.3.255")));
    EXPECT_FALSE(contains(c, ip("10.90.4.0")));
    EXPECT_FALSE(contains(c, ip("10.90.2.255")));
    EXPECT_TRUE(contains(net("0.0.0.0/0"), ip("1.2.3.4")));
    EXPECT_TRUE(contains(net("1.2.3.4/32"), ip("1.2.3.4")));
    EXPECT_FALSE(contains(net("1.2.3.4/32"), ip("1.2.3.5")));
}

TEST(Subnet, OverlapIsSymmetricAndNeedsSharedAddresses) {
    EXPECT_TRUE(overlaps(net("10.0.0.0/8"), net("10.90.0.0/24")));
    EXPECT_TRUE(overlaps(net("10.90.0.0/24"), net("10.0.0.0/8")));
    EXPECT_TRUE(overlaps(net("10.90.0.0/24"), net("10.90.0.0/24")));
    EXPECT_TRUE(overlaps(net("10.90.0.0/23"), net("10.90.1.0/24")));
    EXPECT_FALSE(overlaps(net("10.90.0.0/24"), net("10.90.1.0/24")));
    EXPECT_FALSE(overlaps(net("10.90.1.0/24"), net("10.90.0.0/24")));
    EXPECT_FALSE(overlaps(net("192.168.0.0/16"), net("10.0.0.0/8")));
    EXPECT_TRUE(overlaps(net("0.0.0.0/0"), net("192.168.1.0/24")));
}

TEST(Subnet, UsableHostsLeaveOutNetworkAndBroadcast) {
    EXPECT_EQ(usable_hosts(net("10.0.0.0/24")), 254u);
    EXPECT_EQ(usable_hosts(net("10.0.0.0/30")), 2u);
    EXPECT_EQ(usable_hosts(net("10.0.0.0/31")), 0u);
    EXPECT_EQ(usable_hosts(net("10.0.0.0/32")), 0u);
    EXPECT_EQ(usable_hosts(net("10.0.0.0/8")), (1u << 24) - 2);
    EXPECT_EQ(usable_hosts(net("0.0.0.0/0")), (uint64_t{1} << 32) - 2);
}

TEST(Subnet, NthHostCountsFromTheNetworkAddress) {
    Cidr c = net("10.90.0.0/24");
    EXPECT_EQ(to_string(*nth_host(c, 1)), "10.90.0.1");
    EXPECT_EQ(to_string(*nth_host(c, 2)), "10.90.0.2");
    EXPECT_EQ(to_string(*nth_host(c, 254)), "10.90.0.254");
    EXPECT_FALSE(nth_host(c, 0).has_value()) << "the network address";
    EXPECT_FALSE(nth_host(c, 255).has_value()) << "the broadcast address";
    EXPECT_FALSE(nth_host(c, uint64_t{1} << 40).has_value());
    EXPECT_FALSE(nth_host(net("10.0.0.0/31"), 1).has_value());
    EXPECT_EQ(to_string(*nth_host(net("255.255.255.0/24"), 254)), "255.255.255.254");
}

}  // namespace
}  // namespace kapsel::network
