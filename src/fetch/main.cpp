// kapsel-fetch: kapsel's HTTP transport, a separate program linked with libcurl.
// kapsel itself is linked statically for its start-up time, and Debian's libcurl
// cannot reasonably be linked statically, so kapsel runs this helper for registry
// traffic, as git runs git-remote-https. It holds no registry logic: kapsel decides
// every URL and header; this program only moves bytes. It keeps one curl handle for
// its whole life, so a pull of many blobs reuses its connections.
//
// Protocol (src/image/http.hpp is the other end). One JSON request per line on stdin:
//   {"method": "GET", "url": "https://host/v2/", "headers": ["Accept: ..."],
//    "insecure": false, "follow": true, "body": "...", "body_file": "/path",
//    "stall_speed": 1024, "stall_timeout": 30}
// method is GET (default), HEAD, PUT, POST or PATCH; a body comes from "body" or
// "body_file". A transfer that moves fewer than stall_speed bytes a second for
// stall_timeout seconds (defaults 1024 and 30; a timeout of 0 is none) ends with the
// error "the transfer stalled: ...". Each request is answered on stdout by
//   H {"status": 200, "url": "final url", "headers": [["content-type", "..."], ...]}\n
//   B <n>\n<n bytes of body>         (any number of these)
//   E {"error": "", "code": 0}\n     (curl's error text and code when the transfer failed)
// H is missing when no response arrived (connection refused, TLS failure). Header
// names are lower case; after redirects, H describes the last response.
//
// Requests come on stdin rather than as arguments because they carry credentials
// and tokens, which the command line would show to every user of the host.
#include <curl/curl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace {

using json = nlohmann::json;

constexpr size_t kHeaderLimit = 1 << 20;

struct Transfer {
    CURL* curl = nullptr;
    bool follow = true;
    long status = 0;  // of the response being received
    std::vector<std::pair<std::string, std::string>> headers;
    size_t header_bytes = 0;  // of all responses, redirects included
    bool head_sent = false;
    bool output_failed = false;
};

bool put(const void* data, size_t n) {
    return std::fwrite(data, 1, n, stdout) == n;
}

bool put_line(char kind, const json& j) {
    std::string line =
        std::string(1, kind) + " " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    return put(line.data(), line.size());
}

bool has_header(const Transfer& t, const char* name) {
    for (auto& h : t.headers)
        if (h.first == name) return true;
    return false;
}

bool send_head(Transfer& t) {
    if (t.head_sent) return true;
    t.head_sent = true;
    char* url = nullptr;
    curl_easy_getinfo(t.curl, CURLINFO_EFFECTIVE_URL, &url);
    json h = {{"status", t.status}, {"url", url ? url : ""}, {"headers", json::array()}};
    for (auto& [k, v] : t.headers) h["headers"].push_back({k, v});
    return put_line('H', h);
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto& t = *static_cast<Transfer*>(user);
    size_t len = size * n;
    // The server's headers go to kapsel in one line: a server that sends headers
    // without end is cut off (0 aborts the transfer).
    if ((t.header_bytes += len) > kHeaderLimit) return 0;
    std::string line(data, len);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.rfind("HTTP/", 0) == 0) {
        // A new response (after a redirect or a 100 Continue): its headers replace the last.
        t.headers.clear();
        auto sp = line.find(' ');
        t.status = sp == std::string::npos ? 0 : std::strtol(line.c_str() + sp + 1, nullptr, 10);
    } else if (auto colon = line.find(':'); colon != std::string::npos) {
        std::string name = line.substr(0, colon), value = line.substr(colon + 1);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto b = value.find_first_not_of(" \t");
        value =
            b == std::string::npos ? "" : value.substr(b, value.find_last_not_of(" \t") - b + 1);
        t.headers.emplace_back(name, value);
    }
    return len;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
    auto& t = *static_cast<Transfer*>(user);
    size_t len = size * n;
    // The body of a redirect that curl is about to follow is not the answer.
    if (t.follow && t.status >= 300 && t.status < 400 && has_header(t, "location")) return len;
    char frame[32];
    int k = std::snprintf(frame, sizeof frame, "B %zu\n", len);
    if (!send_head(t) || !put(frame, static_cast<size_t>(k)) || !put(data, len)) {
        t.output_failed = true;
        return 0;  // aborts the transfer: kapsel stopped reading
    }
    return len;
}

// A request as kapsel-fetch reads it. Every field is type-checked: nlohmann's value()
// throws on a member of another type, and an uncaught exception would abort the helper.
struct Request {
    std::string url, method = "GET", body, body_file;
    std::vector<std::string> headers;
    bool insecure = false, follow = true;
    long stall_speed = 1024, stall_timeout = 30;
};

// An error naming the field, or "" when the request is well-formed.
std::string parse_request(const std::string& line, Request& r) {
    json req = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (req.is_discarded() || !req.is_object())
        return "kapsel-fetch: a request must be a JSON object with a \"url\"";
    std::string bad;
    auto text = [&](const char* key, std::string& out) {
        auto it = req.find(key);
        if (it == req.end() || it->is_null()) return;
        if (it->is_string()) out = it->get<std::string>();
        else if (bad.empty()) bad = key;
    };
    auto flag = [&](const char* key, bool& out) {
        auto it = req.find(key);
        if (it == req.end() || it->is_null()) return;
        if (it->is_boolean()) out = it->get<bool>();
        else if (bad.empty()) bad = key;
    };
    auto number = [&](const char* key, long& out) {
        auto it = req.find(key);
        if (it == req.end() || it->is_null()) return;
        if (it->is_number_unsigned() && it->get<uint64_t>() <= 1'000'000'000) out = it->get<long>();
        else if (bad.empty()) bad = key;
    };
    text("url", r.url);
    number("stall_speed", r.stall_speed);
    number("stall_timeout", r.stall_timeout);
    text("method", r.method);
    text("body", r.body);
    text("body_file", r.body_file);
    flag("insecure", r.insecure);
    flag("follow", r.follow);
    if (auto it = req.find("headers"); it != req.end() && !it->is_null()) {
        if (!it->is_array()) bad = "headers";
        for (size_t i = 0; bad.empty() && i < it->size(); ++i) {
            const json& h = (*it)[i];
            // A line break would end the header early and start one of someone else's.
            if (!h.is_string() || h.get<std::string>().find_first_of("\r\n") != std::string::npos)
                bad = "headers[" + std::to_string(i) + "]";
            else
                r.headers.push_back(h.get<std::string>());
        }
    }
    if (!bad.empty()) return "kapsel-fetch: the request's \"" + bad + "\" has the wrong type or a line break";
    if (r.url.empty()) return "kapsel-fetch: a request must be a JSON object with a \"url\"";
    return "";
}

// Runs one request; false when stdout is gone.
bool serve(CURL* curl, const std::string& line) {
    Transfer t;
    t.curl = curl;
    Request req;
    if (std::string bad = parse_request(line, req); !bad.empty()) {
        put_line('E', {{"error", bad}, {"code", -1}});
        return std::fflush(stdout) == 0;
    }
    const std::string& url = req.url;
    const std::string& method = req.method;
    const std::string& body = req.body;
    const std::string& body_file = req.body_file;
    t.follow = req.follow;

    curl_easy_reset(curl);  // keeps the connection cache
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    // Registries send blobs to storage by redirect. curl does not send our
    // Authorization header to another host, which presigned storage URLs require.
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, t.follow ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
    // A stalled transfer fails (kapsel resumes a blob's): a server that trickles a
    // byte now and then must not hold a pull for ever.
    if (req.stall_timeout > 0) {
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, std::max(req.stall_speed, 1L));
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, req.stall_timeout);
    }
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "kapsel/" KAPSEL_VERSION);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    if (req.insecure) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_slist* headers = nullptr;
    for (auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());

    FILE* upload = nullptr;
    std::string open_error;
    if (method == "HEAD") {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (method != "GET") {
        // No "Expect: 100-continue" round trip before an upload.
        headers = curl_slist_append(headers, "Expect:");
        if (!body_file.empty()) {
            upload = std::fopen(body_file.c_str(), "rbe");
            struct stat st {};
            if (!upload || ::fstat(fileno(upload), &st) < 0) {
                open_error = "kapsel-fetch: open " + body_file + ": " + std::strerror(errno);
            } else {
                curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(curl, CURLOPT_READDATA, upload);
                curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
                                 static_cast<curl_off_t>(st.st_size));
                if (method != "PUT") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
            }
        } else {
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                             static_cast<curl_off_t>(body.size()));
            curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, body.c_str());
            if (method != "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
        }
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

    CURLcode rc = CURLE_OK;
    if (open_error.empty()) rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    if (upload) std::fclose(upload);
    if (t.output_failed) return false;
    if (t.status > 0 && open_error.empty() && !send_head(t)) return false;
    std::string error = !open_error.empty() ? open_error
                        : rc == CURLE_OK    ? ""
                        : errbuf[0]         ? errbuf
                                            : curl_easy_strerror(rc);
    // curl's "Operation too slow. Less than 1024 bytes/sec transferred the last 30
    // seconds" (a timeout of another kind, as a connect's, starts otherwise).
    if (rc == CURLE_OPERATION_TIMEDOUT && error.rfind("Operation too slow", 0) == 0)
        error = "the transfer stalled: less than " + std::to_string(std::max(req.stall_speed, 1L)) +
                " bytes/s for " + std::to_string(req.stall_timeout) + " s";
    if (!put_line('E',
                  {{"error", error}, {"code", open_error.empty() ? static_cast<int>(rc) : -1}}))
        return false;
    return std::fflush(stdout) == 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1) {
        std::fprintf(stderr,
                     "usage: %s  (reads JSON requests on stdin, one per line; kapsel runs it, see "
                     "src/fetch/main.cpp)\n",
                     argv[0]);
        return std::strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    // Dies with kapsel, and sees EPIPE instead of dying silently when kapsel stops reading.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::signal(SIGPIPE, SIG_IGN);
    static char outbuf[1 << 16];
    std::setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        std::fprintf(stderr, "kapsel-fetch: cannot initialise libcurl\n");
        return 1;
    }
    CURL* curl = curl_easy_init();
    if (!curl) return 1;
    std::string line;
    int rc = 0;
    while (std::getline(std::cin, line)) {
        if (line.empty()) continue;
        if (!serve(curl, line)) {
            rc = 1;
            break;
        }
    }
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    return rc;
}
