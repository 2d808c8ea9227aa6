// The kapsel-fetch helper process and its line protocol (see src/fetch/main.cpp).
#include "image/http.hpp"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "oci/json_reader.hpp"
#include "util/log.hpp"
#include "util/self.hpp"
#include "util/strings.hpp"

#ifndef KAPSEL_LIBEXECDIR
#define KAPSEL_LIBEXECDIR "/usr/local/libexec/kapsel"
#endif

extern char** environ;

namespace kapsel::image {

std::string HttpResponse::header(std::string_view name) const {
    for (auto& [k, v] : headers)
        if (k == name) return v;
    return "";
}

Result<std::string> find_fetch_helper() {
    if (const char* e = ::getenv("KAPSEL_FETCH"); e && *e) {
        if (::access(e, X_OK) != 0) return sys_error("KAPSEL_FETCH=" + std::string(e));
        return std::string(e);
    }
    auto found = self::find_helper("kapsel-fetch");
    if (!found)
        return make_error("kapsel-fetch, kapsel's HTTP helper, " + found.error().message +
                          ": install it, or name it with KAPSEL_FETCH");
    return found;
}

HttpClient::~HttpClient() {
    stop();
}

Status HttpClient::start() {
    std::string helper = KAPSEL_TRY(find_fetch_helper());
    // One socket for both directions: kapsel writes with MSG_NOSIGNAL, so a helper
    // that died is an error here rather than a SIGPIPE that kills kapsel.
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return sys_error("socketpair for kapsel-fetch");
    unique_fd mine(sv[0]), theirs(sv[1]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, theirs.get(), 0);
    posix_spawn_file_actions_adddup2(&fa, theirs.get(), 1);
    char* argv[] = {const_cast<char*>("kapsel-fetch"), nullptr};
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, helper.c_str(), &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return sys_error("run " + helper, rc);
    log::debug("started " + helper + " (pid " + std::to_string(pid) + ")");
    pid_ = pid;
    sock_ = std::move(mine);
    buf_.clear();
    pos_ = 0;
    in_body_ = false;
    chunk_left_ = 0;
    return {};
}

void HttpClient::stop() {
    if (pid_ < 0) return;
    // Mid-response the helper may be waiting on the network: it is killed. Idle, it
    // exits on end of input.
    if (in_body_) ::kill(pid_, SIGKILL);
    sock_.reset();
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    in_body_ = false;
}

Status HttpClient::fill() {
    if (pos_ > 0 && pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
    }
    char tmp[1 << 16];
    while (true) {
        if (wait_hook_) {
            pollfd p{sock_.get(), POLLIN, 0};
            int ready = ::poll(&p, 1, 500);
            if (ready < 0 && errno != EINTR) return sys_error("wait for kapsel-fetch");
            if (ready <= 0) {
                if (ready == 0) wait_hook_();
                continue;
            }
        }
        ssize_t n = ::read(sock_.get(), tmp, sizeof tmp);
        if (n > 0) {
            buf_.append(tmp, static_cast<size_t>(n));
            return {};
        }
        if (n == 0) {
            in_body_ = false;
            stop();
            return make_error("kapsel-fetch exited in the middle of a request");
        }
        if (errno != EINTR) return sys_error("read from kapsel-fetch");
    }
}

Result<std::string> HttpClient::read_line() {
    while (true) {
        auto nl = buf_.find('\n', pos_);
        if (nl != std::string::npos) {
            std::string line = buf_.substr(pos_, nl - pos_);
            pos_ = nl + 1;
            return line;
        }
        KAPSEL_TRY(fill());
    }
}

Result<size_t> HttpClient::read_raw(char* buf, size_t n) {
    if (pos_ == buf_.size()) KAPSEL_TRY(fill());
    size_t k = std::min(n, buf_.size() - pos_);
    std::memcpy(buf, buf_.data() + pos_, k);
    pos_ += k;
    return k;
}

// "E {...}": the end of a response, with curl's error if the transfer failed.
Status HttpClient::end_of_response(const std::string& line) {
    in_body_ = false;
    auto j = oci::JsonReader::parse(std::string_view(line).substr(2), "kapsel-fetch");
    std::string error;
    oci::JsonReader r("kapsel-fetch: the end of a response");
    if (j && r.object(*j, "")) r.opt(*j, "error", "", error);
    if (!j || r.error()) {
        stop();
        return make_error("kapsel-fetch: invalid reply " + oci::JsonReader::quoted(line));
    }
    if (error.empty()) return {};
    // curl's messages start with a capital ("Failed to connect to ..."); kapsel's do not.
    // They may quote what a server sent (a redirect's scheme, say): one printable line.
    error[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(error[0])));
    for (char& c : error)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    return Error{kTransportError, error};
}

Result<HttpResponse> HttpClient::send(const HttpRequest& req) {
    // A body nobody read to its end (a download given up): the helper is still
    // sending it, so it starts afresh.
    if (in_body_) stop();
    if (pid_ < 0) KAPSEL_TRY(start());
    nlohmann::json j = {{"method", req.method},
                        {"url", req.url},
                        {"headers", req.headers},
                        {"insecure", req.insecure},
                        {"follow", req.follow},
                        {"stall_speed", static_cast<unsigned>(kStallSpeed)},
                        {"stall_timeout", static_cast<unsigned>(std::max(stall_timeout_, 0))}};
    if (!req.body.empty()) j["body"] = req.body;
    if (!req.body_file.empty()) j["body_file"] = req.body_file;
    std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    log::debug("kapsel-fetch: " + req.method + " " + req.url);
    for (size_t off = 0; off < line.size();) {
        ssize_t w = ::send(sock_.get(), line.data() + off, line.size() - off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            auto e = sys_error("send a request to kapsel-fetch");
            stop();
            return e;
        }
        off += static_cast<size_t>(w);
    }
    in_body_ = true;
    std::string reply = KAPSEL_TRY(read_line());
    if (reply.rfind("E ", 0) == 0) {
        KAPSEL_TRY(end_of_response(reply));
        return make_error("kapsel-fetch: no response and no error");
    }
    if (reply.rfind("H ", 0) != 0) {
        stop();
        return make_error("kapsel-fetch: invalid reply " + oci::JsonReader::quoted(reply));
    }
    // The helper writes this line, but from the server's bytes (headers, the URL of a
    // redirect): read through checked accessors like any document from outside.
    auto h = oci::JsonReader::parse(std::string_view(reply).substr(2), "kapsel-fetch");
    oci::JsonReader hr("kapsel-fetch: the response head");
    HttpResponse r;
    r.url = req.url;
    if (h && hr.object(*h, "")) {
        hr.req(*h, "status", "", r.status);
        hr.opt(*h, "url", "", r.url);
        std::vector<std::vector<std::string>> headers;
        hr.opt(*h, "headers", "", headers);
        for (auto& kv : headers)
            if (kv.size() == 2) r.headers.emplace_back(std::move(kv[0]), std::move(kv[1]));
    }
    if (!h || hr.error()) {
        stop();
        return h ? *hr.error() : std::move(h).error();
    }
    chunk_left_ = 0;
    log::debug("kapsel-fetch: HTTP " + std::to_string(r.status) + " from " + r.url);
    return r;
}

Result<size_t> HttpClient::read_body(char* buf, size_t n) {
    while (in_body_) {
        if (chunk_left_ > 0) {
            size_t got =
                KAPSEL_TRY(read_raw(buf, static_cast<size_t>(std::min<uint64_t>(n, chunk_left_))));
            chunk_left_ -= got;
            return got;
        }
        std::string line = KAPSEL_TRY(read_line());
        if (line.rfind("B ", 0) == 0) {
            auto len = parse_uint(line.substr(2));
            if (!len) {
                stop();
                return make_error("kapsel-fetch: invalid body frame " + oci::JsonReader::quoted(line));
            }
            chunk_left_ = *len;
        } else if (line.rfind("E ", 0) == 0) {
            KAPSEL_TRY(end_of_response(line));
        } else {
            stop();
            return make_error("kapsel-fetch: invalid reply " + oci::JsonReader::quoted(line));
        }
    }
    return size_t{0};
}

Result<std::string> HttpClient::read_all(size_t limit) {
    std::string out;
    char buf[1 << 16];
    while (true) {
        size_t got = KAPSEL_TRY(read_body(buf, sizeof buf));
        if (got == 0) return out;
        out.append(buf, got);
        if (out.size() > limit) {
            stop();
            return make_error("the response is larger than " + std::to_string(limit) + " bytes");
        }
    }
}

}  // namespace kapsel::image
