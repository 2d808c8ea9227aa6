// network/store.cpp: kapsel's networks and the addresses containers hold on them, in a
// temporary storage root, with the host's podman, CNI and route files replaced by the
// test's own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include "network/host_subnets.hpp"
#include "network/store.hpp"
#include "util/fs.hpp"

namespace kapsel::network {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

template <class T>
std::string error_of(const Result<T>& r) {
    return r ? std::string("<no error>") : r.error().message;
}

// A container id: 64 hex digits from a small number.
std::string cid(int n) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08x", n);
    return std::string(56, 'c') + buf;
}

Attachment on(const std::string& id, const std::string& network, const std::string& ip = "") {
    Attachment a;
    a.container_id = id;
    a.container_name = "c" + (id.size() > 56 ? id.substr(56) : id);
    a.endpoints.push_back(Endpoint{.network = network, .ip = ip});
    return a;
}

class NetworkStoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/kapsel-netstore-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        root_ = tmpl;
        host_.podman_networks = root_ + "/podman";
        host_.cni_configs = root_ + "/cni";
        host_.routes = root_ + "/route";
        fs::mkdir_p(host_.podman_networks).take();
        fs::mkdir_p(host_.cni_configs).take();
        write(host_.routes, kRouteHeader);
    }
    void TearDown() override { (void)fs::remove_tree(root_); }

    static constexpr const char* kRouteHeader =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

    static void write(const std::string& path, const std::string& text) {
        std::ofstream(path, std::ios::trunc) << text;
    }
    NetworkStore store() {
        auto s = NetworkStore::open(root_ + "/storage", host_);
        EXPECT_TRUE(s) << error_of(s);
        return std::move(*s);
    }
    std::string net_dir() const { return root_ + "/storage/networks"; }
    Network create(NetworkStore& s, const std::string& name, const std::string& subnet = "") {
        auto n = s.create({.name = name, .subnet = subnet});
        EXPECT_TRUE(n) << error_of(n);
        return n ? *n : Network{};
    }

    std::string root_;
    HostNetworkFiles host_;
};

TEST_F(NetworkStoreTest, CreateWritesPodmansFormat) {
    auto s = store();
    Network n = create(s, "web");
    EXPECT_EQ(n.subnets.at(0).subnet, "10.90.0.0/24");
    EXPECT_EQ(n.subnets.at(0).gateway, "10.90.0.1");
    EXPECT_EQ(n.interface, "kapsel1") << "kapsel0 is kept for the default network";
    EXPECT_EQ(n.id.size(), 64u);
    auto text = fs::read_file(net_dir() + "/web.json");
    ASSERT_TRUE(text);
    json j = json::parse(*text);
    EXPECT_EQ(j["name"], "web");
    EXPECT_EQ(j["driver"], "bridge");
    EXPECT_EQ(j["network_interface"], "kapsel1");
    EXPECT_EQ(j["subnets"], json::parse(R"([{"subnet": "10.90.0.0/24", "gateway": "10.90.0.1"}])"));
    EXPECT_EQ(j["ipv6_enabled"], false);
    EXPECT_EQ(j["internal"], false);
    EXPECT_EQ(j["dns_enabled"], true);
    EXPECT_EQ(j["ipam_options"], json::parse(R"({"driver": "host-local"})"));
    EXPECT_THAT(j["created"].get<std::string>(), HasSubstr("T"));
    struct stat st {};
    ASSERT_EQ(::stat(net_dir().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(NetworkStoreTest, CreateTakesTheNextFreeSubnetAndBridge) {
    auto s = store();
    create(s, "a");
    create(s, "b", "10.90.1.0/24");
    Network c = create(s, "c");
    EXPECT_EQ(c.subnets.at(0).subnet, "10.90.2.0/24");
    EXPECT_EQ(c.interface, "kapsel3");
    ASSERT_TRUE(s.remove("a"));
    Network d = create(s, "d");
    EXPECT_EQ(d.subnets.at(0).subnet, "10.90.0.0/24");
    EXPECT_EQ(d.interface, "kapsel1");
}

TEST_F(NetworkStoreTest, CreateWithGivenSubnetGatewayAndFlags) {
    auto s = store();
    auto n = s.create({.name = "lan",
                       .subnet = "192.168.77.0/24",
                       .gateway = "192.168.77.254",
                       .internal = true,
                       .dns = false});
    ASSERT_TRUE(n) << error_of(n);
    auto again = s.get("lan");
    ASSERT_TRUE(again) << error_of(again);
    EXPECT_EQ(again->subnets.at(0).gateway, "192.168.77.254");
    EXPECT_TRUE(again->internal);
    EXPECT_FALSE(again->dns_enabled);
}

TEST_F(NetworkStoreTest, CreateRefusesBadInputAndLeavesNoFile) {
    auto s = store();
    EXPECT_THAT(error_of(s.create({.name = "bad/name"})),
                HasSubstr("invalid network name \"bad/name\""));
    EXPECT_THAT(error_of(s.create({.name = ".."})), HasSubstr("invalid network name"));
    EXPECT_THAT(error_of(s.create({.name = "-x"})), HasSubstr("invalid network name"));
    EXPECT_THAT(error_of(s.create({.name = std::string(65, 'a')})),
                HasSubstr("invalid network name"));
    EXPECT_THAT(error_of(s.create({.name = "x", .subnet = "10.0.0.1/24"})),
                HasSubstr("invalid subnet \"10.0.0.1/24\""));
    EXPECT_THAT(error_of(s.create({.name = "x", .subnet = "10.0.0.0/31"})),
                HasSubstr("prefix length must be 8..30"));
    EXPECT_THAT(error_of(s.create({.name = "x", .subnet = "8.0.0.0/7"})),
                HasSubstr("prefix length must be 8..30"));
    EXPECT_THAT(error_of(s.create({.name = "x", .subnet = "10.1.0.0/24", .gateway = "10.1.1.1"})),
                HasSubstr("gateway 10.1.1.1 is not a host address of subnet 10.1.0.0/24"));
    EXPECT_THAT(error_of(s.create({.name = "x", .subnet = "10.1.0.0/24", .gateway = "10.1.0.255"})),
                HasSubstr("not a host address"));
    EXPECT_THAT(error_of(s.create({.name = "x", .subnet = "10.1.0.0/24", .gateway = "10.1.0"})),
                HasSubstr("invalid gateway"));
    create(s, "x");
    EXPECT_EQ(error_of(s.create({.name = "x"})), "network x already exists");
    auto list = s.list();
    ASSERT_TRUE(list);
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ(list->at(0).name, "x");
}

TEST_F(NetworkStoreTest, SubnetMustNotOverlapKapselsNetworks) {
    auto s = store();
    create(s, "big", "10.100.0.0/16");
    EXPECT_EQ(error_of(s.create({.name = "x", .subnet = "10.100.5.0/24"})),
              "subnet 10.100.5.0/24 overlaps network big (10.100.0.0/16)");
    EXPECT_EQ(error_of(s.create({.name = "x", .subnet = "10.0.0.0/8"})),
              "subnet 10.0.0.0/8 overlaps network big (10.100.0.0/16)");
    EXPECT_FALSE(fs::exists(net_dir() + "/x.json"));
}

TEST_F(NetworkStoreTest, SubnetMustNotOverlapPodmansNetworksOrCni) {
    write(
        host_.podman_networks + "/podman1.json",
        R"({"name": "podman1", "driver": "bridge", "subnets": [{"subnet": "10.89.0.0/24", "gateway": "10.89.0.1"}]})");
    write(host_.podman_networks + "/junk.json", "{not json");
    write(host_.podman_networks + "/deep.json",
          std::string(100000, '[') + std::string(100000, ']'));
    write(host_.cni_configs + "/87-podman.conflist",
          R"({"cniVersion": "0.4.0", "name": "cnipod", "plugins": [{"type": "bridge",
              "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.90.2.0/23"}]]}}]})");
    write(host_.cni_configs + "/99-junk.conflist", R"({"plugins": [{"ipam": {"subnet": 17}}]})");
    auto s = store();
    EXPECT_EQ(error_of(s.create({.name = "x", .subnet = "10.89.0.0/16"})),
              "subnet 10.89.0.0/16 overlaps podman network podman1 (10.89.0.0/24)");
    EXPECT_EQ(error_of(s.create({.name = "x", .subnet = "10.90.3.0/24"})),
              "subnet 10.90.3.0/24 overlaps CNI network cnipod (10.90.2.0/23)");
    create(s, "a");
    Network b = create(s, "b");
    EXPECT_EQ(b.subnets.at(0).subnet, "10.90.1.0/24");
    Network c = create(s, "c");
    EXPECT_EQ(c.subnets.at(0).subnet, "10.90.4.0/24") << "10.90.2.0/23 is CNI's";
}

TEST_F(NetworkStoreTest, SubnetMustNotOverlapAHostRoute) {
    // 10.90.0.0/16 on eth0, 192.168.1.0/24 on wlan0, and the default route (skipped).
    write(host_.routes, std::string(kRouteHeader) +
                            "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
                            "eth0\t00005A0A\t00000000\t0001\t0\t0\t100\t0000FFFF\t0\t0\t0\n"
                            "wlan0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0\n"
                            "junk\tZZZZ\n");
    auto s = store();
    EXPECT_EQ(error_of(s.create({.name = "x", .subnet = "192.168.1.128/25"})),
              "subnet 192.168.1.128/25 overlaps the host's route on wlan0 (192.168.1.0/24)");
    Network n = create(s, "x");
    EXPECT_EQ(n.subnets.at(0).subnet, "10.91.0.0/24") << "the default route overlaps nothing";
}

TEST(HostRoutes, ParsesTheKernelsByteOrderAndSkipsJunk) {
    auto r = routes_from_text(
        "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"
        "eth0\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n"
        "eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FF00FF\t0\t0\t0\n"   // mask not contiguous
        "eth0\t0100000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n"   // host bits
        "eth0\t0000000A\t00000000\t0001\t0\t0\t0\t1000000FF\t0\t0\t0\n"  // too big
        "\n\t\t\t\n");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(to_string(r[0].cidr), "10.0.0.0/8");
    EXPECT_EQ(r[0].owner, "the host's route on eth0");
}

TEST_F(NetworkStoreTest, TheDefaultNetworkIsMadeOnFirstUse) {
    auto s = store();
    EXPECT_EQ(error_of(s.get("other")), "network other not found");
    auto d = s.get(kDefaultNetwork);
    ASSERT_TRUE(d) << error_of(d);
    EXPECT_EQ(d->name, "kapsel");
    EXPECT_EQ(d->interface, "kapsel0");
    EXPECT_TRUE(d->dns_enabled);
    EXPECT_EQ(d->subnets.at(0).subnet, "10.90.0.0/24");
    auto again = s.get(kDefaultNetwork);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->id, d->id) << "made once";
}

TEST_F(NetworkStoreTest, RemoveIsRefusedWhileAContainerIsOnTheNetwork) {
    auto s = store();
    create(s, "a");
    ASSERT_TRUE(s.reserve(on(cid(1), "a")));
    EXPECT_EQ(error_of(s.remove("a")), "network a is in use by container " + cid(1).substr(0, 12));
    EXPECT_EQ(error_of(s.remove("nope")), "network nope not found");
    EXPECT_THAT(error_of(s.remove("../a")), HasSubstr("invalid network name"));
    ASSERT_TRUE(s.release(cid(1)));
    EXPECT_TRUE(s.remove("a"));
    EXPECT_FALSE(fs::exists(net_dir() + "/a.json"));
}

TEST_F(NetworkStoreTest, PruneRemovesEveryUnusedNetwork) {
    auto s = store();
    create(s, "a");
    create(s, "b");
    create(s, "c");
    ASSERT_TRUE(s.get(kDefaultNetwork));
    ASSERT_TRUE(s.reserve(on(cid(1), "b")));
    auto removed = s.prune();
    ASSERT_TRUE(removed) << error_of(removed);
    EXPECT_THAT(*removed, ElementsAre("a", "c", "kapsel"));
    auto list = s.list();
    ASSERT_TRUE(list);
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ(list->at(0).name, "b");
}

TEST_F(NetworkStoreTest, ReservePicksTheLowestFreeHostAfterTheGateway) {
    auto s = store();
    create(s, "a");
    auto r1 = s.reserve(on(cid(1), "a"));
    auto r2 = s.reserve(on(cid(2), "a"));
    ASSERT_TRUE(r1) << error_of(r1);
    ASSERT_TRUE(r2) << error_of(r2);
    EXPECT_EQ(r1->endpoints.at(0).ip, "10.90.0.2");
    EXPECT_EQ(r2->endpoints.at(0).ip, "10.90.0.3");
    ASSERT_TRUE(s.release(cid(1)));
    auto r3 = s.reserve(on(cid(3), "a"));
    ASSERT_TRUE(r3);
    EXPECT_EQ(r3->endpoints.at(0).ip, "10.90.0.2") << "a released address is free again";
    auto rec = s.attachment(cid(3));
    ASSERT_TRUE(rec && *rec);
    EXPECT_EQ((*rec)->endpoints.at(0).ip, "10.90.0.2");
    EXPECT_EQ((*rec)->container_name, "c00000003");
}

TEST_F(NetworkStoreTest, ReserveSkipsAGatewayThatIsNotTheFirstHost) {
    auto s = store();
    ASSERT_TRUE(s.create({.name = "a", .subnet = "10.50.0.0/29", .gateway = "10.50.0.2"}));
    EXPECT_EQ(s.reserve(on(cid(1), "a"))->endpoints.at(0).ip, "10.50.0.1");
    EXPECT_EQ(s.reserve(on(cid(2), "a"))->endpoints.at(0).ip, "10.50.0.3");
}

TEST_F(NetworkStoreTest, ReserveOnTheDefaultNetworkMakesIt) {
    auto s = store();
    auto r = s.reserve(on(cid(1), kDefaultNetwork));
    ASSERT_TRUE(r) << error_of(r);
    EXPECT_EQ(r->endpoints.at(0).ip, "10.90.0.2");
    EXPECT_TRUE(fs::exists(net_dir() + "/kapsel.json"));
    EXPECT_EQ(error_of(s.reserve(on(cid(2), "nope"))), "network nope not found");
}

TEST_F(NetworkStoreTest, StaticAddressesAreChecked) {
    auto s = store();
    create(s, "a");
    ASSERT_TRUE(s.reserve(on(cid(1), "a", "10.90.0.5")));
    EXPECT_EQ(error_of(s.reserve(on(cid(2), "a", "10.90.0.5"))),
              "address 10.90.0.5 on network a is in use by container " + cid(1).substr(0, 12));
    EXPECT_EQ(error_of(s.reserve(on(cid(2), "a", "10.90.1.5"))),
              "address 10.90.1.5 is not in network a's subnet 10.90.0.0/24");
    EXPECT_EQ(error_of(s.reserve(on(cid(2), "a", "10.90.0.1"))),
              "address 10.90.0.1 is network a's gateway");
    EXPECT_THAT(error_of(s.reserve(on(cid(2), "a", "10.90.0.0"))), HasSubstr("not a host address"));
    EXPECT_THAT(error_of(s.reserve(on(cid(2), "a", "10.90.0.255"))),
                HasSubstr("not a host address"));
    EXPECT_THAT(error_of(s.reserve(on(cid(2), "a", "10.90.0.05"))),
                HasSubstr("invalid address \"10.90.0.05\""));
    EXPECT_FALSE(fs::exists(net_dir() + "/attachments/" + cid(2) + ".json"));
    auto r = s.reserve(on(cid(2), "a"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->endpoints.at(0).ip, "10.90.0.2");
}

TEST_F(NetworkStoreTest, AFullNetworkSaysSo) {
    auto s = store();
    create(s, "tiny", "10.60.0.0/30");  // hosts .1 (gateway) and .2
    auto r = s.reserve(on(cid(1), "tiny"));
    ASSERT_TRUE(r) << error_of(r);
    EXPECT_EQ(r->endpoints.at(0).ip, "10.60.0.2");
    EXPECT_EQ(error_of(s.reserve(on(cid(2), "tiny"))), "network tiny has no free address");
}

TEST_F(NetworkStoreTest, AContainerIsReservedOnce) {
    auto s = store();
    create(s, "a");
    ASSERT_TRUE(s.reserve(on(cid(1), "a")));
    EXPECT_THAT(error_of(s.reserve(on(cid(1), "a"))), HasSubstr("already has network addresses"));
    Attachment twice = on(cid(2), "a");
    twice.endpoints.push_back(twice.endpoints[0]);
    EXPECT_EQ(error_of(s.reserve(twice)), "network a is given twice");
}

TEST_F(NetworkStoreTest, ContainerIdsMustBe64Hex) {
    auto s = store();
    create(s, "a");
    for (const std::string& bad : std::vector<std::string>{
             "", "../../../etc/passwd", std::string(63, 'a'), std::string(64, 'A'),
             std::string(65, 'a'), std::string(63, 'a') + "/"}) {
        EXPECT_THAT(error_of(s.reserve(on(bad, "a"))), HasSubstr("invalid container id")) << bad;
        EXPECT_THAT(error_of(s.release(bad)), HasSubstr("invalid container id")) << bad;
        EXPECT_THAT(error_of(s.attachment(bad)), HasSubstr("invalid container id")) << bad;
    }
}

TEST_F(NetworkStoreTest, APublishedHostPortIsTakenOnce) {
    auto s = store();
    create(s, "a");
    Attachment web = on(cid(1), "a");
    web.ports.push_back({.host_port = 8080, .container_port = 80});
    ASSERT_TRUE(s.reserve(web));
    Attachment other = on(cid(2), "a");
    other.ports.push_back({.host_ip = "127.0.0.1", .host_port = 8080, .container_port = 80});
    EXPECT_EQ(error_of(s.reserve(other)),
              "port 8080/tcp is published by container " + cid(1).substr(0, 12));
    other.ports[0] = {.host_port = 8075, .container_port = 80, .range = 10};
    EXPECT_EQ(error_of(s.reserve(other)),
              "port 8080/tcp is published by container " + cid(1).substr(0, 12));
    other.ports[0] = {.host_port = 8080, .container_port = 80, .protocol = "udp"};
    EXPECT_TRUE(s.reserve(other)) << "udp is another port";
    Attachment dup = on(cid(3), "a");
    dup.ports.push_back({.host_port = 9000, .container_port = 80});
    dup.ports.push_back({.host_port = 9000, .container_port = 81});
    EXPECT_EQ(error_of(s.reserve(dup)), "port 9000/tcp is published twice");
    dup.ports = {{.host_port = 9000, .container_port = 80, .protocol = "sctp"}};
    EXPECT_THAT(error_of(s.reserve(dup)), HasSubstr("protocol \"sctp\" is not tcp or udp"));
    dup.ports = {{.host_port = 0, .container_port = 80}};
    EXPECT_THAT(error_of(s.reserve(dup)), HasSubstr("host_port"));
    dup.ports = {{.host_port = 65535, .container_port = 80, .range = 2}};
    EXPECT_THAT(error_of(s.reserve(dup)), HasSubstr("past 65535"));
}

TEST_F(NetworkStoreTest, AReusableContainersRecordIsKeptAsASpareAndHandedOn) {
    auto s = store();
    create(s, "web");
    Attachment a = on(cid(1), "web");
    a.reusable = true;
    a.root = "/run/kapsel-a";
    a.netns = "/ns/1";
    a.endpoints[0].aliases = {"one"};
    a.status = {{"web", {{"interfaces", json::object()}}}};
    ASSERT_TRUE(s.reserve(a));
    Attachment b = on(cid(2), "web");
    b.reusable = true;
    ASSERT_TRUE(s.reserve(b));
    Attachment fixed = on(cid(3), "web", "10.90.0.9");
    fixed.reusable = false;
    ASSERT_TRUE(s.reserve(fixed));

    auto kept = s.keep_as_spare(cid(1), 1);
    ASSERT_TRUE(kept) << error_of(kept);
    EXPECT_TRUE(*kept);
    EXPECT_FALSE(*s.keep_as_spare(cid(2), 1)) << "one spare a network at most";
    EXPECT_FALSE(*s.keep_as_spare(cid(3), 5)) << "not reusable";
    auto spare = *s.attachment(cid(1));
    ASSERT_TRUE(spare);
    EXPECT_TRUE(spare->spare);
    EXPECT_EQ("", spare->container_name);
    EXPECT_TRUE(spare->endpoints[0].aliases.empty()) << "its names went with it";
    EXPECT_EQ("10.90.0.2", spare->endpoints[0].ip) << "its address stays taken";

    Attachment want = on(cid(4), "web");
    want.reusable = true;
    want.root = "/run/kapsel-b";
    want.endpoints[0].aliases = {"four"};
    Attachment with_port = want;
    with_port.container_id = cid(5);
    with_port.ports.push_back(PortMapping{.host_port = 8080, .container_port = 80});
    EXPECT_FALSE(*s.claim_spare(with_port)) << "a published port needs its own setup";
    Attachment elsewhere = on(cid(5), "kapsel");
    EXPECT_FALSE(*s.claim_spare(elsewhere)) << "another network's";
    auto claimed = s.claim_spare(want);
    ASSERT_TRUE(claimed) << error_of(claimed);
    ASSERT_TRUE(*claimed);
    EXPECT_EQ(cid(1), (*claimed)->spare_id);
    const Attachment& now = (*claimed)->attachment;
    EXPECT_EQ(cid(4), now.container_id);
    EXPECT_EQ("10.90.0.2", now.endpoints[0].ip);
    EXPECT_EQ("/ns/1", now.netns);
    EXPECT_EQ(a.status, now.status);
    EXPECT_EQ("/run/kapsel-b", now.root);
    EXPECT_THAT(now.endpoints[0].aliases, ElementsAre("four"));
    EXPECT_FALSE(now.spare);
    EXPECT_FALSE(*s.attachment(cid(1))) << "the spare's record is gone";
    EXPECT_TRUE(*s.attachment(cid(4)));
    EXPECT_FALSE(*s.claim_spare(on(cid(6), "web"))) << "taken once";
}

TEST_F(NetworkStoreTest, ReleaseOfNothingIsNoError) {
    auto s = store();
    EXPECT_TRUE(s.release(cid(9)));
    auto a = s.attachment(cid(9));
    ASSERT_TRUE(a);
    EXPECT_FALSE(a->has_value());
}

TEST_F(NetworkStoreTest, JunkFilesAreSkippedOrReportedNeverFatal) {
    auto s = store();
    create(s, "a");
    ASSERT_TRUE(s.reserve(on(cid(1), "a")));
    std::string adir = net_dir() + "/attachments/";
    write(adir + cid(2) + ".json", "{\"container_id\": 17");
    write(adir + cid(3) + ".json",
          R"({"container_id": ")" + cid(4) + R"("})");  // names another container
    write(adir + cid(5) + ".json",
          R"({"container_id": ")" + cid(5) +
              R"(", "endpoints": [{"network": "a", "ip": "10.90.0.999"}]})");
    write(adir + "notanid.json", "{}");
    write(adir + cid(6) + ".json", std::string(300 * 1024, ' ') + "{}");
    ASSERT_EQ(::symlink("/etc/passwd", (adir + cid(7) + ".json").c_str()), 0);
    ASSERT_EQ(::mkfifo((adir + cid(8) + ".json").c_str(), 0600), 0);
    auto all = s.attachments();
    ASSERT_TRUE(all) << error_of(all);
    ASSERT_EQ(all->size(), 1u);
    EXPECT_EQ(all->at(0).container_id, cid(1));
    EXPECT_THAT(error_of(s.attachment(cid(2))), HasSubstr("not valid JSON"));
    EXPECT_THAT(error_of(s.attachment(cid(3))), HasSubstr("names container"));
    EXPECT_THAT(error_of(s.attachment(cid(5))), HasSubstr("invalid address"));
    EXPECT_THAT(error_of(s.attachment(cid(6))), HasSubstr("larger than"));
    EXPECT_THAT(error_of(s.attachment(cid(7))), HasSubstr("symbolic links")) << "never followed";
    EXPECT_THAT(error_of(s.attachment(cid(8))), HasSubstr("not a regular file"));
    EXPECT_EQ(s.reserve(on(cid(10), "a"))->endpoints.at(0).ip, "10.90.0.3");

    // Networks: a bad file is skipped by list, named by get, removable by remove.
    write(net_dir() + "/b.json", "[1, 2");
    write(net_dir() + "/c.json", to_json(Network{.name = "other",
                                                 .id = std::string(64, 'a'),
                                                 .interface = "x",
                                                 .subnets = {{"10.1.0.0/24", "10.1.0.1"}}})
                                     .dump());
    write(net_dir() + "/d.json", to_json(Network{.name = "d",
                                                 .id = std::string(64, 'a'),
                                                 .interface = "../x",
                                                 .subnets = {{"10.1.0.0/24", "10.1.0.1"}}})
                                     .dump());
    write(net_dir() + "/e.json", std::string(65 * 1024, ' ') + "{}");
    write(net_dir() + "/f.json", R"({"name": "f", "id": 5})");
    write(net_dir() + "/g.json", to_json(Network{.name = "g",
                                                 .id = std::string(64, 'a'),
                                                 .interface = "g0",
                                                 .subnets = {{"10.1.0.0/24", "10.1.0.0"}}})
                                     .dump());
    auto list = s.list();
    ASSERT_TRUE(list) << error_of(list);
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ(list->at(0).name, "a");
    EXPECT_THAT(error_of(s.get("b")), HasSubstr("b.json: not valid JSON"));
    EXPECT_THAT(error_of(s.get("c")), HasSubstr("names network \"other\""));
    EXPECT_THAT(error_of(s.get("d")), HasSubstr("invalid interface name"));
    EXPECT_THAT(error_of(s.get("e")), HasSubstr("larger than"));
    EXPECT_THAT(error_of(s.get("f")), HasSubstr("field \"id\""));
    EXPECT_THAT(error_of(s.get("g")), HasSubstr("gateway \"10.1.0.0\" is not a host"));
    EXPECT_TRUE(s.remove("b"));
    EXPECT_FALSE(fs::exists(net_dir() + "/b.json"));
}

TEST(NetworkRecords, RoundTrip) {
    Attachment a;
    a.container_id = std::string(64, 'f');
    a.container_name = "web";
    a.netns = "/run/kapsel/netns/x";
    a.endpoints.push_back(
        {.network = "n", .ip = "10.0.0.2", .mac = "02:42:ac:11:00:02", .aliases = {"web", "www"}});
    a.ports.push_back({.host_ip = "127.0.0.1",
                       .host_port = 8080,
                       .container_port = 80,
                       .range = 2,
                       .protocol = "udp"});
    auto back = attachment_from_json(to_json(a));
    ASSERT_TRUE(back) << error_of(back);
    EXPECT_EQ(to_json(*back), to_json(a));
    EXPECT_THAT(error_of(attachment_from_json(json::parse(R"([])"))),
                HasSubstr("expected a JSON object"));
    EXPECT_FALSE(network_from_json(json(5)));
}

// Two processes reserving at the same time never get the same address: the lock makes
// each reserve see every other one's record.
TEST_F(NetworkStoreTest, ConcurrentReservesGetDistinctAddresses) {
    {
        auto s = store();
        create(s, "a", "10.70.0.0/24");
    }
    pid_t kids[2];
    for (int k = 0; k < 2; ++k) {
        kids[k] = ::fork();
        ASSERT_GE(kids[k], 0);
        if (kids[k] == 0) {
            auto s = NetworkStore::open(root_ + "/storage", host_);
            int failures = 0;
            for (int i = 0; i < 50 && s; ++i)
                if (!s->reserve(on(cid(k * 1000 + i), "a"))) ++failures;
            ::_exit(s && failures == 0 ? 0 : 1);
        }
    }
    for (pid_t p : kids) {
        int status = 0;
        ASSERT_EQ(::waitpid(p, &status, 0), p);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    auto s = store();
    auto all = s.attachments();
    ASSERT_TRUE(all) << error_of(all);
    std::set<std::string> ips;
    for (auto& a : *all) ips.insert(a.endpoints.at(0).ip);
    EXPECT_EQ(all->size(), 100u);
    std::set<std::string> lowest;
    for (int n = 2; n < 102; ++n) lowest.insert("10.70.0." + std::to_string(n));
    EXPECT_EQ(ips, lowest) << "100 distinct addresses, the lowest ones";
}

}  // namespace
}  // namespace kapsel::network

namespace kapsel::network {
namespace {

// Two processes making networks at the same time (and both asking for the default one)
// get distinct subnets and bridges, and one default network.
TEST_F(NetworkStoreTest, ConcurrentCreatesGetDistinctSubnetsAndBridges) {
    pid_t kids[2];
    for (int k = 0; k < 2; ++k) {
        kids[k] = ::fork();
        ASSERT_GE(kids[k], 0);
        if (kids[k] == 0) {
            auto s = NetworkStore::open(root_ + "/storage", host_);
            int failures = 0;
            for (int i = 0; i < 10 && s; ++i) {
                if (!s->get(kDefaultNetwork)) ++failures;
                if (!s->create({.name = "n" + std::to_string(k) + "-" + std::to_string(i)}))
                    ++failures;
            }
            ::_exit(s && failures == 0 ? 0 : 1);
        }
    }
    for (pid_t p : kids) {
        int status = 0;
        ASSERT_EQ(::waitpid(p, &status, 0), p);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    auto s = store();
    auto list = s.list();
    ASSERT_TRUE(list) << error_of(list);
    std::set<std::string> subnets, bridges;
    for (auto& n : *list) subnets.insert(n.subnets.at(0).subnet), bridges.insert(n.interface);
    EXPECT_EQ(list->size(), 21u);
    EXPECT_EQ(subnets.size(), 21u);
    EXPECT_EQ(bridges.size(), 21u);
    EXPECT_EQ(s.get(kDefaultNetwork)->interface, "kapsel0");
}

}  // namespace
}  // namespace kapsel::network

namespace kapsel::network {
namespace {

// Every field of a valid record replaced by every kind of JSON value: an error value or
// a record, never an exception (the files come from disk, where anyone may edit them).
TEST(NetworkRecords, AnyValueInAnyFieldIsAnErrorNotAnException) {
    Network n{.name = "n",
              .id = std::string(64, 'a'),
              .interface = "kapsel1",
              .subnets = {{"10.90.0.0/24", "10.90.0.1"}}};
    Attachment a;
    a.container_id = std::string(64, 'f');
    a.endpoints.push_back({.network = "n", .ip = "10.90.0.2", .aliases = {"x"}});
    a.ports.push_back({.host_port = 80, .container_port = 80});
    const std::vector<json> values = {nullptr,
                                      5,
                                      -1,
                                      1.5,
                                      true,
                                      "x",
                                      std::string(100000, 'y'),
                                      json::array(),
                                      json::object(),
                                      json::array({1, "2"}),
                                      json::parse("18446744073709551615")};
    auto mutate_all = [&](const json& doc, auto&& parse) {
        std::vector<json> docs;
        // Top-level fields, and the fields of the first element of each array field.
        for (auto& [key, value] : doc.items()) {
            for (auto& v : values) {
                json d = doc;
                d[key] = v;
                docs.push_back(d);
            }
            if (value.is_array() && !value.empty() && value[0].is_object())
                for (auto& [inner, unused] : value[0].items())
                    for (auto& v : values) {
                        json d = doc;
                        d[key][0][inner] = v;
                        docs.push_back(d);
                    }
        }
        for (auto& v : values) docs.push_back(v);
        for (auto& d : docs) EXPECT_NO_THROW((void)parse(d)) << d.dump().substr(0, 200);
        return docs.size();
    };
    EXPECT_GT(mutate_all(to_json(n), [](const json& j) { return network_from_json(j); }), 100u);
    EXPECT_GT(mutate_all(to_json(a), [](const json& j) { return attachment_from_json(j); }), 100u);
    ASSERT_TRUE(network_from_json(to_json(n)));
    ASSERT_TRUE(attachment_from_json(to_json(a)));
}

}  // namespace
}  // namespace kapsel::network
