// OCI image documents.
#include "image/manifest.hpp"

#include "image/digest.hpp"
#include "oci/json_reader.hpp"

namespace kapsel::image {

using json = nlohmann::json;
using R = oci::JsonReader;

namespace {

// Descriptors, in a manifest (config, layers) and an index (manifests). size is
// required: it is the cap on what a download of the blob may read, and 0 means empty.
void read_descriptor(R& r, const json& j, const std::string& path, Descriptor& d) {
    if (!r.object(j, path)) return;
    r.opt(j, "mediaType", path, d.media_type);
    r.req(j, "digest", path, d.digest);
    r.req(j, "size", path, d.size);
    r.opt(j, "annotations", path, d.annotations);
    if (const json* p = r.member(j, "platform", path)) {
        std::string pp = R::field(path, "platform");
        if (r.object(*p, pp)) {
            r.opt(*p, "os", pp, d.os);
            r.opt(*p, "architecture", pp, d.architecture);
            r.opt(*p, "variant", pp, d.variant);
        }
    }
    if (!r.error() && !valid_digest(d.digest))
        r.fail(R::field(path, "digest"), R::quoted(d.digest) + " is not a sha256 digest");
}

void read_descriptors(R& r, const json& j, const std::string& path, std::vector<Descriptor>& out) {
    if (!r.array(j, path)) return;
    for (size_t i = 0; i < j.size() && !r.error(); ++i) {
        Descriptor d;
        read_descriptor(r, j[i], R::index(path, i), d);
        out.push_back(std::move(d));
    }
}

// The keys of an object whose values do not matter ({"80/tcp": {}}).
void read_keys(R& r, const json& obj, std::string_view key, const std::string& path,
               std::vector<std::string>& out) {
    const json* m = r.member(obj, key, path);
    if (!m || !r.object(*m, R::field(path, key))) return;
    for (auto& [k, v] : m->items()) out.push_back(k);
}

template <class T>
Result<T> checked(R& r, T value) {
    if (r.error()) return *r.error();
    return value;
}

}  // namespace

bool is_index_media_type(const std::string& mt) { return mt == kMediaIndex || mt == kDockerList; }

Result<Manifest> parse_manifest(const std::string& text, const std::string& origin) {
    json j = KAPSEL_TRY(R::parse(text, origin));
    R r(origin);
    Manifest m;
    if (!r.object(j, "")) return *r.error();
    int64_t schema = 2;
    r.opt(j, "schemaVersion", "", schema);
    r.opt(j, "mediaType", "", m.media_type);
    if (r.error()) return *r.error();
    if (schema != 2) return make_error(origin + ": schemaVersion " + std::to_string(schema) + " is not 2");
    if (m.media_type.empty()) m.media_type = kMediaManifest;
    if (is_index_media_type(m.media_type)) return make_error(origin + ": this is an index, not a manifest");
    if (r.require(j, "config", "")) read_descriptor(r, j["config"], "config", m.config);
    if (const json* l = r.member(j, "layers", "")) read_descriptors(r, *l, "layers", m.layers);
    return checked(r, std::move(m));
}

Result<Index> parse_index(const std::string& text, const std::string& origin) {
    json j = KAPSEL_TRY(R::parse(text, origin));
    R r(origin);
    Index idx;
    if (!r.object(j, "")) return *r.error();
    if (r.require(j, "manifests", "")) read_descriptors(r, j["manifests"], "manifests", idx.manifests);
    return checked(r, std::move(idx));
}

Result<ImageConfig> parse_config(const std::string& text, const std::string& origin) {
    json j = KAPSEL_TRY(R::parse(text, origin));
    R r(origin);
    ImageConfig c;
    if (!r.object(j, "")) return *r.error();
    r.opt(j, "architecture", "", c.architecture);
    r.opt(j, "os", "", c.os);
    r.opt(j, "created", "", c.created);
    if (const json* cc = r.member(j, "config", "")) {
        const std::string p = "config";
        if (r.object(*cc, p)) {
            r.opt(*cc, "User", p, c.user);
            r.opt(*cc, "Env", p, c.env);
            r.opt(*cc, "Entrypoint", p, c.entrypoint);
            r.opt(*cc, "Cmd", p, c.cmd);
            r.opt(*cc, "WorkingDir", p, c.working_dir);
            r.opt(*cc, "StopSignal", p, c.stop_signal);
            read_keys(r, *cc, "ExposedPorts", p, c.exposed_ports);
            read_keys(r, *cc, "Volumes", p, c.volumes);
            r.opt(*cc, "Labels", p, c.labels);
        }
    }
    if (r.require(j, "rootfs", "") && r.object(j["rootfs"], "rootfs"))
        r.req(j["rootfs"], "diff_ids", "rootfs", c.diff_ids);
    for (size_t i = 0; i < c.diff_ids.size() && !r.error(); ++i)
        if (!valid_digest(c.diff_ids[i]))
            r.fail(R::index("rootfs.diff_ids", i), R::quoted(c.diff_ids[i]) + " is not a sha256 digest");
    if (r.error()) return *r.error();
    c.raw = std::move(j);
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
