// Progress display.
#include "image/progress.hpp"

#include <time.h>
#include <unistd.h>

#include <cstdio>

namespace kapsel::image {

// The line shows a stall when not even this much arrived for two seconds (kapsel-fetch
// ends a transfer slower than http.hpp's kStallSpeed after the stall timeout).
static constexpr uint64_t kStallBytes = 1024;

static int64_t now_ms() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<int64_t>(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
}

// Both: the lines go to stderr, but a redirected stdout means a script or a log reads
// the output (as docker decides by stdout), and carriage-return redraws only litter it.
bool progress_wanted(bool quiet) { return !quiet && ::isatty(STDERR_FILENO) && ::isatty(STDOUT_FILENO); }

ProgressReader::ProgressReader(Reader& inner, std::string label, bool enabled, uint64_t total)
    : inner_(inner), label_(std::move(label)), enabled_(enabled), total_(total), start_ms_(now_ms()), last_ms_(start_ms_),
      mark_ms_(start_ms_) {}

ProgressReader::~ProgressReader() {
    if (enabled_) draw(true);
}

Result<size_t> ProgressReader::read(char* buf, size_t n) {
    size_t got = KAPSEL_TRY(inner_.read(buf, n));
    bytes_ += got;
    if (bytes_ - mark_bytes_ >= kStallBytes) {
        mark_bytes_ = bytes_;
        mark_ms_ = now_ms();
    }
    if (enabled_ && now_ms() - last_ms_ >= 100) draw(false);
    return got;
}

void ProgressReader::waiting() {
    if (enabled_ && now_ms() - last_ms_ >= 100) draw(false);
}

void ProgressReader::draw(bool final) {
    last_ms_ = now_ms();
    double secs = static_cast<double>(last_ms_ - start_ms_) / 1000.0;
    double mb = static_cast<double>(bytes_) / 1e6;
    char of[32] = "";
    if (total_ > 0) std::snprintf(of, sizeof of, " of %.1f", static_cast<double>(total_) / 1e6);
    char speed[48];
    int64_t stalled_s = (last_ms_ - mark_ms_) / 1000;
    if (!final && stalled_s >= 2)
        std::snprintf(speed, sizeof speed, "stalled for %lld s", static_cast<long long>(stalled_s));
    else
        std::snprintf(speed, sizeof speed, "%.0f MB/s", secs > 0 ? mb / secs : 0.0);
    std::fprintf(stderr, "\r%s: %.1f%s MB, %s\033[K%s", label_.c_str(), mb, of, speed, final ? "\n" : "");
    std::fflush(stderr);
}

}  // namespace kapsel::image
