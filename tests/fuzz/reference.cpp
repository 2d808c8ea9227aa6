// Names that arrive as text: image references (from a user, a docker archive's
// RepoTags or an index annotation) and capability, rlimit and signal names (from a
// config.json or an image's StopSignal).
#include "fuzz.hpp"
#include "image/distribution.hpp"
#include "image/store.hpp"
#include "plan/names.hpp"

using namespace kapsel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string s = fuzz::text(data, size);
    if (auto r = image::parse_registry_reference(s)) {
        (void)r->api_host();
        (void)r->name();
        (void)image::is_loopback_host(r->registry);
        (void)image::manifest_url("https://" + r->api_host(), r->repository, r->reference());
    }
    (void)image::normalize_reference(s);
    (void)image::local_reference(s);
    if (auto n = plan::capability_number(s)) (void)plan::capability_name(*n);
    (void)plan::rlimit_number(s);
    (void)plan::signal_number(s);
    return 0;
}
