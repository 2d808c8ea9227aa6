// The OCI distribution API as data, with no I/O: image references, the URLs of the
// API, authentication challenges, platform choice in an index. registry.cpp does
// the talking; these rules are unit-tested on their own.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "image/manifest.hpp"
#include "util/result.hpp"

namespace kapsel::image {

struct RegistryRef {
    std::string registry;    // "docker.io", "quay.io", "127.0.0.1:5000", as named
    std::string repository;  // "library/busybox"
    std::string tag;         // "latest" when the reference names neither tag nor digest
    std::string digest;      // "sha256:..." when pulled by digest (wins over the tag)

    // The host the API is at: docker.io's is registry-1.docker.io.
    std::string api_host() const;
    // What the manifest URL names: the digest, else the tag.
    std::string reference() const { return digest.empty() ? tag : digest; }
    // The full name: "docker.io/library/busybox:latest", "127.0.0.1:5000/x@sha256:...".
    std::string name() const;
};

// [docker://][REGISTRY/]NAME[:TAG][@DIGEST], with Docker's rules: the first
// component is a registry when it has a '.' or a ':' or is "localhost"; otherwise
// the registry is docker.io, where a one-component name is in "library/".
Result<RegistryRef> parse_registry_reference(std::string_view text);

// Checks a name that comes from outside (an archive's RepoTags, a layout's or
// archive's ref.name annotation, import's and commit's NAME) before it enters the
// image index: the distribution reference grammar ([DOMAIN[:PORT]/]PATH[:TAG]
// [@sha256:HEX], lower-case path components, tags [\w][\w.-]{0,127}, a name of at
// most 255 characters), so that no control character or line of someone else's
// choosing reaches `kapsel images`. The error shows the name escaped.
Status check_image_name(std::string_view name);

// One challenge of a WWW-Authenticate header: `Bearer realm="...",service="..."`.
struct AuthChallenge {
    std::string scheme;                         // lower case: "bearer", "basic"
    std::map<std::string, std::string> params;  // names in lower case, values unquoted
};
std::vector<AuthChallenge> parse_www_authenticate(std::string_view header);

// "localhost", 127.0.0.0/8 and ::1, with or without a port.
bool is_loopback_host(std::string_view host);

// "https://HOST/v2/REPO/manifests/REF" and friends; base is "https://HOST".
std::string manifest_url(const std::string& base, const std::string& repository,
                         const std::string& reference);
std::string blob_url(const std::string& base, const std::string& repository,
                     const std::string& digest);
std::string upload_url(const std::string& base, const std::string& repository);
// The token endpoint of a Bearer challenge: REALM?service=S&scope=SCOPE.
std::string token_url(const std::string& realm, const std::string& service,
                      const std::string& scope);
// A Location header against the URL it answered: absolute, host-relative or relative.
std::string resolve_url(const std::string& base, const std::string& location);
// Appends "key=value" (value percent-encoded) with '?' or '&'.
std::string add_query(const std::string& url, const std::string& key, const std::string& value);
std::string percent_encode(std::string_view s);
std::string base64(std::string_view data);

// The registry's message from an error body ({"errors":[{"code","message"}]}), or
// the HTTP status text, and the status: "manifest unknown (HTTP 404)".
std::string http_error_text(int status, std::string_view body);

// The linux/<arch> entry of an index (a variant-less one first); nullptr if none.
const Descriptor* choose_platform(const Index& index, const std::string& architecture);
// "linux/arm64, linux/amd64": what an index offers, for an error message.
std::string platforms_of(const Index& index);

}  // namespace kapsel::image
