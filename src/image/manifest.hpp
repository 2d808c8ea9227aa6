// The OCI image-spec documents kapsel reads and writes: index, manifest, config.
// Docker's schema 2 manifests have the same shape and are accepted too.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/result.hpp"

namespace kapsel::image {

inline constexpr const char* kMediaManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kMediaIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kMediaConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* kMediaLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr const char* kMediaLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr const char* kMediaLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr const char* kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";

struct Descriptor {
    std::string media_type;
    std::string digest;
    uint64_t size = 0;
    std::map<std::string, std::string> annotations;
    std::string os, architecture, variant;  // in an index
};

struct Manifest {
    std::string media_type;
    Descriptor config;
    std::vector<Descriptor> layers;
};

struct Index {
    std::vector<Descriptor> manifests;
};

// The parts of the image config that make a container.
struct ImageConfig {
    std::string architecture, os, created;
    std::string user;
    std::vector<std::string> env, entrypoint, cmd;
    std::string working_dir;
    std::vector<std::string> exposed_ports, volumes;
    std::map<std::string, std::string> labels;
    std::string stop_signal;
    std::vector<std::string> diff_ids;
    nlohmann::json raw;  // everything, for inspect
};

// Each document comes from outside (an archive, a layout, a registry): every field is
// type-checked, and an error names `origin` and the field ("manifest sha256:...:
// layers[0].size: expected an unsigned integer, got the string "x"").
Result<Manifest> parse_manifest(const std::string& text, const std::string& origin = "manifest");
Result<Index> parse_index(const std::string& text, const std::string& origin = "index");
Result<ImageConfig> parse_config(const std::string& text, const std::string& origin = "image config");
bool is_index_media_type(const std::string& mt);

nlohmann::json to_json(const Descriptor& d);
std::string manifest_json(const Manifest& m);

// The host platform as OCI names it ("amd64", "arm64", ...).
std::string host_architecture();

}  // namespace kapsel::image
