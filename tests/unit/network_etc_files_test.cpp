// network/etc_files.cpp: the /etc/hosts, /etc/resolv.conf and /etc/hostname a container
// gets, and the checks of --add-host, --dns and --mac-address.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "network/etc_files.hpp"

namespace kapsel::network {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

EtcInput named(const std::string& hostname, const std::string& name) {
    EtcInput in;
    in.hostname = hostname;
    in.name = name;
    in.host_resolv_conf = "# host\nnameserver 127.0.0.53\nnameserver 10.0.0.1\nsearch corp.example\noptions edns0\n";
    return in;
}

TEST(EtcFiles, OnABridgeTheNamesAreAtItsAddressesAndAardvarkResolves) {
    EtcInput in = named("hh", "web");
    in.addresses = {"10.90.7.2"};
    in.network_dns = {"10.90.7.1"};
    in.network_search = {"dns.podman"};
    in.extra_hosts = {{"db", "10.1.2.3"}};
    EtcFiles f = etc_files(in);
    EXPECT_EQ("hh\n", f.hostname);
    EXPECT_THAT(f.hosts, HasSubstr("127.0.0.1\tlocalhost"));
    EXPECT_THAT(f.hosts, HasSubstr("10.90.7.2\thh web\n"));
    EXPECT_THAT(f.hosts, HasSubstr("10.1.2.3\tdb\n"));
    EXPECT_EQ("search dns.podman corp.example\nnameserver 10.90.7.1\noptions edns0\n", f.resolv_conf);
}

TEST(EtcFiles, WithoutAnAddressTheNamesAreOnLoopbackAndTheHostsLoopbackResolverIsDropped) {
    EtcFiles f = etc_files(named("hh", "hh"));
    EXPECT_THAT(f.hosts, HasSubstr("127.0.1.1\thh\n")) << "the name once when it is the host name";
    EXPECT_THAT(f.resolv_conf, Not(HasSubstr("127.0.0.53"))) << "the host's loopback is not the container's";
    EXPECT_THAT(f.resolv_conf, HasSubstr("nameserver 10.0.0.1\n"));
}

TEST(EtcFiles, OnTheHostsNetworkTheHostsNamesAndResolversComeFirst) {
    EtcInput in = named("hh", "web");
    in.host_network = true;
    in.host_hosts = "127.0.0.1 localhost\n192.0.2.9 buildhost";
    in.extra_hosts = {{"db", "10.1.2.3"}};
    EtcFiles f = etc_files(in);
    EXPECT_EQ("127.0.0.1 localhost\n192.0.2.9 buildhost\n127.0.1.1\thh web\n10.1.2.3\tdb\n", f.hosts);
    EXPECT_THAT(f.resolv_conf, HasSubstr("nameserver 127.0.0.53\n")) << "the host's loopback is the container's";
}

TEST(EtcFiles, DnsOptionsReplaceTheDefaults) {
    EtcInput in = named("hh", "web");
    in.network_dns = {"10.90.7.1"};
    in.dns = {"9.9.9.9", "9.9.9.9"};
    in.dns_search = {"a.example"};
    EXPECT_EQ("search a.example\nnameserver 9.9.9.9\noptions edns0\n", etc_files(in).resolv_conf);
}

TEST(EtcChecks, BadValuesAreNamed) {
    EXPECT_TRUE(parse_add_host("h:fd00::1"));
    EXPECT_THAT(parse_add_host("nocolon").error().message, HasSubstr("expected NAME:IP"));
    EXPECT_THAT(parse_add_host("bad name:1.2.3.4").error().message, HasSubstr("is not a host name"));
    EXPECT_THAT(parse_add_host("h:1.2.3").error().message, HasSubstr("is not an IP address"));
    EXPECT_TRUE(valid_ip("::1"));
    EXPECT_FALSE(valid_ip("300.1.1.1"));
    EXPECT_TRUE(valid_mac("02:42:ac:11:00:02"));
    EXPECT_FALSE(valid_mac("03:42:ac:11:00:02")) << "multicast";
    EXPECT_FALSE(valid_mac("02:42:ac:11:00"));
}

}  // namespace
}  // namespace kapsel::network
