// Pull and push over the OCI distribution API. A Session is one registry and one
// repository: the kapsel-fetch helper, the scheme (https, or plain http where
// allowed), and the credentials the registry asked for. Every blob is verified
// against its digest before the store keeps it; a layer streams from the network
// through the unpacker, and its bytes also go to a partial file in the store's
// tmp/, from which a dropped download resumes (in this pull, or the next one).
#include "image/registry.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "image/digest.hpp"
#include "image/distribution.hpp"
#include "image/http.hpp"
#include "image/progress.hpp"
#include "oci/json_reader.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

namespace kapsel::image {
namespace {

using json = nlohmann::json;
using R = oci::JsonReader;

constexpr size_t kManifestLimit = 4 << 20;  // containerd's limit too
constexpr size_t kConfigLimit = 16 << 20;   // Store::read_blob's
constexpr size_t kSmallLimit = 1 << 20;     // error bodies, tokens
constexpr int kBlobAttempts = 5;            // per blob and pull, resuming each time

const std::string kAcceptManifests = std::string("Accept: ") + kMediaIndex + ", " + kMediaManifest +
                                     ", " + kDockerList + ", " + kDockerManifest;

class Session {
  public:
    // `actions`: "pull", or "pull,push": the scope of the tokens it asks for.
    Session(RegistryRef ref, const RegistryOptions& o, const std::string& actions)
        : ref_(std::move(ref)), o_(o), scope_("repository:" + ref_.repository + ":" + actions) {
        http_.set_stall_timeout(o.stall_timeout);
    }

    // Finds the API: https first; plain http when TLS fails and the registry is on
    // the loopback interface or --tls-verify=false (podman does the same).
    Status connect();
    // Sends a request with the credentials the registry asked for. A 401 is
    // answered once by authenticating (again) and retrying; a second one is an
    // error. The body is left to read through client().
    Result<HttpResponse> send(HttpRequest req);
    // send() and the whole body: at most `limit` bytes of a 2xx answer, kSmallLimit of
    // any other (an error's text).
    Result<std::pair<HttpResponse, std::string>> fetch(HttpRequest req, size_t limit);

    HttpClient& client() { return http_; }
    const RegistryRef& ref() const { return ref_; }
    const std::string& base() const { return base_; }

  private:
    Status authenticate(const std::string& www_authenticate);
    Error refused(const std::string& body) const;

    RegistryRef ref_;
    RegistryOptions o_;
    std::string scope_;
    std::string base_;  // "https://host"
    std::string auth_;  // the Authorization header, once the registry asked for one
    HttpClient http_;
};

Status Session::connect() {
    bool plain_ok = !o_.tls_verify || is_loopback_host(ref_.registry);
    std::optional<Error> first;
    for (const char* scheme : {"https", "http"}) {
        if (std::string(scheme) == "http" && !plain_ok) break;
        std::string base = std::string(scheme) + "://" + ref_.api_host();
        auto r = http_.send({.url = base + "/v2/", .insecure = !o_.tls_verify});
        if (!r) {
            if (r.error().code != kTransportError) return std::move(r).error();  // no helper, say
            log::debug("GET " + base + "/v2/: " + r.error().message);
            if (!first) first = std::move(r).error();
            continue;
        }
        std::string body = KAPSEL_TRY(http_.read_all(kSmallLimit));
        // Plain HTTP to a TLS port ("400: client sent an HTTP request to an HTTPS
        // server"): the TLS failure is the one to report.
        if (r->status != 200 && r->status != 401 && first) break;
        if (r->status != 200 && r->status != 401)
            return make_error(ref_.registry +
                              " does not offer the OCI distribution API (GET /v2/: " +
                              http_error_text(r->status, body) + ")");
        base_ = base;
        if (r->status == 401) KAPSEL_TRY(authenticate(r->header("www-authenticate")));
        return {};
    }
    return std::move(*first).context("cannot reach " + ref_.registry);
}

Status Session::authenticate(const std::string& header) {
    auto challenges = parse_www_authenticate(header);
    for (auto& c : challenges) {
        if (c.scheme != "bearer") continue;
        // Token authentication (Docker Hub, ghcr.io, ...): a token for this
        // repository from the realm, with the user's credentials if there are any.
        std::string realm = c.params["realm"];
        if (realm.empty()) return make_error("the registry's Bearer challenge names no realm");
        // The realm is the server's: it goes into messages and is fetched, so it must
        // be an http(s) URL of printable characters.
        bool printable = std::all_of(realm.begin(), realm.end(), [](char ch) {
            return static_cast<unsigned char>(ch) > 0x20 && ch != 0x7f;
        });
        if (!printable || (realm.rfind("https://", 0) != 0 && realm.rfind("http://", 0) != 0))
            return make_error("the registry's Bearer challenge names the realm " + R::quoted(realm) +
                              ", which is not an http(s) URL");
        std::string scope = c.params.count("scope") ? c.params["scope"] : scope_;
        HttpRequest req{.url = token_url(realm, c.params["service"], scope),
                        .insecure = !o_.tls_verify};
        if (!o_.credentials.empty())
            req.headers.push_back("Authorization: Basic " + base64(o_.credentials));
        auto r = KAPSEL_TRY_CTX(http_.send(req), "get a token from " + realm);
        std::string body = KAPSEL_TRY_CTX(http_.read_all(kSmallLimit), "get a token from " + realm);
        if (r.status != 200) {
            std::string hint = r.status != 401 ? ""
                               : o_.credentials.empty()
                                   ? ": pass --creds USER:PASSWORD"
                                   : ": the user name or password of --creds is wrong";
            return make_error("get a token from " + realm + ": " + http_error_text(r.status, body) +
                              hint);
        }
        // {"token": "..."}, or OAuth2's {"access_token": "..."}.
        std::string origin = "the token server " + realm;
        json j = KAPSEL_TRY(R::parse(body, origin));
        R reader(origin);
        std::string token;
        if (reader.object(j, "")) {
            reader.opt(j, "token", "", token);
            if (token.empty()) reader.opt(j, "access_token", "", token);
        }
        if (reader.error()) return *reader.error();
        if (token.empty()) return make_error(origin + " sent no token");
        // The token goes into a header line to kapsel-fetch: a line break in it would
        // be a header of the server's choosing.
        if (token.find_first_of("\r\n") != std::string::npos)
            return make_error(origin + " sent a token with a line break");
        auth_ = "Authorization: Bearer " + token;
        return {};
    }
    for (auto& c : challenges) {
        if (c.scheme != "basic") continue;
        if (o_.credentials.empty())
            return make_error(
                ref_.registry +
                " wants a user name and password (HTTP 401): pass --creds USER:PASSWORD");
        auth_ = "Authorization: Basic " + base64(o_.credentials);
        return {};
    }
    return make_error(ref_.registry +
                      " asks for an authentication kapsel does not support (HTTP 401, " +
                      R::quoted(header.substr(0, 60)) + ")");
}

Error Session::refused(const std::string& body) const {
    return make_error(http_error_text(401, body) +
                      (o_.credentials.empty()
                           ? ": pass --creds USER:PASSWORD"
                           : ": the registry refused the credentials of --creds"));
}

Result<HttpResponse> Session::send(HttpRequest req) {
    req.insecure = !o_.tls_verify;
    auto attempt = [&]() {
        HttpRequest r = req;
        if (!auth_.empty()) r.headers.push_back(auth_);
        return http_.send(r);
    };
    HttpResponse r = KAPSEL_TRY(attempt());
    if (r.status != 401) return r;
    std::string body = KAPSEL_TRY(http_.read_all(kSmallLimit));
    std::string sent = auth_;
    KAPSEL_TRY(authenticate(r.header("www-authenticate")));
    // The same Basic credentials again would be refused again.
    if (auth_ == sent && auth_.rfind("Authorization: Basic ", 0) == 0) return refused(body);
    r = KAPSEL_TRY(attempt());
    if (r.status == 401) return refused(KAPSEL_TRY(http_.read_all(kSmallLimit)));
    return r;
}

Result<std::pair<HttpResponse, std::string>> Session::fetch(HttpRequest req, size_t limit) {
    HttpResponse r = KAPSEL_TRY(send(std::move(req)));
    // `limit` is for the document asked for; an error's body has its own.
    std::string body = KAPSEL_TRY(http_.read_all(r.status / 100 == 2 ? limit : kSmallLimit));
    return std::pair{std::move(r), std::move(body)};
}

// ---- pull -------------------------------------------------------------------

struct FetchedManifest {
    std::string media_type, text, digest;
    bool is_index = false;
};

// GET a manifest or index by tag or digest; `expected` (a digest) must match, and
// `limit` is the size its descriptor declared, if one did.
Result<FetchedManifest> get_manifest(Session& s, const std::string& reference,
                                     const std::string& expected, uint64_t limit = kManifestLimit) {
    if (limit > kManifestLimit)
        return make_error("manifest " + reference + " is " + std::to_string(limit) +
                          " bytes, more than kapsel reads for a manifest (" +
                          std::to_string(kManifestLimit) + ")");
    auto [r, body] = KAPSEL_TRY_CTX(
        s.fetch({.url = manifest_url(s.base(), s.ref().repository, reference),
                 .headers = {kAcceptManifests}},
                static_cast<size_t>(limit)),
        "manifest " + reference);
    if (r.status != 200) return make_error(http_error_text(r.status, body));
    FetchedManifest m{.text = body, .digest = sha256_digest(body)};
    if (!expected.empty() && m.digest != expected)
        return make_error("manifest " + expected + " from the registry has the digest " + m.digest);
    if (std::string said = r.header("docker-content-digest");
        valid_digest(said) && said != m.digest)
        return make_error("the registry says manifest " + reference + " is " + said +
                          ", but its content is " + m.digest);
    // Only what tells a manifest from an index is read here; parse_manifest and
    // parse_index check the rest.
    std::string origin = "manifest " + reference;
    json j = KAPSEL_TRY(R::parse(body, origin));
    R reader(origin);
    int64_t schema = 2;
    if (reader.object(j, "")) {
        reader.opt(j, "mediaType", "", m.media_type);
        reader.opt(j, "schemaVersion", "", schema);
    }
    if (reader.error()) return *reader.error();
    if (m.media_type.empty()) {
        std::string ct = r.header("content-type");
        m.media_type = std::string(trim(ct.substr(0, ct.find(';'))));
    }
    if (m.media_type.find("distribution.manifest.v1") != std::string::npos || schema == 1)
        return make_error(origin +
                          " is a Docker schema 1 manifest, which kapsel does not read: push the "
                          "image again with a current tool");
    m.is_index =
        is_index_media_type(m.media_type) || (j.contains("manifests") && !j.contains("layers"));
    return m;
}

// A small blob (the image config) of the size its descriptor declared, verified.
Result<std::string> get_small_blob(Session& s, const std::string& digest, uint64_t size) {
    if (size > kConfigLimit)
        return make_error("blob " + digest + " is " + std::to_string(size) +
                          " bytes, more than kapsel reads for a config (" +
                          std::to_string(kConfigLimit) + ")");
    auto [r, body] = KAPSEL_TRY_CTX(
        s.fetch({.url = blob_url(s.base(), s.ref().repository, digest)}, static_cast<size_t>(size)),
        "blob " + digest);
    if (r.status != 200)
        return make_error("blob " + digest + ": " + http_error_text(r.status, body));
    if (std::string got = sha256_digest(body); got != digest)
        return make_error("blob digest mismatch: expected " + digest + ", got " + got);
    return body;
}

void sleep_ms(int ms) {
    timespec t{ms / 1000, (ms % 1000) * 1000000L};
    while (::nanosleep(&t, &t) < 0 && errno == EINTR) {
    }
}

// A layer blob from the registry, as a stream: first whatever an earlier attempt
// left in the partial file, then the network from that byte on (a Range request;
// a registry that ignores Range sends everything, and the bytes we have are
// skipped). Everything received is appended to the partial file before it is
// passed on. A dropped connection is resumed, up to kBlobAttempts times.
class BlobReader final : public Reader {
  public:
    BlobReader(Session& s, const Descriptor& d, int fd) : s_(s), d_(d), fd_(fd) {
        url_ = blob_url(s.base(), s.ref().repository, d.digest);
        struct stat st {};
        if (::fstat(fd_, &st) == 0) on_disk_ = static_cast<uint64_t>(st.st_size);
        if (on_disk_ > d_.size) {
            // Not a prefix of this blob: start over.
            if (::ftruncate(fd_, 0) == 0) on_disk_ = 0;
        }
        if (on_disk_ > 0)
            log::info("blob " + d.digest + ": resuming after the " + std::to_string(on_disk_) +
                      " bytes of an earlier pull");
    }

    Result<size_t> read(char* buf, size_t n) override;
    // The download failed on the network: the partial file is worth keeping.
    bool gave_up() const { return gave_up_; }

  private:
    Status open_response();
    Status retry(const Error& why);

    Session& s_;
    const Descriptor& d_;
    int fd_;
    std::string url_;
    uint64_t on_disk_ = 0;  // bytes in the partial file
    uint64_t fed_ = 0;      // bytes passed on
    uint64_t skip_ = 0;     // bytes of a 200 response that we already have
    bool open_ = false, done_ = false, gave_up_ = false;
    int attempts_ = 0;
};

Status BlobReader::open_response() {
    HttpRequest req{.url = url_};
    if (on_disk_ > 0) req.headers.push_back("Range: bytes=" + std::to_string(on_disk_) + "-");
    HttpResponse r = KAPSEL_TRY(s_.send(req));
    skip_ = 0;
    if (r.status == 206) {
        // "Content-Range: bytes START-END/TOTAL"
        std::string cr = r.header("content-range");
        auto start =
            cr.rfind("bytes ", 0) == 0 ? parse_uint(cr.substr(6, cr.find('-') - 6)) : std::nullopt;
        if (!start || *start != on_disk_) {
            s_.client().stop();
            return make_error("the registry answered a request for the bytes from " +
                              std::to_string(on_disk_) + " with \"Content-Range: " + cr + "\"");
        }
    } else if (r.status == 200) {
        skip_ = on_disk_;
    } else if (r.status == 416 && on_disk_ == d_.size) {
        // We had every byte already.
        KAPSEL_TRY(s_.client().read_all(kSmallLimit));
        done_ = true;
        return {};
    } else {
        std::string body = KAPSEL_TRY(s_.client().read_all(kSmallLimit));
        Error e = make_error(http_error_text(r.status, body));
        // A registry's or a proxy's passing trouble is worth another try.
        if (r.status == 429 || (r.status >= 500 && r.status <= 504)) e.code = kTransportError;
        return e;
    }
    open_ = true;
    return {};
}

Status BlobReader::retry(const Error& why) {
    open_ = false;
    if (++attempts_ >= kBlobAttempts) {
        gave_up_ = true;
        return make_error(why.message + ", " + std::to_string(attempts_) + " attempts (the " +
                          std::to_string(on_disk_) +
                          " bytes received are kept: pull again to resume)");
    }
    log::warn("blob " + d_.digest + ": " + why.message + "; resuming at byte " +
              std::to_string(on_disk_) + " (attempt " + std::to_string(attempts_ + 1) + " of " +
              std::to_string(kBlobAttempts) + ")");
    sleep_ms(250 * attempts_);
    return {};
}

Result<size_t> BlobReader::read(char* buf, size_t n) {
    if (fed_ < on_disk_) {
        ssize_t got =
            ::pread(fd_, buf, std::min<uint64_t>(n, on_disk_ - fed_), static_cast<off_t>(fed_));
        if (got < 0) return sys_error("read the partial download of " + d_.digest);
        if (got == 0) return make_error("the partial download of " + d_.digest + " shrank");
        fed_ += static_cast<uint64_t>(got);
        return static_cast<size_t>(got);
    }
    while (!done_) {
        if (!open_) {
            auto st = open_response();
            if (!st) {
                if (st.error().code != kTransportError) return std::move(st).error();
                KAPSEL_TRY(retry(st.error()));
                continue;
            }
            if (done_) break;
        }
        auto got = s_.client().read_body(buf, n);
        if (!got) {
            if (got.error().code != kTransportError) return std::move(got).error();
            KAPSEL_TRY(retry(got.error()));
            continue;
        }
        size_t k = *got;
        if (k == 0) {
            open_ = false;
            if (on_disk_ < d_.size) {
                // A server that closes early without saying so (no Content-Length).
                KAPSEL_TRY(
                    retry(make_error("the connection closed after " + std::to_string(on_disk_) +
                                     " of " + std::to_string(d_.size) + " bytes")));
                continue;
            }
            done_ = true;
            break;
        }
        if (skip_ > 0) {
            size_t drop = static_cast<size_t>(std::min<uint64_t>(skip_, k));
            skip_ -= drop;
            std::memmove(buf, buf + drop, k - drop);
            k -= drop;
            if (k == 0) continue;
        }
        // The manifest's size is a hard cap, 0 included (an empty blob): it is the
        // only bound on what a server may send before the digest can be checked.
        if (on_disk_ + k > d_.size) {
            s_.client().stop();
            return make_error("blob " + d_.digest + " is larger than the " +
                              std::to_string(d_.size) + " bytes the manifest says");
        }
        for (size_t off = 0; off < k;) {
            ssize_t w = ::pwrite(fd_, buf + off, k - off, static_cast<off_t>(on_disk_ + off));
            if (w < 0) {
                if (errno == EINTR) continue;
                return sys_error("write the partial download of " + d_.digest);
            }
            off += static_cast<size_t>(w);
        }
        on_disk_ += k;
        fed_ += k;
        return k;
    }
    return size_t{0};
}

// The partial file of a blob, locked: a second pull of the same blob waits for
// the first (and then finds the layer in the store).
Result<unique_fd> open_partial(const std::string& path) {
    while (true) {
        unique_fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
        if (!fd) return sys_error("open " + path);
        while (::flock(fd.get(), LOCK_EX) < 0)
            if (errno != EINTR) return sys_error("lock " + path);
        struct stat a {
        }, b{};
        // Still the file at `path`, not one the previous holder renamed into the store.
        if (::fstat(fd.get(), &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev)
            return fd;
    }
}

// The size of an unpacked layer's regular files (what LayerResult counts).
uint64_t layer_size(const Store& store, const std::string& diff_id) {
    namespace sfs = std::filesystem;
    uint64_t total = 0;
    std::error_code ec;
    for (sfs::recursive_directory_iterator it(store.layer_path(diff_id), ec), end; !ec && it != end;
         it.increment(ec))
        if (it->is_regular_file(ec) && !it->is_symlink(ec)) total += it->file_size(ec);
    return total;
}

Result<LayerResult> download_layer(Session& s, Store& store, const Descriptor& l,
                                   const std::string& diff_id, const std::string& label,
                                   bool progress) {
    std::string partial = store.root() + "/tmp/" + digest_hex(l.digest) + ".partial";
    unique_fd fd = KAPSEL_TRY(open_partial(partial));
    if (store.has_layer(diff_id) && store.has_blob(l.digest)) {
        // Another pull stored it while we waited.
        ::unlink(partial.c_str());
        return LayerResult{.diff_id = diff_id,
                           .blob_digest = l.digest,
                           .unpacked_size = layer_size(store, diff_id)};
    }
    BlobReader blob(s, l, fd.get());
    ProgressReader shown(blob, label, progress, l.size);
    // While the registry sends nothing, the line is redrawn to show the stall.
    s.client().set_wait_hook([&shown] { shown.waiting(); });
    struct Unhook {
        HttpClient& c;
        ~Unhook() { c.set_wait_hook({}); }
    } unhook{s.client()};
    // The partial file becomes the stored blob: import_layer need not copy it.
    auto res = store.import_layer(shown, l.digest, diff_id, /*keep_blob=*/false);
    if (!res) {
        // What the network broke is kept for the next pull; what arrived wrong
        // (a digest mismatch, a hostile archive) goes.
        if (!blob.gave_up()) ::unlink(partial.c_str());
        return std::move(res).error();
    }
    if (store.has_blob(l.digest)) {
        ::unlink(partial.c_str());
    } else {
        ::fchmod(fd.get(), 0644);
        if (::rename(partial.c_str(), store.blob_path(l.digest).c_str()) < 0)
            return sys_error("store blob " + l.digest);
    }
    return res;
}

Result<ImageRecord> pull(Store& store, const RegistryRef& ref, const RegistryOptions& ro,
                         const ImportOptions& o) {
    Session s(ref, ro, "pull");
    KAPSEL_TRY(s.connect());
    auto shared = KAPSEL_TRY(store.lock(false));  // keeps prune away while we import
    FetchedManifest top = KAPSEL_TRY(get_manifest(s, ref.reference(), ref.digest));
    FetchedManifest mf = top;
    if (top.is_index) {
        Index idx = KAPSEL_TRY(parse_index(top.text, "index " + top.digest));
        const Descriptor* d = choose_platform(idx, host_architecture());
        if (!d)
            return make_error("no linux/" + host_architecture() + " image in the index (it has " +
                              platforms_of(idx) + ")");
        mf = KAPSEL_TRY(get_manifest(s, d->digest, d->digest, d->size));
        if (mf.is_index)
            return make_error("index " + top.digest + ": its linux/" + host_architecture() +
                              " entry is an index too");
    }
    Manifest m = KAPSEL_TRY(parse_manifest(mf.text, "manifest " + mf.digest));
    std::string cfg_text = store.has_blob(m.config.digest)
                               ? KAPSEL_TRY(store.read_blob(m.config.digest))
                               : KAPSEL_TRY(get_small_blob(s, m.config.digest, m.config.size));
    ImageConfig cfg = KAPSEL_TRY(parse_config(cfg_text, "config " + m.config.digest));
    if (cfg.diff_ids.size() != m.layers.size())
        return make_error("manifest " + mf.digest + " has " + std::to_string(m.layers.size()) +
                          " layers, its config " + std::to_string(cfg.diff_ids.size()));
    std::vector<std::string> diff_ids;
    uint64_t size = 0;
    bool progress = progress_wanted(o.quiet);
    for (size_t i = 0; i < m.layers.size(); ++i) {
        const Descriptor& l = m.layers[i];
        const std::string& diff_id = cfg.diff_ids[i];
        if (store.has_layer(diff_id) && store.has_blob(l.digest)) {
            diff_ids.push_back(diff_id);  // already here: nothing to download
            size += layer_size(store, diff_id);
            continue;
        }
        std::string label =
            "layer " + std::to_string(i + 1) + "/" + std::to_string(m.layers.size());
        LayerResult res = KAPSEL_TRY_CTX(download_layer(s, store, l, diff_id, label, progress),
                                         "layer " + l.digest);
        diff_ids.push_back(res.diff_id);
        size += res.unpacked_size;
    }
    std::vector<std::string> names = o.names;
    names.push_back(ref.name());
    return register_image(store, cfg_text, m, diff_ids, names, size);
}

// ---- push -------------------------------------------------------------------

enum class BlobPush { already_there, mounted, pushed };

// HEAD; when the registry lacks the blob, POST an upload, which mounts it from
// `mount_from` (another repository of the same registry) if that has it, and
// otherwise PUT the blob in one piece.
Result<BlobPush> push_blob(Session& s, const Store& store, const Descriptor& d,
                           const std::string& mount_from) {
    std::string path = store.blob_path(d.digest);
    if (::access(path.c_str(), R_OK) != 0)
        return sys_error("blob " + d.digest + " of the image is not in the store: " + path);
    auto [head, hb] = KAPSEL_TRY(s.fetch(
        {.method = "HEAD", .url = blob_url(s.base(), s.ref().repository, d.digest)}, kSmallLimit));
    if (head.status == 200) return BlobPush::already_there;
    if (head.status != 404)
        return make_error("blob " + d.digest + ": " + http_error_text(head.status, hb));
    std::string post_url = upload_url(s.base(), s.ref().repository);
    if (!mount_from.empty())
        post_url = add_query(add_query(post_url, "mount", d.digest), "from", mount_from);
    auto [start, sb] = KAPSEL_TRY(s.fetch({.method = "POST", .url = post_url}, kSmallLimit));
    if (start.status == 201 && !mount_from.empty()) return BlobPush::mounted;
    std::string location = start.header("location");
    if (start.status != 202 || location.empty())
        return make_error("start an upload: " + http_error_text(start.status, sb));
    std::string put_url = add_query(resolve_url(start.url, location), "digest", d.digest);
    auto [done, db] = KAPSEL_TRY(s.fetch({.method = "PUT",
                                          .url = put_url,
                                          .headers = {"Content-Type: application/octet-stream"},
                                          .body_file = path},
                                         kSmallLimit));
    if (done.status != 201)
        return make_error("upload blob " + d.digest + ": " + http_error_text(done.status, db));
    return BlobPush::pushed;
}

// A repository of the destination registry the image came from or went to, which
// holds its blobs already.
std::string mount_source(const ImageRecord& rec, const RegistryRef& dest) {
    for (auto& name : rec.names) {
        auto r = parse_registry_reference(name);
        if (r && r->registry == dest.registry && r->repository != dest.repository)
            return r->repository;
    }
    return "";
}

Result<std::string> push(const Store& store, const std::string& image, const RegistryRef& ref,
                         const RegistryOptions& ro, bool quiet) {
    auto shared = KAPSEL_TRY(store.lock(false));
    ImageRecord rec = KAPSEL_TRY(store.find_image(image));
    std::string manifest_text = KAPSEL_TRY(store.read_blob(rec.manifest));
    Manifest m = KAPSEL_TRY(parse_manifest(manifest_text, "manifest " + rec.manifest));
    Session s(ref, ro, "pull,push");
    KAPSEL_TRY(s.connect());
    std::vector<Descriptor> blobs = m.layers;
    blobs.push_back(m.config);
    bool progress = progress_wanted(quiet);
    std::string mount_from = mount_source(rec, ref);
    for (size_t i = 0; i < blobs.size(); ++i) {
        BlobPush how = KAPSEL_TRY(push_blob(s, store, blobs[i], mount_from));
        std::string what = how == BlobPush::pushed    ? "pushed"
                           : how == BlobPush::mounted ? "mounted from " + mount_from
                                                      : "already there";
        log::debug("blob " + blobs[i].digest + ": " + what);
        if (progress)
            std::fprintf(stderr, "%s %zu/%zu %s: %s\n", i + 1 == blobs.size() ? "config" : "layer",
                         i + 1, blobs.size(), blobs[i].digest.substr(7, 12).c_str(), what.c_str());
    }
    std::string media_type = m.media_type.empty() ? kMediaManifest : m.media_type;
    auto [r, body] = KAPSEL_TRY(s.fetch({.method = "PUT",
                                         .url = manifest_url(s.base(), ref.repository, ref.tag),
                                         .headers = {"Content-Type: " + media_type},
                                         .body = manifest_text},
                                        kSmallLimit));
    if (r.status != 201 && r.status != 200)
        return make_error("manifest: " + http_error_text(r.status, body));
    std::string digest = sha256_digest(manifest_text);
    if (std::string said = r.header("docker-content-digest"); valid_digest(said) && said != digest)
        return make_error("the registry stored the manifest as " + said + ", but kapsel sent " +
                          digest);
    return digest;
}

}  // namespace

Result<ImageRecord> pull_registry(Store& store, const std::string& text, const RegistryOptions& ro,
                                  const ImportOptions& o) {
    auto ref = parse_registry_reference(text);
    if (!ref) return std::move(ref).error().context("pull");
    auto rec = pull(store, *ref, ro, o);
    if (!rec) return std::move(rec).error().context("pull " + ref->name());
    return rec;
}

Result<std::string> push_registry(const Store& store, const std::string& image,
                                  const std::string& dest, const RegistryOptions& ro, bool quiet) {
    auto ref = parse_registry_reference(dest);
    if (!ref) return std::move(ref).error().context("push");
    if (!ref->digest.empty())
        return make_error("push: \"" + dest +
                          "\" names a digest: a destination is REGISTRY/NAME[:TAG]");
    auto digest = push(store, image, *ref, ro, quiet);
    if (!digest) return std::move(digest).error().context("push " + ref->name());
    return digest;
}

}  // namespace kapsel::image
