// An image's manifest, index and config, as a registry, an archive or a layout hands
// them over: each parser gets the same text, and what parses goes on to the code that
// uses it (platform choice, manifest writing).
#include "fuzz.hpp"
#include "image/distribution.hpp"
#include "image/manifest.hpp"

using namespace kapsel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string s = fuzz::text(data, size);
    if (auto m = image::parse_manifest(s)) (void)image::manifest_json(*m);
    if (auto idx = image::parse_index(s)) {
        (void)image::choose_platform(*idx, image::host_architecture());
        (void)image::platforms_of(*idx);
        for (auto& d : idx->manifests) (void)image::is_index_media_type(d.media_type);
    }
    if (auto c = image::parse_config(s)) (void)c->raw.dump();
    return 0;
}
