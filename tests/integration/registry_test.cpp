// kapsel pull and push against registries on the loopback interface: Debian's
// docker-registry (the reference implementation, distribution 2.8), with and without
// htpasswd authentication, and tests/integration/fake_registry.py for what a real
// registry does not do on demand (Bearer tokens, redirects, dropped connections,
// corrupt blobs, multi-platform indexes). Each test has its own stores and registry.
#include <sys/utsname.h>

#include <algorithm>

#include "registry_support.hpp"

namespace kapsel::test {
namespace {

TEST_F(RegistryTest, PushThenPullIntoAnEmptyStore) {
    LocalRegistry reg;
    REQUIRE_SERVER(reg);
    std::string id = load_fixture(1);
    ASSERT_FALSE(id.empty());
    std::string dest = reg.host() + "/busybox:latest";

    auto push = kapsel(1, {"push", "localhost/kapsel-busybox:latest", dest});
    ASSERT_EQ(push.code, 0) << push.err;
    EXPECT_EQ(push.out.rfind("sha256:", 0), 0u) << "push prints the manifest digest: " << push.out;

    auto pull = kapsel(2, {"pull", dest});
    ASSERT_EQ(pull.code, 0) << pull.err;
    EXPECT_EQ(pull.out, id + "\n");

    json a = images(1), b = images(2);
    ASSERT_EQ(b.size(), 1u) << b.dump();
    EXPECT_EQ(b[0]["id"], id) << "the same config digest";
    EXPECT_EQ(b[0]["layers"], a[0]["layers"]) << "the same layers";
    EXPECT_EQ(b[0]["names"], json::array({dest}));
    EXPECT_EQ(b[0]["digest"], push.out.substr(0, push.out.size() - 1))
        << "the manifest kapsel pushed";
    EXPECT_EQ(b[0]["size"], a[0]["size"]);
    std::string diff_hex = b[0]["layers"][0].get<std::string>().substr(7);
    EXPECT_TRUE(executable(store(2) + "/layers/" + diff_hex + "/bin/busybox"))
        << "the layer is unpacked";
    json m = fixture_manifest();
    std::string layer_hex = m["layers"][0]["digest"].get<std::string>().substr(7);
    EXPECT_TRUE(sfs::exists(store(2) + "/blobs/sha256/" + layer_hex))
        << "the layer blob is stored (for a later push)";
    EXPECT_TRUE(sfs::is_empty(store(2) + "/tmp"));

    // Again: every blob is there already, and so is every layer on the pull side.
    auto again = kapsel(1, {"push", "localhost/kapsel-busybox:latest", dest});
    EXPECT_EQ(again.code, 0) << again.err;
    EXPECT_EQ(again.out, push.out) << "the same manifest";
    auto repull = kapsel(2, {"pull", dest});
    EXPECT_EQ(repull.code, 0) << repull.err;
    EXPECT_EQ(images(2).size(), 1u);

    // The pulled image pushes on, to another repository, mounting the blobs of the
    // one it came from.
    std::string log = tmp_.path() + "/push.log";
    auto onward =
        kapsel(2, {"--debug", "--log", log, "push", dest, reg.host() + "/copies/busybox:v1"});
    EXPECT_EQ(onward.code, 0) << onward.err;
    EXPECT_TRUE(contains(read_text(log), "blob " + m["layers"][0]["digest"].get<std::string>() +
                                             ": mounted from busybox"))
        << read_text(log);
    auto third = kapsel(3, {"pull", reg.host() + "/copies/busybox:v1"});
    EXPECT_EQ(third.code, 0) << third.err;
    EXPECT_EQ(third.out, id + "\n");
}

TEST_F(RegistryTest, PullByDigest) {
    LocalRegistry reg;
    REQUIRE_SERVER(reg);
    std::string id = load_fixture(1);
    auto push =
        kapsel(1, {"push", "localhost/kapsel-busybox:latest", reg.host() + "/busybox:latest"});
    ASSERT_EQ(push.code, 0) << push.err;
    std::string digest = push.out.substr(0, push.out.size() - 1);

    std::string by_digest = reg.host() + "/busybox@" + digest;
    auto pull = kapsel(2, {"pull", by_digest});
    ASSERT_EQ(pull.code, 0) << pull.err;
    EXPECT_EQ(pull.out, id + "\n");
    json list = images(2);
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0]["names"], json::array({by_digest}));
    EXPECT_EQ(list[0]["digest"], digest);

    std::string missing = reg.host() + "/busybox@sha256:" + std::string(64, '0');
    auto bad = kapsel(3, {"pull", missing});
    EXPECT_EQ(bad.code, 1);
    EXPECT_TRUE(one_line(bad.err)) << bad.err;
    EXPECT_TRUE(contains(bad.err, "pull " + missing + ": ")) << bad.err;
    EXPECT_TRUE(contains(bad.err, "(HTTP 404)")) << bad.err;
}

TEST_F(RegistryTest, MissingTagOrRegistryIsAOneLineError) {
    LocalRegistry reg;
    REQUIRE_SERVER(reg);
    load_fixture(1);
    ASSERT_EQ(
        kapsel(1, {"push", "localhost/kapsel-busybox:latest", reg.host() + "/busybox:latest"}).code,
        0);

    auto out = kapsel(2, {"pull", reg.host() + "/busybox:nope"});
    EXPECT_EQ(out.code, 1);
    EXPECT_EQ(out.err,
              "kapsel: pull " + reg.host() + "/busybox:nope: manifest unknown (HTTP 404)\n");
    EXPECT_TRUE(images(2).empty());

    auto unknown = kapsel(2, {"pull", reg.host() + "/nothing/here"});
    EXPECT_EQ(unknown.code, 1);
    EXPECT_TRUE(one_line(unknown.err)) << unknown.err;
    EXPECT_TRUE(contains(unknown.err, "pull " + reg.host() + "/nothing/here:latest: "))
        << unknown.err;
    EXPECT_TRUE(contains(unknown.err, "(HTTP 404)")) << unknown.err;

    std::string nowhere = "127.0.0.1:" + std::to_string(free_port());
    auto refused = kapsel(2, {"pull", nowhere + "/busybox"});
    EXPECT_EQ(refused.code, 1);
    EXPECT_TRUE(one_line(refused.err)) << refused.err;
    EXPECT_TRUE(
        contains(refused.err, "pull " + nowhere + "/busybox:latest: cannot reach " + nowhere))
        << refused.err;

    auto invalid = kapsel(2, {"pull", "127.0.0.1:5000/BusyBox"});
    EXPECT_EQ(invalid.code, 1);
    EXPECT_TRUE(contains(invalid.err, "must be lower case")) << invalid.err;

    auto no_image = kapsel(2, {"push", "nosuchimage", reg.host() + "/x:latest"});
    EXPECT_EQ(no_image.code, 1);
    EXPECT_TRUE(contains(no_image.err, "\"nosuchimage\" is not in the store")) << no_image.err;
}

TEST_F(RegistryTest, BasicAuthWithHtpasswd) {
    if (!executable("/usr/bin/htpasswd"))
        GTEST_SKIP() << "skipped: htpasswd is missing (apache2-utils, scripts/install-deps)";
    std::string users = tmp_.path() + "/htpasswd";
    auto made = run_program({"/usr/bin/htpasswd", "-Bbc", users, "kapsel", "s3cret"});
    ASSERT_EQ(made.code, 0) << made.err;
    LocalRegistry reg({.htpasswd = users});
    REQUIRE_SERVER(reg);
    std::string id = load_fixture(1);
    std::string dest = reg.host() + "/private/busybox:latest";

    auto anonymous = kapsel(1, {"push", "localhost/kapsel-busybox:latest", dest});
    EXPECT_EQ(anonymous.code, 1);
    EXPECT_TRUE(one_line(anonymous.err)) << anonymous.err;
    EXPECT_TRUE(contains(anonymous.err, "push " + dest + ": ")) << anonymous.err;
    EXPECT_TRUE(contains(anonymous.err, "(HTTP 401)")) << anonymous.err;
    EXPECT_TRUE(contains(anonymous.err, "--creds")) << anonymous.err;

    auto push =
        kapsel(1, {"push", "--creds", "kapsel:s3cret", "localhost/kapsel-busybox:latest", dest});
    ASSERT_EQ(push.code, 0) << push.err;

    auto wrong = kapsel(2, {"pull", "--creds=kapsel:wrong", dest});
    EXPECT_EQ(wrong.code, 1);
    EXPECT_TRUE(one_line(wrong.err)) << wrong.err;
    EXPECT_TRUE(contains(wrong.err, "(HTTP 401)")) << wrong.err;
    EXPECT_TRUE(contains(wrong.err, "refused the credentials")) << wrong.err;
    EXPECT_TRUE(images(2).empty());

    auto pull = kapsel(2, {"pull", "--creds", "kapsel:s3cret", dest});
    ASSERT_EQ(pull.code, 0) << pull.err;
    EXPECT_EQ(pull.out, id + "\n");
}

TEST_F(RegistryTest, SelfSignedCertificateOnlyWithTlsVerifyFalse) {
    if (!executable("/usr/bin/openssl")) GTEST_SKIP() << "skipped: openssl is missing";
    LocalRegistry reg({.tls = true});
    REQUIRE_SERVER(reg);
    std::string id = load_fixture(1);
    std::string dest = reg.host() + "/busybox:latest";

    auto refused = kapsel(1, {"push", "localhost/kapsel-busybox:latest", dest});
    EXPECT_EQ(refused.code, 1);
    EXPECT_TRUE(one_line(refused.err)) << refused.err;
    // Plain HTTP is tried on loopback too, but the certificate is what failed.
    EXPECT_TRUE(contains(refused.err, "push " + dest + ": cannot reach " + reg.host() + ": "))
        << refused.err;
    EXPECT_TRUE(contains(refused.err, "certificate")) << refused.err;

    auto push = kapsel(1, {"push", "--tls-verify=false", "localhost/kapsel-busybox:latest", dest});
    ASSERT_EQ(push.code, 0) << push.err;
    auto pull = kapsel(2, {"pull", "--tls-verify=false", dest});
    ASSERT_EQ(pull.code, 0) << pull.err;
    EXPECT_EQ(pull.out, id + "\n");
}

TEST_F(RegistryTest, SkopeoAndKapselReadEachOthersPushes) {
    if (!executable("/usr/bin/skopeo"))
        GTEST_SKIP() << "skipped: skopeo is missing (scripts/install-clients)";
    LocalRegistry reg;
    REQUIRE_SERVER(reg);
    json m = fixture_manifest();
    std::string id = m["config"]["digest"];

    auto copy = run_program(
        {"/usr/bin/skopeo", "copy", "--quiet", "--dest-tls-verify=false",
         "oci:" + image_fixture() + "/oci", "docker://" + reg.host() + "/from-skopeo:latest"},
        "", 60000);
    ASSERT_EQ(copy.code, 0) << copy.err;
    auto pull = kapsel(1, {"pull", reg.host() + "/from-skopeo:latest"});
    ASSERT_EQ(pull.code, 0) << pull.err;
    EXPECT_EQ(pull.out, id + "\n");

    auto push =
        kapsel(1, {"push", reg.host() + "/from-skopeo:latest", reg.host() + "/from-kapsel:1"});
    ASSERT_EQ(push.code, 0) << push.err;
    auto inspect = run_program({"/usr/bin/skopeo", "inspect", "--tls-verify=false",
                                "docker://" + reg.host() + "/from-kapsel:1"},
                               "", 60000);
    ASSERT_EQ(inspect.code, 0) << inspect.err;
    json info = json::parse(inspect.out, nullptr, false);
    EXPECT_EQ(info["Digest"], push.out.substr(0, push.out.size() - 1));
    // skopeo compressed the layer on its way to the registry: kapsel pulled, stored
    // and pushed the gzip blob, whose diff id is the fixture's layer.
    ASSERT_EQ(info["Layers"].size(), 1u) << inspect.out;
    EXPECT_NE(info["Layers"][0], m["layers"][0]["digest"]);
    EXPECT_TRUE(
        sfs::exists(store(1) + "/blobs/sha256/" + info["Layers"][0].get<std::string>().substr(7)));
}

TEST_F(RegistryTest, BearerTokenFromATokenServerAndARedirectToStorage) {
    FakeRegistry reg({"--bearer", "kapsel:t0ken", "--redirect"});
    REQUIRE_SERVER(reg);
    std::string ref = reg.host() + "/busybox:latest";

    auto anonymous = kapsel(1, {"pull", ref});
    EXPECT_EQ(anonymous.code, 1);
    EXPECT_TRUE(one_line(anonymous.err)) << anonymous.err;
    EXPECT_TRUE(contains(anonymous.err,
                         "pull " + ref + ": get a token from http://" + reg.host() + "/token: "))
        << anonymous.err;
    EXPECT_TRUE(contains(anonymous.err, "incorrect username or password (HTTP 401): pass --creds"))
        << anonymous.err;

    auto pull = kapsel(1, {"pull", "--creds", "kapsel:t0ken", ref});
    ASSERT_EQ(pull.code, 0) << pull.err;
    EXPECT_EQ(pull.out, fixture_manifest()["config"]["digest"].get<std::string>() + "\n");

    bool token_with_basic = false, manifest_with_bearer = false, storage_without_token = false;
    for (auto& l : reg.request_lines()) {
        if (l.rfind("GET /token?service=fake-registry&scope=repository%3Abusybox%3Apull ", 0) ==
                0 &&
            contains(l, "auth=basic"))
            token_with_basic = true;
        if (l.rfind("GET /v2/busybox/manifests/latest ", 0) == 0 && contains(l, "auth=bearer"))
            manifest_with_bearer = true;
        if (l.rfind("GET /storage/", 0) == 0) {
            EXPECT_TRUE(contains(l, "auth=none")) << "the token went along to another host: " << l;
            storage_without_token = true;
        }
    }
    EXPECT_TRUE(token_with_basic) << read_text(reg.requests());
    EXPECT_TRUE(manifest_with_bearer) << read_text(reg.requests());
    EXPECT_TRUE(storage_without_token)
        << "blobs come from the redirect target: " << read_text(reg.requests());
}

TEST_F(RegistryTest, ResumesADroppedBlobDownload) {
    FakeRegistry reg({"--drop-after", "300000"});
    REQUIRE_SERVER(reg);
    json m = fixture_manifest();
    std::string layer = m["layers"][0]["digest"];
    ASSERT_GT(m["layers"][0]["size"].get<uint64_t>(), 300000u);

    auto pull = kapsel(1, {"pull", reg.host() + "/busybox:latest"});
    ASSERT_EQ(pull.code, 0) << pull.err;
    EXPECT_EQ(pull.out, m["config"]["digest"].get<std::string>() + "\n");
    int full = 0, resumed = 0;
    for (auto& l : reg.request_lines()) {
        if (l.rfind("GET /v2/busybox/blobs/" + layer + " range=-", 0) == 0) ++full;
        if (l.rfind("GET /v2/busybox/blobs/" + layer + " range=bytes=300000-", 0) == 0) ++resumed;
    }
    EXPECT_EQ(full, 1) << read_text(reg.requests());
    EXPECT_EQ(resumed, 1) << "the second request starts where the first one broke: "
                          << read_text(reg.requests());
    std::string blob = read_text(store(1) + "/blobs/sha256/" + layer.substr(7));
    EXPECT_EQ(blob.size(), m["layers"][0]["size"].get<uint64_t>());
    EXPECT_TRUE(sfs::is_empty(store(1) + "/tmp"));
}

TEST_F(RegistryTest, KeepsAPartialDownloadForTheNextPull) {
    FakeRegistry reg({"--drop-after", "100000"});
    REQUIRE_SERVER(reg);
    reg.set_drops(1000);
    json m = fixture_manifest();
    std::string layer = m["layers"][0]["digest"];
    std::string ref = reg.host() + "/busybox:latest";

    auto broken = kapsel(1, {"pull", ref});
    EXPECT_EQ(broken.code, 1);
    // A warning per retry, then the error.
    std::istringstream lines_in(broken.err);
    std::vector<std::string> err_lines;
    for (std::string l; std::getline(lines_in, l);) err_lines.push_back(l);
    ASSERT_GE(err_lines.size(), 2u) << broken.err;
    for (size_t i = 0; i + 1 < err_lines.size(); ++i)
        EXPECT_TRUE(
            contains(err_lines[i], "kapsel: warning: blob " + layer + ": transfer closed with "))
            << err_lines[i];
    EXPECT_TRUE(contains(err_lines.back(), "kapsel: pull " + ref + ": layer " + layer + ": "))
        << broken.err;
    EXPECT_TRUE(contains(err_lines.back(), "kept: pull again to resume")) << broken.err;
    std::string partial = store(1) + "/tmp/" + layer.substr(7) + ".partial";
    ASSERT_TRUE(sfs::exists(partial)) << "the bytes received are kept";
    uint64_t kept = sfs::file_size(partial);
    EXPECT_GT(kept, 0u);
    EXPECT_EQ(kept % 100000, 0u);
    EXPECT_TRUE(images(1).empty());

    reg.set_drops(0);
    auto pull = kapsel(1, {"pull", ref});
    ASSERT_EQ(pull.code, 0) << pull.err;
    std::string resumed =
        "GET /v2/busybox/blobs/" + layer + " range=bytes=" + std::to_string(kept) + "-";
    auto lines = reg.request_lines();
    auto last_control = std::find_if(lines.rbegin(), lines.rend(),
                                     [](auto& l) { return l.rfind("GET /control", 0) == 0; });
    bool found = false;
    for (auto it = lines.rbegin(); it != last_control; ++it) found |= it->rfind(resumed, 0) == 0;
    EXPECT_TRUE(found) << "the second pull asks for the rest only: " << read_text(reg.requests());
    EXPECT_FALSE(sfs::exists(partial));
    EXPECT_EQ(images(1).size(), 1u);
}

TEST_F(RegistryTest, CorruptBlobIsRefusedAndLeavesNothing) {
    FakeRegistry reg({"--corrupt"});
    REQUIRE_SERVER(reg);
    json m = fixture_manifest();
    std::string layer = m["layers"][0]["digest"];
    std::string ref = reg.host() + "/busybox:latest";

    auto pull = kapsel(1, {"pull", ref});
    EXPECT_EQ(pull.code, 1);
    EXPECT_TRUE(one_line(pull.err)) << pull.err;
    EXPECT_TRUE(contains(pull.err, "pull " + ref + ": layer " + layer +
                                       ": layer digest mismatch: expected " + layer))
        << pull.err;
    expect_empty_store(1, layer);
}

TEST_F(RegistryTest, MultiPlatformIndexPicksTheHostArchitecture) {
    FakeRegistry reg({"--multiarch"});
    REQUIRE_SERVER(reg);
    json m = fixture_manifest();
    auto pull = kapsel(1, {"pull", reg.host() + "/busybox:latest"});
    ASSERT_EQ(pull.code, 0) << pull.err;
    EXPECT_EQ(pull.out, m["config"]["digest"].get<std::string>() + "\n")
        << "the fixture is the host's architecture; the other entry has another config";
    auto list = images(1);
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0]["names"], json::array({reg.host() + "/busybox:latest"}));
}

TEST_F(RegistryTest, FetchHelperAnswersOneRequestPerLine) {
    FakeRegistry reg({});
    REQUIRE_SERVER(reg);
    std::string helper = sfs::path(kapsel_binary()).parent_path() / "kapsel-fetch";
    ASSERT_TRUE(executable(helper)) << helper;
    std::string url = "http://" + reg.host();
    std::string nowhere = "http://127.0.0.1:" + std::to_string(free_port()) + "/v2/";
    auto out = run_program(
        {helper}, json{{"url", url + "/v2/"}}.dump() + "\n" +
                      json{{"method", "HEAD"}, {"url", url + "/v2/busybox/manifests/nope"}}.dump() +
                      "\n" + json{{"url", nowhere}}.dump() + "\n");
    ASSERT_EQ(out.code, 0) << out.err;
    std::istringstream in(out.out);
    std::string h1, b1, body, e1, h2, e2, e3;
    std::getline(in, h1);
    std::getline(in, b1);
    ASSERT_EQ(b1, "B 2") << out.out;
    body.resize(2);
    in.read(body.data(), 2);
    std::getline(in, e1);
    std::getline(in, h2);
    std::getline(in, e2);
    std::getline(in, e3);
    ASSERT_EQ(h1.substr(0, 2), "H ");
    json head = json::parse(h1.substr(2));
    EXPECT_EQ(head["status"], 200);
    EXPECT_EQ(head["url"], url + "/v2/");
    EXPECT_TRUE(std::find(head["headers"].begin(), head["headers"].end(),
                          json::array({"content-type", "application/json"})) !=
                head["headers"].end())
        << h1;
    EXPECT_EQ(body, "{}");
    EXPECT_EQ(e1, R"(E {"code":0,"error":""})");
    EXPECT_EQ(json::parse(h2.substr(2))["status"], 404) << "a HEAD has a head and no body";
    EXPECT_EQ(e2, R"(E {"code":0,"error":""})");
    ASSERT_EQ(e3.substr(0, 2), "E ") << "no response, no head: " << out.out;
    EXPECT_EQ(json::parse(e3.substr(2))["code"], 7) << "CURLE_COULDNT_CONNECT: " << e3;
}

}  // namespace
}  // namespace kapsel::test
