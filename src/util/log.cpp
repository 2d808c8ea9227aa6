// Log sink: text ("time=... level=... msg=...") or JSON lines, like runc's logrus output.
#include "util/log.hpp"

#include <fcntl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "util/strings.hpp"

namespace kapsel::log {
namespace {

struct Sink {
    int fd = -1;  // -1: stderr
    Format format = Format::text;
    bool debug = false;
};
Sink sink;

const char* level_name(Level l) {
    switch (l) {
        case Level::debug:
            return "debug";
        case Level::info:
            return "info";
        case Level::warning:
            return "warning";
        case Level::error:
            return "error";
    }
    return "info";
}

// logrus's default: RFC 3339 to the second, in local time ("Z" for UTC).
std::string timestamp() {
    time_t now = ::time(nullptr);
    tm t{};
    localtime_r(&now, &t);
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", t.tm_year + 1900,
                     t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
    long off = t.tm_gmtoff;
    if (off == 0) {
        snprintf(buf + n, sizeof buf - static_cast<size_t>(n), "Z");
    } else {
        char sign = off < 0 ? '-' : '+';
        if (off < 0) off = -off;
        snprintf(buf + n, sizeof buf - static_cast<size_t>(n), "%c%02ld:%02ld", sign, off / 3600,
                 off / 60 % 60);
    }
    return buf;
}

// The length of the well-formed UTF-8 sequence at s[i], 0 if there is none.
size_t utf8_at(std::string_view s, size_t i) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    return valid_utf8(s.substr(i, n)) ? n : 0;
}

// A JSON string as Go's encoding/json writes it (logrus's JSONFormatter): <, >
// and & as \u escapes, U+2028/2029 escaped, a byte that is not UTF-8 as U+FFFD.
std::string go_json_quote(std::string_view s) {
    std::string out = "\"";
    char hex[8];
    for (size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        size_t n = utf8_at(s, i);
        if (n == 0) {
            out += "\\ufffd";
            ++i;
            continue;
        }
        if (n == 3 && c == 0xe2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
            (static_cast<unsigned char>(s[i + 2]) == 0xa8 ||
             static_cast<unsigned char>(s[i + 2]) == 0xa9)) {
            out += static_cast<unsigned char>(s[i + 2]) == 0xa8 ? "\\u2028" : "\\u2029";
        } else if (n > 1) {
            out.append(s.substr(i, n));
        } else if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            snprintf(hex, sizeof hex, "\\u%04x", c);
            out += hex;
        } else {
            out += static_cast<char>(c);
        }
        i += n;
    }
    return out + "\"";
}

// A value of logrus's TextFormatter: bare when it is only letters, digits and
// -._/@^+, else quoted as Go's strconv.Quote does.
std::string logfmt_value(std::string_view s) {
    bool bare = true;
    for (char ch : s) {
        bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '/' ||
                     ch == '@' || ch == '^' || ch == '+';
        bare = bare && plain;
    }
    if (bare) return std::string(s);
    std::string out = "\"";
    char hex[8];
    for (size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        size_t n = utf8_at(s, i);
        if (n > 1) {
            out.append(s.substr(i, n));
            i += n;
            continue;
        }
        static const char* const shorts = "\a\b\t\n\v\f\r";
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c != 0 && std::strchr(shorts, c)) {
            out += '\\';
            out += "abtnvfr"[std::strchr(shorts, c) - shorts];
        } else if (n == 0 || c < 0x20 || c == 0x7f) {
            snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
        } else {
            out += static_cast<char>(c);
        }
        ++i;
    }
    return out + "\"";
}

}  // namespace

void configure(std::string_view path, Format format, bool debug) {
    sink.format = format;
    sink.debug = debug;
    if (!path.empty()) {
        std::string p(path);
        int fd = ::open(p.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            std::fprintf(stderr, "kapsel: open log file %s: %s\n", p.c_str(),
                         errno_name(errno).c_str());
        } else {
            if (sink.fd >= 0) ::close(sink.fd);
            sink.fd = fd;
        }
    }
}

bool debug_enabled() {
    return sink.debug;
}
int fd() {
    return sink.fd;
}
void set_fd(int fd) {
    sink.fd = fd;
}

void write(Level level, std::string_view message) {
    if (level == Level::debug && !sink.debug) return;
    std::string line;
    // Byte for byte what runc's logrus writes (keys in this order), since
    // containerd and podman parse these files.
    if (sink.format == Format::json) {
        line = "{\"level\":\"" + std::string(level_name(level)) +
               "\",\"msg\":" + go_json_quote(message) + ",\"time\":\"" + timestamp() + "\"}\n";
    } else if (sink.fd >= 0) {
        line = "time=" + logfmt_value(timestamp()) + " level=" + level_name(level) +
               " msg=" + logfmt_value(message) + "\n";
    } else {
        // Plain stderr: one readable line.
        line = std::string("kapsel: ") +
               (level == Level::error ? "" : std::string(level_name(level)) + ": ") +
               std::string(message) + "\n";
    }
    int fd = sink.fd >= 0 ? sink.fd : STDERR_FILENO;
    ssize_t unused = ::write(fd, line.data(), line.size());
    (void)unused;
}

}  // namespace kapsel::log
