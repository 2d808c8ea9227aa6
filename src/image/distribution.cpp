// OCI distribution API rules: references, URLs, challenges, platforms.
#include "image/distribution.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "image/digest.hpp"
#include "oci/json_reader.hpp"
#include "util/strings.hpp"

namespace kapsel::image {
namespace {

bool is_alnum_lower(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// One path component of a repository, as the distribution reference grammar has it:
// [a-z0-9]+ runs joined by one separator each, '.', '_', "__" or a run of '-'.
bool valid_component(std::string_view c) {
    size_t i = 0;
    auto alnum_run = [&] {
        size_t start = i;
        while (i < c.size() && is_alnum_lower(c[i])) ++i;
        return i > start;
    };
    if (!alnum_run()) return false;
    while (i < c.size()) {
        if (c[i] == '.') {
            ++i;
        } else if (c[i] == '_') {
            i += c.substr(i, 2) == "__" ? 2 : 1;
        } else if (c[i] == '-') {
            while (i < c.size() && c[i] == '-') ++i;
        } else {
            return false;
        }
        if (!alnum_run()) return false;
    }
    return true;
}

bool is_ascii_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// [\w][\w.-]{0,127}
bool valid_tag(std::string_view t) {
    if (t.empty() || t.size() > 128 || t.front() == '.' || t.front() == '-') return false;
    for (char c : t)
        if (!(is_ascii_alnum(c) || c == '_' || c == '.' || c == '-')) return false;
    return true;
}

// host[:port], host a DNS name or an IPv4 address or a bracketed IPv6 address.
bool valid_registry(std::string_view r) {
    std::string_view host = r, port;
    if (!r.empty() && r.front() == '[') {
        auto close = r.find(']');
        if (close == std::string_view::npos) return false;
        host = r.substr(1, close - 1);
        if (close + 1 < r.size()) {
            if (r[close + 1] != ':') return false;
            port = r.substr(close + 2);
            if (port.empty()) return false;
        }
        if (host.empty() ||
            host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos)
            return false;
    } else {
        if (auto colon = r.find(':'); colon != std::string_view::npos) {
            host = r.substr(0, colon);
            port = r.substr(colon + 1);
            if (port.empty()) return false;
        }
        // Dot-separated labels of letters, digits and inner '-'s.
        if (host.empty()) return false;
        for (auto& label : split(host, '.')) {
            if (label.empty() || label.front() == '-' || label.back() == '-') return false;
            for (char c : label)
                if (!(is_ascii_alnum(c) || c == '-')) return false;
        }
    }
    return port.find_first_not_of("0123456789") == std::string_view::npos && port.size() <= 5;
}

bool is_token_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string status_text(int status) {
    switch (status) {
        case 400:
            return "bad request";
        case 401:
            return "unauthorized";
        case 403:
            return "forbidden";
        case 404:
            return "not found";
        case 405:
            return "method not allowed";
        case 409:
            return "conflict";
        case 416:
            return "range not satisfiable";
        case 429:
            return "too many requests";
        case 500:
            return "internal server error";
        case 502:
            return "bad gateway";
        case 503:
            return "service unavailable";
        case 504:
            return "gateway timeout";
        default:
            return "unexpected response";
    }
}

}  // namespace

std::string RegistryRef::api_host() const {
    return registry == "docker.io" ? "registry-1.docker.io" : registry;
}

std::string RegistryRef::name() const {
    return registry + "/" + repository + (digest.empty() ? ":" + tag : "@" + digest);
}

namespace {

// [REGISTRY/]NAME[:TAG][@DIGEST] by the distribution reference grammar; with
// `transport`, skopeo's "docker://" prefix is allowed too.
Result<RegistryRef> parse_reference(std::string_view text, bool transport, const char* what) {
    // The text may come from an archive: it is shown escaped, never as it is.
    auto invalid = [&](const std::string& why) {
        return make_error(std::string("invalid ") + what + " " + oci::JsonReader::quoted(text) + ": " + why);
    };
    std::string s(text);
    if (transport && s.rfind("docker://", 0) == 0) s = s.substr(9);
    RegistryRef r;
    if (auto at = s.find('@'); at != std::string::npos) {
        r.digest = s.substr(at + 1);
        s = s.substr(0, at);
        if (r.digest.rfind("sha256:", 0) != 0 && r.digest.find(':') != std::string::npos)
            return invalid("only sha256 digests are supported");
        if (!valid_digest(r.digest))
            return invalid(oci::JsonReader::quoted(r.digest) + " is not a sha256 digest");
    }
    std::string rest = s;
    if (auto slash = s.find('/'); slash != std::string::npos) {
        std::string first = s.substr(0, slash);
        if (first.find('.') != std::string::npos || first.find(':') != std::string::npos ||
            first == "localhost") {
            r.registry = first;
            rest = s.substr(slash + 1);
        }
    }
    if (!r.registry.empty() && !valid_registry(r.registry))
        return invalid(oci::JsonReader::quoted(r.registry) + " is not a valid registry host");
    std::string written_registry = r.registry;
    if (r.registry.empty() || r.registry == "index.docker.io" ||
        r.registry == "registry-1.docker.io")
        r.registry = "docker.io";
    if (auto colon = rest.rfind(':');
        colon != std::string::npos && rest.find('/', colon) == std::string::npos) {
        r.tag = rest.substr(colon + 1);
        rest = rest.substr(0, colon);
        if (!valid_tag(r.tag)) return invalid(oci::JsonReader::quoted(r.tag) + " is not a valid tag");
    }
    if (r.tag.empty()) r.tag = "latest";
    if (rest.empty()) return invalid("no repository name");
    for (auto& c : split(rest, '/')) {
        if (!valid_component(c)) {
            if (to_lower(c) != c && valid_component(to_lower(c)))
                return invalid("repository names must be lower case");
            return invalid(oci::JsonReader::quoted(c) + " is not a valid repository name component");
        }
    }
    // The grammar's bound is on the name as written, registry included.
    if ((written_registry.empty() ? 0 : written_registry.size() + 1) + rest.size() > 255)
        return invalid("the name is longer than 255 characters");
    r.repository = rest;
    if (r.registry == "docker.io" && rest.find('/') == std::string::npos)
        r.repository = "library/" + rest;
    return r;
}

}  // namespace

Result<RegistryRef> parse_registry_reference(std::string_view text) {
    return parse_reference(text, /*transport=*/true, "reference");
}

Status check_image_name(std::string_view name) {
    auto r = parse_reference(name, /*transport=*/false, "image name");
    if (!r) return std::move(r).error();
    return {};
}

std::vector<AuthChallenge> parse_www_authenticate(std::string_view h) {
    std::vector<AuthChallenge> out;
    size_t i = 0;
    auto skip_space = [&] {
        while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
    };
    auto token = [&] {
        size_t start = i;
        while (i < h.size() && is_token_char(h[i])) ++i;
        return std::string(h.substr(start, i - start));
    };
    while (i < h.size()) {
        while (i < h.size() && (h[i] == ' ' || h[i] == '\t' || h[i] == ',')) ++i;
        std::string scheme = token();
        if (scheme.empty()) {
            ++i;  // junk: step over it
            continue;
        }
        AuthChallenge c{to_lower(scheme), {}};
        while (true) {
            skip_space();
            size_t param_start = i;
            std::string name = token();
            skip_space();
            // A token not followed by '=' starts the next challenge.
            if (name.empty() || i >= h.size() || h[i] != '=') {
                i = param_start;
                break;
            }
            ++i;
            skip_space();
            std::string value;
            if (i < h.size() && h[i] == '"') {
                for (++i; i < h.size() && h[i] != '"'; ++i) {
                    if (h[i] == '\\' && i + 1 < h.size()) ++i;
                    value += h[i];
                }
                if (i < h.size()) ++i;
            } else {
                while (i < h.size() && h[i] != ',' && h[i] != ' ' && h[i] != '\t') value += h[i++];
            }
            c.params[to_lower(name)] = value;
            skip_space();
            if (i < h.size() && h[i] == ',') ++i;
        }
        out.push_back(std::move(c));
    }
    return out;
}

bool is_loopback_host(std::string_view host) {
    std::string h(host);
    if (!h.empty() && h.front() == '[') {
        h = h.substr(1, h.find(']') - 1);
    } else if (std::count(h.begin(), h.end(), ':') == 1) {
        h = h.substr(0, h.find(':'));
    }
    if (h == "localhost" || h == "::1") return true;
    auto parts = split(h, '.');
    if (parts.size() != 4 || parts[0] != "127") return false;
    for (auto& p : parts) {
        auto n = parse_uint(p);
        if (!n || *n > 255) return false;
    }
    return true;
}

std::string manifest_url(const std::string& base, const std::string& repository,
                         const std::string& reference) {
    return base + "/v2/" + repository + "/manifests/" + reference;
}

std::string blob_url(const std::string& base, const std::string& repository,
                     const std::string& digest) {
    return base + "/v2/" + repository + "/blobs/" + digest;
}

std::string upload_url(const std::string& base, const std::string& repository) {
    return base + "/v2/" + repository + "/blobs/uploads/";
}

std::string token_url(const std::string& realm, const std::string& service,
                      const std::string& scope) {
    std::string url = realm;
    if (!service.empty()) url = add_query(url, "service", service);
    if (!scope.empty()) url = add_query(url, "scope", scope);
    return url;
}

std::string resolve_url(const std::string& base, const std::string& location) {
    if (location.find("://") != std::string::npos) return location;
    auto scheme_end = base.find("://");
    if (scheme_end == std::string::npos) return location;
    std::string scheme = base.substr(0, scheme_end);
    if (location.rfind("//", 0) == 0) return scheme + ":" + location;
    auto host_end = base.find('/', scheme_end + 3);
    std::string origin = host_end == std::string::npos ? base : base.substr(0, host_end);
    if (!location.empty() && location.front() == '/') return origin + location;
    // Relative to the base's directory (query dropped).
    std::string path = host_end == std::string::npos ? "/" : base.substr(host_end);
    path = path.substr(0, path.find('?'));
    return origin + path.substr(0, path.rfind('/') + 1) + location;
}

std::string add_query(const std::string& url, const std::string& key, const std::string& value) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + key + "=" +
           percent_encode(value);
}

std::string percent_encode(std::string_view s) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string base64(std::string_view data) {
    static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < data.size(); i += 3) {
        uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
        for (int s = 18; s >= 0; s -= 6) out += table[(v >> s) & 63];
    }
    if (size_t left = data.size() - i; left > 0) {
        uint32_t v = uint8_t(data[i]) << 16;
        if (left == 2) v |= uint8_t(data[i + 1]) << 8;
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += left == 2 ? table[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string http_error_text(int status, std::string_view body) {
    // The body is the server's: it is read only where it has the expected shape (a
    // message of another type is no message), and whatever it says is shown as one
    // short line of printable characters.
    auto text_at = [](const nlohmann::json& obj, const char* key) -> std::string {
        auto it = obj.find(key);
        return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
    };
    std::string message;
    auto j = oci::JsonReader::parse(body.substr(0, std::min<size_t>(body.size(), 1 << 20)), "");
    if (j && j->is_object()) {
        auto errors = j->find("errors");
        if (errors != j->end() && errors->is_array() && !errors->empty() &&
            (*errors)[0].is_object()) {
            message = text_at((*errors)[0], "message");
            if (message.empty()) message = to_lower(text_at((*errors)[0], "code"));
        } else {
            // Token servers answer {"details": "..."} or {"error": "..."}.
            for (const char* k : {"details", "error_description", "error", "message"})
                if (message = text_at(*j, k); !message.empty()) break;
        }
    }
    constexpr size_t kShown = 200;
    if (message.size() > kShown) message = message.substr(0, kShown) + "...";
    for (char& c : message)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    if (message.empty()) message = status_text(status);
    return message + " (HTTP " + std::to_string(status) + ")";
}

const Descriptor* choose_platform(const Index& index, const std::string& architecture) {
    const Descriptor* found = nullptr;
    for (auto& d : index.manifests) {
        if (d.os != "linux" || d.architecture != architecture) continue;
        if (d.variant.empty()) return &d;
        if (!found) found = &d;
    }
    return found;
}

std::string platforms_of(const Index& index) {
    std::vector<std::string> out;
    for (auto& d : index.manifests)
        out.push_back((d.os.empty() ? "?" : d.os) + "/" +
                      (d.architecture.empty() ? "?" : d.architecture) +
                      (d.variant.empty() ? "" : "/" + d.variant));
    return out.empty() ? "nothing" : join(out, ", ");
}

}  // namespace kapsel::image
