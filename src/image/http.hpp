// kapsel's end of its HTTP transport: runs the kapsel-fetch helper (src/fetch) and
// speaks its line protocol, one request at a time, the response body as a stream.
// The helper keeps its connections between requests.
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/fd.hpp"
#include "util/result.hpp"

namespace kapsel::image {

inline constexpr int kTransportError = EIO;

// A transfer slower than this many bytes a second for the stall timeout is ended by
// kapsel-fetch ("the transfer stalled: ..."), a transport error like a dropped line.
inline constexpr int kStallSpeed = 1024;
inline constexpr int kDefaultStallTimeout = 30;  // seconds

struct HttpRequest {
    std::string method = "GET";  // GET, HEAD, PUT, POST, PATCH
    std::string url;
    std::vector<std::string> headers;  // "Name: value"
    std::string body;                  // sent with PUT, POST, PATCH ...
    std::string body_file;             // ... or this file's content
    bool insecure = false;             // any certificate
    bool follow = true;                // follow redirects
};

struct HttpResponse {
    int status = 0;
    std::string url;                                           // after redirects
    std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
    // The first value of a header ("" when absent); `name` in lower case.
    std::string header(std::string_view name) const;
};

// Where kapsel-fetch is: $KAPSEL_FETCH, beside the kapsel binary, or in
// kapsel's libexec directory.
Result<std::string> find_fetch_helper();

class HttpClient {
  public:
    HttpClient() = default;
    ~HttpClient();
    HttpClient(HttpClient&&) = delete;

    // Sends a request and returns the head of its response; the body follows
    // through read_body. Any unread body of the previous response is dropped first.
    // Failures of the network (no answer, a dropped connection, a timeout) are
    // errors with code kTransportError, whatever the call.
    Result<HttpResponse> send(const HttpRequest& req);
    // Up to n bytes of the body; 0 at its end. An error is a transport failure
    // (the connection dropped): the bytes returned so far are good.
    Result<size_t> read_body(char* buf, size_t n);
    // The rest of the body, at most `limit` bytes (more is an error).
    Result<std::string> read_all(size_t limit);
    // Stops the helper (it restarts with the next request).
    void stop();
    // Seconds under kStallSpeed after which a transfer ends (0: never), for the
    // requests from now on.
    void set_stall_timeout(int seconds) { stall_timeout_ = seconds; }
    // Called about twice a second while a response is awaited and nothing arrives
    // (a progress display shows the stall); empty: none.
    void set_wait_hook(std::function<void()> hook) { wait_hook_ = std::move(hook); }

  private:
    Status start();
    Status fill();
    Result<std::string> read_line();
    Result<size_t> read_raw(char* buf, size_t n);
    Status end_of_response(const std::string& line);

    pid_t pid_ = -1;
    unique_fd sock_;  // the helper's stdin and stdout
    std::string buf_;
    size_t pos_ = 0;
    bool in_body_ = false;     // a response's frames are still coming
    uint64_t chunk_left_ = 0;  // bytes left in the current body frame
    int stall_timeout_ = kDefaultStallTimeout;
    std::function<void()> wait_hook_;
};

}  // namespace kapsel::image
