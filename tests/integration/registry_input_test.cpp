// Hostile registries (issue 12): tests/integration/fake_registry.py serving wrongly
// typed manifests, configs, token responses and error bodies. Each pull fails with one
// line that names the document and the field, never an abort, and adds nothing.
#include "registry_support.hpp"

namespace kapsel::test {
namespace {

class RegistryInput : public RegistryTest {
  protected:
    // Pulls the fake registry's busybox:latest into store 1 and expects it refused: exit
    // status 1 (not 134, SIGABRT), one line, `message` in it, no image, a sound store.
    Output expect_refused_pull(FakeRegistry& reg, const std::string& message,
                               const std::vector<std::string>& extra = {}) {
        std::vector<std::string> args = {"pull", "-q"};
        args.insert(args.end(), extra.begin(), extra.end());
        args.push_back(reg.host() + "/busybox:latest");
        Output o = kapsel(1, args);
        EXPECT_EQ(o.code, 1) << o.err;
        EXPECT_FALSE(contains(o.err, "terminate")) << o.err;
        EXPECT_TRUE(one_line(o.err)) << o.err;
        EXPECT_TRUE(contains(o.err, message)) << "want: " << message << "\ngot: " << o.err;
        auto list = images(1);
        EXPECT_TRUE(list.is_array() && list.empty()) << list.dump();
        auto check = kapsel(1, {"system", "check"});
        EXPECT_EQ(check.code, 0) << check.out << check.err;
        return o;
    }
};

TEST_F(RegistryInput, WronglyTypedManifestsAreRefused) {
    struct Case {
        std::vector<std::string> options;
        std::string message;
    } cases[] = {
        {{"--patch-manifest", R"({"mediaType": 5})"},
         "manifest latest: mediaType: expected a string, got 5"},
        {{"--patch-manifest", R"({"schemaVersion": "2"})"},
         "manifest latest: schemaVersion: expected an integer, got the string \"2\""},
        {{"--manifest-text", "[1]"}, "manifest latest: expected an object, got an array"},
        {{"--patch-manifest", R"({"layers": [5]})"}, ": layers[0]: expected an object, got 5"},
        {{"--patch-manifest", R"({"config": {"digest": 5}})"},
         ": config.digest: expected a string, got 5"},
        {{"--patch-manifest", R"({"layers": null})"}, "has 0 layers, its config 1"},
    };
    for (auto& c : cases) {
        FakeRegistry reg(c.options);
        REQUIRE_SERVER(reg);
        expect_refused_pull(reg, c.message);
    }
}

TEST_F(RegistryInput, WronglyTypedConfigsAreRefused) {
    struct Case {
        std::string patch, message;
    } cases[] = {
        {R"({"architecture": 5})", ": architecture: expected a string, got 5"},
        {R"({"config": {"Cmd": "sh"}})", ": config.Cmd: expected an array, got the string \"sh\""},
        {R"({"config": {"Labels": {"a": 1}}})", ": config.Labels.a: expected a string, got 1"},
        {R"({"rootfs": {"diff_ids": [5]}})", ": rootfs.diff_ids[0]: expected a string, got 5"},
    };
    for (auto& c : cases) {
        FakeRegistry reg({"--patch-config", c.patch});
        REQUIRE_SERVER(reg);
        Output o = expect_refused_pull(reg, c.message);
        EXPECT_TRUE(contains(o.err, ": config sha256:")) << "the config is named: " << o.err;
    }
}

TEST_F(RegistryInput, WronglyTypedTokenResponsesAreRefused) {
    struct Case {
        std::string body, message;
    } cases[] = {
        {R"({"token": 5})", "/token: token: expected a string, got 5"},
        {R"({"access_token": ["x"]})", "/token: access_token: expected a string, got an array"},
        {"[1]", "/token: expected an object, got an array"},
        {"{", "/token: invalid JSON"},
        {R"({"token": "a\r\nX-Injected: 1"})", "/token sent a token with a line break"},
        {R"({"expires_in": 300})", "/token sent no token"},
    };
    for (auto& c : cases) {
        FakeRegistry reg({"--bearer", "kapsel:t0ken", "--token-body", c.body});
        REQUIRE_SERVER(reg);
        expect_refused_pull(reg, "the token server http://" + reg.host() + c.message,
                            {"--creds", "kapsel:t0ken"});
    }
}

TEST_F(RegistryInput, ARealmThatIsNoHttpUrlIsRefused) {
    struct Case {
        std::string realm, shown;
    } cases[] = {
        {"file:///etc/passwd", "\"file:///etc/passwd\""},
        {"http://127.0.0.1:1/\x1b[2Jtoken", "\"http://127.0.0.1:1/\\x1b[2Jtoken\""},
    };
    for (auto& c : cases) {
        FakeRegistry reg({"--bearer", "kapsel:t0ken", "--realm", c.realm});
        REQUIRE_SERVER(reg);
        Output o = expect_refused_pull(
            reg, "the registry's Bearer challenge names the realm " + c.shown + ", which is not an http(s) URL");
        EXPECT_FALSE(contains(o.err, "\x1b")) << "no escape sequence reaches the terminal";
    }
}

TEST_F(RegistryInput, WronglyTypedErrorBodiesStillGiveTheStatus) {
    for (std::string body : {R"({"errors": [{"message": 5, "code": 7}]})", R"({"errors": [5]})",
                             R"({"errors": "x"})", "[[[[[[[[", R"({"details": {}})"}) {
        FakeRegistry reg({"--error-body", body});
        REQUIRE_SERVER(reg);
        Output o = kapsel(1, {"pull", "-q", reg.host() + "/busybox:nope"});
        EXPECT_EQ(o.code, 1) << body << ": " << o.err;
        EXPECT_EQ(o.err, "kapsel: pull " + reg.host() + "/busybox:nope: not found (HTTP 404)\n")
            << body;
    }
}

TEST_F(RegistryInput, ADeclaredLayerSizeIsAHardCap) {
    json m = fixture_manifest();
    std::string layer = m["layers"][0]["digest"];
    // 0 is an empty blob, not "unknown": it once switched the bound off, and a server
    // could stream without end before the digest check.
    for (uint64_t declared : {uint64_t{0}, uint64_t{1000}}) {
        FakeRegistry reg({"--layer-size", std::to_string(declared)});
        REQUIRE_SERVER(reg);
        expect_refused_pull(reg, "layer " + layer + ": blob " + layer + " is larger than the " +
                                     std::to_string(declared) + " bytes the manifest says");
        expect_empty_store(1, layer);
        int requests = 0;
        for (auto& l : reg.request_lines())
            requests += l.rfind("GET /v2/busybox/blobs/" + layer + " ", 0) == 0;
        EXPECT_EQ(requests, 1) << "refused at once, not retried: " << read_text(reg.requests());
    }
}

TEST_F(RegistryInput, ADeclaredConfigSizeIsAHardCap) {
    FakeRegistry reg({"--patch-manifest", R"({"config": {"size": 3}})"});
    REQUIRE_SERVER(reg);
    std::string config = fixture_manifest()["config"]["digest"];
    expect_refused_pull(reg, "blob " + config + ": the response is larger than 3 bytes");
}

// A server that answers and then sends two bytes a second (or nothing) held a pull
// for ever: curl's old low-speed limit was one byte a second.
TEST_F(RegistryInput, AStalledTransferEndsAfterTheStallTimeout) {
    json m = fixture_manifest();
    std::string layer = m["layers"][0]["digest"];
    for (const char* rate : {"2", "0"}) {
        FakeRegistry reg({"--trickle", rate});
        REQUIRE_SERVER(reg);
        std::string ref = reg.host() + "/busybox:latest";
        int64_t start = monotonic_ms();
        // On a terminal, for the progress line.
        Output o = run_on_pty(
            {kapsel_binary(), "--storage-root", store(1), "pull", "--stall-timeout", "2", ref},
            120000);
        int64_t took = monotonic_ms() - start;
        EXPECT_EQ(o.code, 1) << rate << ": " << o.out;
        // Five attempts of about two seconds, and the pauses between them.
        EXPECT_LT(took, 40000) << rate;
        EXPECT_TRUE(contains(o.out, "kapsel: pull " + ref + ": layer " + layer +
                                        ": the transfer stalled: less than 1024 bytes/s for 2 s, "
                                        "5 attempts"))
            << rate << ": " << o.out;
        EXPECT_TRUE(contains(o.out, "\rlayer 1/1: 0.0 of ")) << rate << ": " << o.out;
        EXPECT_TRUE(contains(o.out, " MB, stalled for 2 s")) << "the progress line shows the stall ("
                                                             << rate << "): " << o.out;
        EXPECT_TRUE(images(1).empty());
    }
}

TEST_F(RegistryInput, TheStallTimeoutIsAnOption) {
    auto bad = kapsel(1, {"pull", "--stall-timeout", "soon", "127.0.0.1:1/x"});
    EXPECT_EQ(bad.code, 1);
    EXPECT_TRUE(contains(bad.err, "--stall-timeout")) << bad.err;
    auto help = kapsel(1, {"pull", "--help"});
    EXPECT_TRUE(contains(help.out, "--stall-timeout")) << help.out;
    std::string page = read_text(source_dir() + "/docs/man/kapsel-pull.8");
    EXPECT_TRUE(contains(page, "stall\\-timeout")) << "documented in kapsel-pull.8";
}

}  // namespace
}  // namespace kapsel::test
