// Log sink: text ("time=... level=... msg=...") or JSON lines, like runc's logrus output.
#include "util/log.hpp"

#include <fcntl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
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

std::string timestamp() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm t{};
    gmtime_r(&ts.tv_sec, &t);
    char buf[64];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", t.tm_year + 1900,
             t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec);
    return buf;
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
    if (sink.format == Format::json) {
        line = "{\"level\":\"" + std::string(level_name(level)) +
               "\",\"msg\":" + json_quote(message) + ",\"time\":\"" + timestamp() + "\"}\n";
    } else if (sink.fd >= 0) {
        line = "time=\"" + timestamp() + "\" level=" + level_name(level) +
               " msg=" + json_quote(message) + "\n";
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
