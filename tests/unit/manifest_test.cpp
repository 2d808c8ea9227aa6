// image/manifest.cpp: the OCI documents kapsel reads from archives, layouts and
// registries. Every one may be hostile: a wrong type is an error naming the document
// and the field, never an exception.
#include "image/manifest.hpp"

#include <gtest/gtest.h>

#include "oci/json_reader.hpp"

namespace kapsel::image {
namespace {

using json = nlohmann::json;

const std::string kDigest = "sha256:" + std::string(64, 'a');
const std::string kOther = "sha256:" + std::string(64, 'b');

json manifest_doc() {
    return {{"schemaVersion", 2},
            {"mediaType", kMediaManifest},
            {"config", {{"mediaType", kMediaConfig}, {"digest", kDigest}, {"size", 7}}},
            {"layers", {{{"mediaType", kMediaLayerGzip}, {"digest", kOther}, {"size", 1234}}}}};
}

json config_doc() {
    return {{"architecture", "amd64"},
            {"os", "linux"},
            {"config",
             {{"User", "1000"},
              {"Env", {"PATH=/bin"}},
              {"Cmd", {"sh"}},
              {"ExposedPorts", {{"80/tcp", json::object()}}},
              {"Labels", {{"a", "b"}}}}},
            {"rootfs", {{"type", "layers"}, {"diff_ids", {kOther}}}}};
}

// The error of parsing `doc` (after `edit`), or "(parsed)".
template <class Parse>
std::string error_of(Parse parse, const std::string& text) {
    auto r = parse(text);
    return r ? "(parsed)" : r.error().message;
}

std::string manifest_error(const json& doc) {
    return error_of([](const std::string& t) { return parse_manifest(t, "manifest X"); },
                    doc.dump());
}
std::string index_error(const json& doc) {
    return error_of([](const std::string& t) { return parse_index(t, "index.json"); }, doc.dump());
}
std::string config_error(const json& doc) {
    return error_of([](const std::string& t) { return parse_config(t, "config Y"); }, doc.dump());
}

TEST(ParseManifest, ReadsConfigAndLayers) {
    auto m = parse_manifest(manifest_doc().dump());
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->config.digest, kDigest);
    EXPECT_EQ(m->config.size, 7u);
    ASSERT_EQ(m->layers.size(), 1u);
    EXPECT_EQ(m->layers[0].media_type, kMediaLayerGzip);
    EXPECT_EQ(m->layers[0].size, 1234u);
}

TEST(ParseManifest, WrongTypesNameTheDocumentAndTheField) {
    json d = manifest_doc();
    d["mediaType"] = 5;
    EXPECT_EQ(manifest_error(d), "manifest X: mediaType: expected a string, got 5");

    d = manifest_doc();
    d["layers"] = {5};
    EXPECT_EQ(manifest_error(d), "manifest X: layers[0]: expected an object, got 5");

    d = manifest_doc();
    d["layers"] = "x";
    EXPECT_EQ(manifest_error(d), "manifest X: layers: expected an array, got the string \"x\"");

    d = manifest_doc();
    d["layers"][0]["size"] = "1234";
    EXPECT_EQ(manifest_error(d),
              "manifest X: layers[0].size: expected an unsigned integer, got the string \"1234\"");

    d = manifest_doc();
    d["layers"][0]["size"] = -1;
    EXPECT_EQ(manifest_error(d), "manifest X: layers[0].size: expected an unsigned integer, got -1");

    d = manifest_doc();
    d["config"]["digest"] = json::array();
    EXPECT_EQ(manifest_error(d), "manifest X: config.digest: expected a string, got an array");

    d = manifest_doc();
    d["config"]["annotations"] = {{"k", 1}};
    EXPECT_EQ(manifest_error(d), "manifest X: config.annotations.k: expected a string, got 1");

    d = manifest_doc();
    d["schemaVersion"] = "2";
    EXPECT_EQ(manifest_error(d),
              "manifest X: schemaVersion: expected an integer, got the string \"2\"");

    EXPECT_EQ(manifest_error(json::array({1})), "manifest X: expected an object, got an array");
    EXPECT_EQ(manifest_error(5), "manifest X: expected an object, got 5");
}

TEST(ParseManifest, SizeAndDigestAreRequired) {
    json d = manifest_doc();
    d["layers"][0].erase("size");
    EXPECT_EQ(manifest_error(d), "manifest X: layers[0].size: required field is missing")
        << "the size is the download's cap: without one there is no bound";
    d = manifest_doc();
    d.erase("config");
    EXPECT_EQ(manifest_error(d), "manifest X: config: required field is missing");
    d = manifest_doc();
    d["layers"][0]["digest"] = "sha256:\x1b[2Jgotcha\nline";
    EXPECT_EQ(manifest_error(d),
              "manifest X: layers[0].digest: \"sha256:\\x1b[2Jgotcha\\x0aline\" is not a sha256 "
              "digest")
        << "the hostile string is shown escaped, on one line";
}

TEST(ParseManifest, InvalidOrDeeplyNestedJsonIsAnError) {
    EXPECT_EQ(error_of([](const std::string& t) { return parse_manifest(t, "m"); }, "{"),
              "m: invalid JSON");
    // Copying or printing a json recurses per level: this must not reach nlohmann.
    std::string deep(1 << 20, '[');
    EXPECT_EQ(error_of([](const std::string& t) { return parse_manifest(t, "m"); }, deep),
              "m: nested deeper than 64 levels");
    std::string in_string = "{\"mediaType\": \"" + std::string(100, '[') + "\"}";
    EXPECT_NE(error_of([](const std::string& t) { return parse_manifest(t, "m"); }, in_string)
                  .find("config: required field is missing"),
              std::string::npos)
        << "brackets inside a string are not nesting";
}

TEST(ParseIndex, WrongTypes) {
    json idx = {{"schemaVersion", 2},
                {"manifests",
                 {{{"mediaType", kMediaManifest},
                   {"digest", kDigest},
                   {"size", 10},
                   {"platform", {{"os", "linux"}, {"architecture", "amd64"}}},
                   {"annotations", {{"org.opencontainers.image.ref.name", "x:1"}}}}}}};
    auto ok = parse_index(idx.dump());
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(ok->manifests[0].architecture, "amd64");
    EXPECT_EQ(ok->manifests[0].annotations.at("org.opencontainers.image.ref.name"), "x:1");

    json d = idx;
    d["manifests"][0]["platform"]["architecture"] = 5;
    EXPECT_EQ(index_error(d), "index.json: manifests[0].platform.architecture: expected a string, got 5");
    d = idx;
    d["manifests"][0]["platform"] = "linux";
    EXPECT_EQ(index_error(d),
              "index.json: manifests[0].platform: expected an object, got the string \"linux\"");
    d = idx;
    d["manifests"] = {{{"digest", 1}}};
    EXPECT_EQ(index_error(d), "index.json: manifests[0].digest: expected a string, got 1");
    d = idx;
    d["manifests"][0]["annotations"] = {{"org.opencontainers.image.ref.name", {"x"}}};
    EXPECT_EQ(index_error(d),
              "index.json: manifests[0].annotations.org.opencontainers.image.ref.name: expected a "
              "string, got an array");
    d = idx;
    d["manifests"][0]["annotations"] = {{"bad\nkey", 1}};
    EXPECT_EQ(index_error(d),
              "index.json: manifests[0].annotations.\"bad\\x0akey\": expected a string, got 1");
    EXPECT_EQ(index_error(json::object()), "index.json: manifests: required field is missing");
    EXPECT_EQ(index_error(json::array({1})), "index.json: expected an object, got an array");
}

TEST(ParseConfig, ReadsWhatAContainerNeeds) {
    auto c = parse_config(config_doc().dump());
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->user, "1000");
    EXPECT_EQ(c->cmd, std::vector<std::string>{"sh"});
    EXPECT_EQ(c->exposed_ports, std::vector<std::string>{"80/tcp"});
    EXPECT_EQ(c->labels.at("a"), "b");
    EXPECT_EQ(c->diff_ids, std::vector<std::string>{kOther});
    json nulls = config_doc();
    nulls["config"]["Cmd"] = nullptr;  // what Go writes for an empty slice
    nulls["config"]["Labels"] = nullptr;
    EXPECT_EQ(config_error(nulls), "(parsed)");
}

TEST(ParseConfig, WrongTypesNameTheField) {
    json d = config_doc();
    d["architecture"] = 5;
    EXPECT_EQ(config_error(d), "config Y: architecture: expected a string, got 5");
    d = config_doc();
    d["config"]["Env"] = "PATH=/bin";
    EXPECT_EQ(config_error(d), "config Y: config.Env: expected an array, got the string \"PATH=/bin\"");
    d = config_doc();
    d["config"]["Cmd"] = {"sh", 1};
    EXPECT_EQ(config_error(d), "config Y: config.Cmd[1]: expected a string, got 1");
    d = config_doc();
    d["config"]["ExposedPorts"] = {"80/tcp"};
    EXPECT_EQ(config_error(d), "config Y: config.ExposedPorts: expected an object, got an array");
    d = config_doc();
    d["config"]["Labels"] = {{"a", true}};
    EXPECT_EQ(config_error(d), "config Y: config.Labels.a: expected a string, got true");
    d = config_doc();
    d["rootfs"]["diff_ids"] = {5};
    EXPECT_EQ(config_error(d), "config Y: rootfs.diff_ids[0]: expected a string, got 5");
    d = config_doc();
    d["rootfs"]["diff_ids"] = {"sha256:xyz"};
    EXPECT_EQ(config_error(d), "config Y: rootfs.diff_ids[0]: \"sha256:xyz\" is not a sha256 digest");
    d = config_doc();
    d["rootfs"] = "layers";
    EXPECT_EQ(config_error(d), "config Y: rootfs: expected an object, got the string \"layers\"");
    d = config_doc();
    d.erase("rootfs");
    EXPECT_EQ(config_error(d), "config Y: rootfs: required field is missing");
}

TEST(JsonReaderQuoted, HostileStringsStayOneShortLine) {
    using oci::JsonReader;
    EXPECT_EQ(JsonReader::quoted("plain"), "\"plain\"");
    EXPECT_EQ(JsonReader::quoted("a\nb\x1b[31m\"\\"), "\"a\\x0ab\\x1b[31m\\\"\\\\\"");
    EXPECT_EQ(JsonReader::quoted("\xc3\xa9"), "\"\\xc3\\xa9\"");
    EXPECT_EQ(JsonReader::quoted(std::string(100, 'x')), "\"" + std::string(80, 'x') + "\"...");
}

}  // namespace
}  // namespace kapsel::image
