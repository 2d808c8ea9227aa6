// What a registry says outside its JSON bodies: WWW-Authenticate challenges, a
// Location header (resolved against the request's URL) and an error body. Input:
// the header, the location and the body, separated by NUL bytes.
#include "fuzz.hpp"
#include "image/distribution.hpp"

using namespace kapsel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto in = fuzz::parts(data, size, 3);
    for (auto& c : image::parse_www_authenticate(in[0])) {
        auto realm = c.params.find("realm");
        auto service = c.params.find("service");
        if (realm != c.params.end())
            (void)image::token_url(realm->second, service == c.params.end() ? "" : service->second,
                                   "repository:library/busybox:pull");
    }
    std::string base = "https://registry.example:5000";
    (void)image::resolve_url(base, in[1]);
    (void)image::resolve_url(base + "/v2/library/busybox/blobs/uploads/", in[1]);
    (void)image::http_error_text(401, in[2]);
    (void)image::http_error_text(500, in[2]);
    return 0;
}
