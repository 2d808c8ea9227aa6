// How much of the store's file system an import may fill. A layer's archive says
// nothing trustworthy about its unpacked size (9 MB of gzip unpack to 10 GB), so the
// unpacker asks as it writes: it stops before the file system falls below a reserve
// (5% of it, at most 1 GiB; inodes alike), and, when the user sets one (--max-size),
// before the content unpacked by one command passes a maximum.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace kapsel::image {

struct FsSpace {
    uint64_t size = 0, free = 0;          // bytes (free: what an unprivileged writer may use)
    uint64_t inodes = 0, free_inodes = 0; // 0 inodes: the file system does not count them
};

Result<FsSpace> fs_space(const std::string& path);

// What the store's file system keeps free: 5% of its size, at most 1 GiB; 5% of its
// inodes, at most a million.
uint64_t space_reserve(const FsSpace& fs);
uint64_t inode_reserve(const FsSpace& fs);

// Whether `want` more bytes and `want_inodes` more inodes fit above the reserve of `fs`
// (the file system of `where`); the error says how much is free and kept.
Status fits(const FsSpace& fs, uint64_t want, uint64_t want_inodes, const std::string& where);

// "512m", "1g", "2.5G", "1048576", "10kb" -> bytes (k, m, g, t: powers of 1024).
Result<uint64_t> parse_size(std::string_view text);
// --max-size: a size above 0, or "" for no maximum (0).
Result<uint64_t> parse_max_size(std::string_view text);

// The running tally of one command's unpacking against its limits: call start() as a
// layer begins and add() before each write. The file system is asked (statvfs) at the
// start and then every kCheckBytes or kCheckEntries, each time for room for the next
// step, so the reserve is never undercut by more than nothing.
class SpaceGuard {
public:
    static constexpr uint64_t kCheckBytes = 4u << 20;
    static constexpr uint64_t kCheckEntries = 256;

    SpaceGuard(std::string root, uint64_t max_unpacked, uint64_t& unpacked)
        : root_(std::move(root)), max_(max_unpacked), unpacked_(unpacked) {}
    Status start();
    // Before writing `bytes` more of a file's content, or (`bytes` 0) before an entry.
    Status add(uint64_t bytes, bool entry = false);

private:
    Status ask(uint64_t bytes, uint64_t entries);
    std::string root_;
    uint64_t max_;        // 0: no maximum
    uint64_t& unpacked_;  // content unpacked by this command so far (the Store's tally)
    uint64_t bytes_left_ = 0, entries_left_ = 0;  // what the last statvfs left room for
};

}  // namespace kapsel::image
