// image/distribution.cpp: references, WWW-Authenticate challenges, URLs, error
// texts and platform choice, as a registry pull and push use them.
#include <gtest/gtest.h>

#include "image/distribution.hpp"

namespace kapsel::image {
namespace {

RegistryRef parsed(const std::string& text) {
    auto r = parse_registry_reference(text);
    EXPECT_TRUE(r.ok()) << text << ": " << r.error().message;
    return r ? *r : RegistryRef{};
}

std::string ref_error(const std::string& text) {
    auto r = parse_registry_reference(text);
    return r ? "(parsed)" : r.error().message;
}

TEST(RegistryReference, OfficialImagesAreDockerHubLibrary) {
    auto r = parsed("busybox");
    EXPECT_EQ(r.registry, "docker.io");
    EXPECT_EQ(r.api_host(), "registry-1.docker.io");
    EXPECT_EQ(r.repository, "library/busybox");
    EXPECT_EQ(r.tag, "latest");
    EXPECT_EQ(r.digest, "");
    EXPECT_EQ(r.name(), "docker.io/library/busybox:latest");
    EXPECT_EQ(parsed("busybox:1.36").name(), "docker.io/library/busybox:1.36");
    EXPECT_EQ(parsed("docker.io/busybox").repository, "library/busybox");
    EXPECT_EQ(parsed("index.docker.io/library/busybox").name(), "docker.io/library/busybox:latest");
}

TEST(RegistryReference, UserImagesOnDockerHubHaveNoLibraryPrefix) {
    auto r = parsed("someone/tool:v2");
    EXPECT_EQ(r.registry, "docker.io");
    EXPECT_EQ(r.repository, "someone/tool");
    EXPECT_EQ(r.tag, "v2");
}

TEST(RegistryReference, FirstComponentIsARegistryWithADotAPortOrLocalhost) {
    auto r = parsed("127.0.0.1:5000/busybox:latest");
    EXPECT_EQ(r.registry, "127.0.0.1:5000");
    EXPECT_EQ(r.api_host(), "127.0.0.1:5000");
    EXPECT_EQ(r.repository, "busybox") << "no library/ outside docker.io";
    EXPECT_EQ(r.name(), "127.0.0.1:5000/busybox:latest");

    auto q = parsed("quay.io/org/sub/app");
    EXPECT_EQ(q.registry, "quay.io");
    EXPECT_EQ(q.repository, "org/sub/app");
    EXPECT_EQ(q.tag, "latest");

    EXPECT_EQ(parsed("localhost/x").registry, "localhost");
    EXPECT_EQ(parsed("localhost:5000/x").tag, "latest") << "the port is not a tag";
    EXPECT_EQ(parsed("myhost:5000/a/b:7").tag, "7");
}

TEST(RegistryReference, Digests) {
    std::string d = "sha256:" + std::string(64, 'a');
    auto r = parsed("127.0.0.1:5000/busybox@" + d);
    EXPECT_EQ(r.digest, d);
    EXPECT_EQ(r.reference(), d) << "a digest wins over the tag";
    EXPECT_EQ(r.name(), "127.0.0.1:5000/busybox@" + d);
    auto both = parsed("busybox:1.36@" + d);
    EXPECT_EQ(both.tag, "1.36");
    EXPECT_EQ(both.reference(), d);
    EXPECT_EQ(parsed("docker://quay.io/a/b:c").name(), "quay.io/a/b:c")
        << "skopeo's transport prefix is accepted";
}

TEST(RegistryReference, InvalidReferencesSayWhy) {
    EXPECT_NE(ref_error("Busybox").find("must be lower case"), std::string::npos)
        << ref_error("Busybox");
    EXPECT_NE(ref_error("busybox@sha256:abc").find("not a sha256 digest"), std::string::npos);
    EXPECT_NE(ref_error("busybox@sha512:" + std::string(128, 'a')).find("only sha256"),
              std::string::npos);
    EXPECT_NE(ref_error("busybox:bad/tag").find("not a valid registry host"), std::string::npos)
        << ref_error("busybox:bad/tag");
    EXPECT_EQ(ref_error("[::1]:5000/x"), "(parsed)");
    EXPECT_NE(ref_error("a_b.io/x").find("not a valid registry host"), std::string::npos);
    EXPECT_NE(ref_error("busybox:-x").find("not a valid tag"), std::string::npos);
    EXPECT_NE(ref_error("quay.io/").find("no repository"), std::string::npos)
        << ref_error("quay.io/");
    EXPECT_NE(ref_error("a//b").find("not a valid repository name component"), std::string::npos);
    EXPECT_NE(ref_error("a/-b").find("not a valid"), std::string::npos);
    EXPECT_NE(ref_error("a/b.").find("not a valid"), std::string::npos);
    EXPECT_EQ(ref_error("a/b__c-d.e"), "(parsed)");
    EXPECT_NE(ref_error("a/b___c").find("not a valid"), std::string::npos);
    EXPECT_EQ(ref_error("Busybox").rfind("invalid reference \"Busybox\": ", 0), 0u)
        << ref_error("Busybox");
}

std::string name_error(const std::string& name) {
    auto r = check_image_name(name);
    return r ? "(valid)" : r.error().message;
}

TEST(ImageNames, TheDistributionReferenceGrammarIsAccepted) {
    const std::string d = "sha256:" + std::string(64, 'e');
    for (const std::string& ok : std::vector<std::string>{
             "busybox", "busybox:latest", "library/busybox:1.36.1", "localhost/kapsel-busybox:latest",
          "quay.io/org/sub/app:v2_rc.1", "127.0.0.1:5000/x", "Registry.Example.COM/a/b", "[::1]:5000/x:y",
          "a/b__c-d.e---f", "a_b.c-d:_tag", "x@" + d, "x:tag@" + d, "docker.io/library/busybox:" + std::string(128, 'T'),
          std::string(255, 'a'), "reg.io/" + std::string(248, 'a')})
        EXPECT_EQ(name_error(ok), "(valid)") << ok;
}

TEST(ImageNames, HostileNamesAreRefusedAndShownEscaped) {
    EXPECT_EQ(name_error("a\nb"),
              "invalid image name \"a\\x0ab\": \"a\\x0ab\" is not a valid repository name component");
    EXPECT_EQ(name_error("evil:latest\n\x1b[31mfake line"),
              "invalid image name \"evil:latest\\x0a\\x1b[31mfake line\": \"latest\\x0a\\x1b[31mfake line\" is "
              "not a valid tag");
    EXPECT_NE(name_error("reg\r.io/x").find("is not a valid registry host"), std::string::npos);
    for (const std::string& bad : std::vector<std::string>{
             "", "a\tb", "x y", "UPPER", "a/B", "a//b", "a/-b", "a-/b", "a.", "_a", "a..b", "a._b", "a-_b",
          "a___b", "a:", "a:.tag", "a:-tag", "a:" + std::string(129, 't'), "a@sha256:xyz", "a@md5:abc",
          "-reg.io/x", "reg-.io/x", "re..g.io/x", "reg.io:port/x", "reg.io:/x", "reg.io/", "docker://busybox",
          "a\x7f", "caf\xc3\xa9", std::string(256, 'a'), "reg.io/" + std::string(249, 'a')})
        EXPECT_NE(name_error(bad), "(valid)") << bad;
    EXPECT_NE(name_error("a/B").find("must be lower case"), std::string::npos) << name_error("a/B");
}

TEST(WwwAuthenticate, BearerWithQuotedParameters) {
    auto c = parse_www_authenticate(
        R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push")");
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].scheme, "bearer");
    EXPECT_EQ(c[0].params["realm"], "https://auth.docker.io/token");
    EXPECT_EQ(c[0].params["service"], "registry.docker.io");
    EXPECT_EQ(c[0].params["scope"], "repository:library/busybox:pull,push")
        << "a comma inside quotes is part of the value";
}

TEST(WwwAuthenticate, BasicAndSeveralChallenges) {
    auto basic = parse_www_authenticate(R"(Basic realm="kapsel \"test\" realm")");
    ASSERT_EQ(basic.size(), 1u);
    EXPECT_EQ(basic[0].scheme, "basic");
    EXPECT_EQ(basic[0].params["realm"], "kapsel \"test\" realm");

    auto two = parse_www_authenticate(
        R"(Basic realm=simple, BEARER Realm="http://x/token" , error=insufficient_scope)");
    ASSERT_EQ(two.size(), 2u);
    EXPECT_EQ(two[0].scheme, "basic");
    EXPECT_EQ(two[0].params["realm"], "simple");
    EXPECT_EQ(two[1].scheme, "bearer");
    EXPECT_EQ(two[1].params["realm"], "http://x/token") << "parameter names are case-insensitive";
    EXPECT_EQ(two[1].params["error"], "insufficient_scope");

    EXPECT_TRUE(parse_www_authenticate("").empty());
    auto bare = parse_www_authenticate("Negotiate");
    ASSERT_EQ(bare.size(), 1u);
    EXPECT_TRUE(bare[0].params.empty());
}

TEST(RegistryUrls, ApiPaths) {
    std::string base = "https://registry-1.docker.io";
    std::string d = "sha256:" + std::string(64, 'b');
    EXPECT_EQ(manifest_url(base, "library/busybox", "latest"),
              base + "/v2/library/busybox/manifests/latest");
    EXPECT_EQ(blob_url(base, "library/busybox", d), base + "/v2/library/busybox/blobs/" + d);
    EXPECT_EQ(upload_url("http://127.0.0.1:5000", "x/y"),
              "http://127.0.0.1:5000/v2/x/y/blobs/uploads/");
}

TEST(RegistryUrls, TokenUrlEncodesServiceAndScope) {
    EXPECT_EQ(token_url("https://auth.docker.io/token", "registry.docker.io",
                        "repository:library/busybox:pull"),
              "https://auth.docker.io/"
              "token?service=registry.docker.io&scope=repository%3Alibrary%2Fbusybox%3Apull");
    EXPECT_EQ(token_url("https://r/t?x=1", "", "s p"), "https://r/t?x=1&scope=s%20p");
}

TEST(RegistryUrls, UploadLocationsAbsoluteAndRelative) {
    std::string req = "http://127.0.0.1:5000/v2/busybox/blobs/uploads/";
    EXPECT_EQ(resolve_url(req, "/v2/busybox/blobs/uploads/abc?_state=x"),
              "http://127.0.0.1:5000/v2/busybox/blobs/uploads/abc?_state=x");
    EXPECT_EQ(resolve_url(req, "https://storage.example/u/1"), "https://storage.example/u/1");
    EXPECT_EQ(resolve_url(req, "//cdn.example/u/1"), "http://cdn.example/u/1");
    EXPECT_EQ(resolve_url(req, "abc"), "http://127.0.0.1:5000/v2/busybox/blobs/uploads/abc");
    std::string d = "sha256:" + std::string(64, 'c');
    EXPECT_EQ(add_query("http://h/u/abc?_state=x", "digest", d),
              "http://h/u/abc?_state=x&digest=sha256%3A" + std::string(64, 'c'));
    EXPECT_EQ(add_query("http://h/u/abc", "digest", d),
              "http://h/u/abc?digest=sha256%3A" + std::string(64, 'c'));
}

TEST(RegistryUrls, Base64ForBasicCredentials) {
    EXPECT_EQ(base64("user:pass"), "dXNlcjpwYXNz");
    EXPECT_EQ(base64(""), "");
    EXPECT_EQ(base64("a"), "YQ==");
    EXPECT_EQ(base64("ab"), "YWI=");
    EXPECT_EQ(base64("abc"), "YWJj");
    EXPECT_EQ(base64(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(RegistryHosts, LoopbackMayUsePlainHttp) {
    EXPECT_TRUE(is_loopback_host("localhost"));
    EXPECT_TRUE(is_loopback_host("localhost:5000"));
    EXPECT_TRUE(is_loopback_host("127.0.0.1:5000"));
    EXPECT_TRUE(is_loopback_host("127.1.2.3"));
    EXPECT_TRUE(is_loopback_host("[::1]:5000"));
    EXPECT_FALSE(is_loopback_host("127.example.com"));
    EXPECT_FALSE(is_loopback_host("10.0.0.1:5000"));
    EXPECT_FALSE(is_loopback_host("docker.io"));
    EXPECT_FALSE(is_loopback_host("127.0.0.256"));
}

TEST(RegistryErrors, TheRegistrysMessageAndTheStatus) {
    EXPECT_EQ(
        http_error_text(
            404,
            R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"nope"}}]})"),
        "manifest unknown (HTTP 404)");
    EXPECT_EQ(http_error_text(401, R"({"errors":[{"code":"UNAUTHORIZED"}]})"),
              "unauthorized (HTTP 401)");
    EXPECT_EQ(http_error_text(404, "<html>not found</html>"), "not found (HTTP 404)");
    EXPECT_EQ(http_error_text(503, ""), "service unavailable (HTTP 503)");
    EXPECT_EQ(http_error_text(401, R"({"details":"incorrect username or password"})"),
              "incorrect username or password (HTTP 401)");
    EXPECT_EQ(http_error_text(400, R"({"errors":[{"message":"two\nlines"}]})"),
              "two lines (HTTP 400)");
}

TEST(RegistryErrors, WronglyTypedErrorBodiesFallBackToTheStatus) {
    // Each of these threw nlohmann's type_error, which aborted kapsel.
    EXPECT_EQ(http_error_text(404, R"({"errors":[{"message":5}]})"), "not found (HTTP 404)");
    EXPECT_EQ(http_error_text(404, R"({"errors":[{"code":["X"]}]})"), "not found (HTTP 404)");
    EXPECT_EQ(http_error_text(404, R"({"errors":[5]})"), "not found (HTTP 404)");
    EXPECT_EQ(http_error_text(404, R"({"errors":"x","message":"said so"})"),
              "said so (HTTP 404)");
    EXPECT_EQ(http_error_text(401, R"({"details":{"a":1}})"), "unauthorized (HTTP 401)");
    EXPECT_EQ(http_error_text(404, "[1]"), "not found (HTTP 404)");
    EXPECT_EQ(http_error_text(404, std::string(100000, '[')), "not found (HTTP 404)");
}

TEST(RegistryErrors, TheServersTextIsOneShortPrintableLine) {
    EXPECT_EQ(http_error_text(400, R"({"errors":[{"message":"a\u001b[2Jb\tc"}]})"),
              "a [2Jb c (HTTP 400)");
    std::string said = http_error_text(400, "{\"message\":\"" + std::string(5000, 'x') + "\"}");
    EXPECT_EQ(said, std::string(200, 'x') + "... (HTTP 400)");
}

TEST(RegistryPlatforms, PicksLinuxOnTheHostArchitecture) {
    auto d = [](const char* os, const char* arch, const char* variant, char fill) {
        Descriptor x;
        x.digest = "sha256:" + std::string(64, fill);
        x.os = os;
        x.architecture = arch;
        x.variant = variant;
        return x;
    };
    Index idx{{d("linux", "arm64", "v8", 'a'), d("windows", "amd64", "", 'b'),
               d("linux", "amd64", "v3", 'c'), d("linux", "amd64", "", 'd')}};
    ASSERT_NE(choose_platform(idx, "amd64"), nullptr);
    EXPECT_EQ(choose_platform(idx, "amd64")->digest.back(), 'd') << "a variant-less entry first";
    EXPECT_EQ(choose_platform(idx, "arm64")->digest.back(), 'a');
    EXPECT_EQ(choose_platform(idx, "s390x"), nullptr);
    EXPECT_EQ(platforms_of(idx), "linux/arm64/v8, windows/amd64, linux/amd64/v3, linux/amd64");
}

}  // namespace
}  // namespace kapsel::image
