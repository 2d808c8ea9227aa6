// Bounded container logs as data: `run --log-opt` parsed as docker's json-file driver
// takes it, and what the log keeper (runtime/logfile.cpp) does with a log of a given
// size. No syscalls: the rules are unit-tested.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace kapsel::plan {

// More rotated files than this is a mistake, not a log policy (and readers walk them).
inline constexpr int kMaxLogFiles = 100;
// Far beyond any log; keeps max-size × max-file inside 64 bits.
inline constexpr uint64_t kMaxLogSize = uint64_t{1} << 50;  // 1 PiB

struct LogOptions {
    uint64_t max_size = 0;  // 0: the log grows without bound
    int max_file = 1;       // files kept in all, the current ctr.log included
    bool operator==(const LogOptions&) const = default;
};

// docker's size syntax (go-units RAMInBytes): a decimal number, an optional space, and
// an optional unit b, k, m, g, t or p (any case, k/kb/kib alike), powers of 1024:
// "10m" is 10485760 bytes, "1.5k" 1536, "512" 512.
Result<uint64_t> parse_log_size(std::string_view text);

// The --log-opt KEY=VALUE options in order (a later one of a key wins): max-size and
// max-file; max-file without max-size is an error, as with docker.
Result<LogOptions> parse_log_options(const std::vector<std::string>& opts);

// container.json's "log_opts" ({"max-size": bytes, "max-file": n}), and back: a record
// that is not such an object is an error, never an exception.
nlohmann::json log_options_json(const LogOptions& o);
Result<LogOptions> log_options_from_json(const nlohmann::json& j);

// The keeper cuts a log's head in whole blocks of its file system: max-size must be at
// least two of them for the current file to stay below max-size.
Status check_log_block_size(const LogOptions& o, uint64_t block);

// One cut by the keeper of a log of `size` bytes (nothing below max-size). `cut` bytes
// go from the log's head (a multiple of the block size, never the whole file:
// fallocate's COLLAPSE_RANGE must end before EOF); the last kept() of them become the
// new rotated files, `chunks` long each, newest (ctr.log.1) first, each at most
// max-size; the rest of the cut is dropped. The keeper cuts again while the log is at
// max-size or more. With max-file 1 there are no rotated files: the log keeps its last
// half max-size or so instead of starting over empty.
struct LogCut {
    uint64_t cut = 0;
    std::vector<uint64_t> chunks;
    uint64_t kept() const;
};
LogCut plan_log_cut(const LogOptions& o, uint64_t size, uint64_t block);

}  // namespace kapsel::plan
