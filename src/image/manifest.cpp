// OCI image documents.
#include "image/manifest.hpp"

#include "image/digest.hpp"

namespace kapsel::image {

using json = nlohmann::json;

static Result<Descriptor> descriptor(const json& j, const std::string& where) {
    if (!j.is_object()) return make_error(where + ": expected a descriptor object");
    Descriptor d;
    d.media_type = j.value("mediaType", "");
    d.digest = j.value("digest", "");
    if (!valid_digest(d.digest)) return make_error(where + ".digest: \"" + d.digest + "\" is not a sha256 digest");
    if (j.contains("size") && j["size"].is_number_unsigned()) d.size = j["size"].get<uint64_t>();
    if (j.contains("annotations") && j["annotations"].is_object())
        for (auto& [k, v] : j["annotations"].items())
            if (v.is_string()) d.annotations[k] = v.get<std::string>();
    if (j.contains("platform") && j["platform"].is_object()) {
        d.os = j["platform"].value("os", "");
        d.architecture = j["platform"].value("architecture", "");
        d.variant = j["platform"].value("variant", "");
    }
    return d;
}

bool is_index_media_type(const std::string& mt) { return mt == kMediaIndex || mt == kDockerList; }

Result<Manifest> parse_manifest(const std::string& text) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return make_error("manifest: invalid JSON");
    Manifest m;
    m.media_type = j.value("mediaType", std::string(kMediaManifest));
    if (is_index_media_type(m.media_type)) return make_error("manifest: this is an index, not a manifest");
    if (!j.contains("config")) return make_error("manifest: no config");
    m.config = KAPSEL_TRY(descriptor(j["config"], "manifest.config"));
    if (j.contains("layers")) {
        if (!j["layers"].is_array()) return make_error("manifest.layers: expected an array");
        for (size_t i = 0; i < j["layers"].size(); ++i)
            m.layers.push_back(KAPSEL_TRY(descriptor(j["layers"][i], "manifest.layers[" + std::to_string(i) + "]")));
    }
    return m;
}

Result<Index> parse_index(const std::string& text) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return make_error("index: invalid JSON");
    Index idx;
    if (!j.contains("manifests") || !j["manifests"].is_array()) return make_error("index: no manifests");
    for (size_t i = 0; i < j["manifests"].size(); ++i)
        idx.manifests.push_back(KAPSEL_TRY(descriptor(j["manifests"][i], "index.manifests[" + std::to_string(i) + "]")));
    return idx;
}

static std::vector<std::string> strings(const json& j, const char* key) {
    std::vector<std::string> out;
    if (j.contains(key) && j[key].is_array())
        for (auto& v : j[key])
            if (v.is_string()) out.push_back(v.get<std::string>());
    return out;
}

Result<ImageConfig> parse_config(const std::string& text) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return make_error("image config: invalid JSON");
    ImageConfig c;
    c.raw = j;
    c.architecture = j.value("architecture", "");
    c.os = j.value("os", "");
    c.created = j.value("created", "");
    if (j.contains("config") && j["config"].is_object()) {
        auto& cc = j["config"];
        c.user = cc.value("User", "");
        c.env = strings(cc, "Env");
        c.entrypoint = strings(cc, "Entrypoint");
        c.cmd = strings(cc, "Cmd");
        c.working_dir = cc.value("WorkingDir", "");
        c.stop_signal = cc.value("StopSignal", "");
        if (cc.contains("ExposedPorts") && cc["ExposedPorts"].is_object())
            for (auto& [k, v] : cc["ExposedPorts"].items()) c.exposed_ports.push_back(k);
        if (cc.contains("Volumes") && cc["Volumes"].is_object())
            for (auto& [k, v] : cc["Volumes"].items()) c.volumes.push_back(k);
        if (cc.contains("Labels") && cc["Labels"].is_object())
            for (auto& [k, v] : cc["Labels"].items())
                if (v.is_string()) c.labels[k] = v.get<std::string>();
    }
    if (!j.contains("rootfs") || !j["rootfs"].is_object()) return make_error("image config: no rootfs");
    c.diff_ids = strings(j["rootfs"], "diff_ids");
    for (auto& d : c.diff_ids)
        if (!valid_digest(d)) return make_error("image config: rootfs.diff_ids has \"" + d + "\"");
    return c;
}

json to_json(const Descriptor& d) {
    json j = {{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}};
    if (!d.annotations.empty()) j["annotations"] = d.annotations;
    return j;
}

std::string manifest_json(const Manifest& m) {
    json j;
    j["schemaVersion"] = 2;
    j["mediaType"] = m.media_type.empty() ? kMediaManifest : m.media_type;
    j["config"] = to_json(m.config);
    j["layers"] = json::array();
    for (auto& l : m.layers) j["layers"].push_back(to_json(l));
    return j.dump();
}

std::string host_architecture() {
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__i386__)
    return "386";
#elif defined(__arm__)
    return "arm";
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
    return "ppc64le";
#elif defined(__s390x__)
    return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
    return "riscv64";
#else
    return "unknown";
#endif
}

}  // namespace kapsel::image
