// The process-wide log sink (the one piece of global mutable state). Lines go to
// --log FILE (or stderr) as text or as runc's JSON lines, which containerd reads
// back to show why a runtime call failed.
#pragma once

#include <string_view>

namespace kapsel::log {

enum class Level { debug, info, warning, error };
enum class Format { text, json };

// Opens `path` for appending ("" keeps stderr). Errors are reported on stderr only.
void configure(std::string_view path, Format format, bool debug);
bool debug_enabled();

void write(Level level, std::string_view message);
inline void debug(std::string_view m) {
    write(Level::debug, m);
}
inline void info(std::string_view m) {
    write(Level::info, m);
}
inline void warn(std::string_view m) {
    write(Level::warning, m);
}
inline void error(std::string_view m) {
    write(Level::error, m);
}

// The fd of the log file, or -1 when logging to stderr (a forked child keeps it).
int fd();
// Replaces the log fd (after a child moved it to another number).
void set_fd(int fd);

}  // namespace kapsel::log
