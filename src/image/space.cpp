// The free-space reserve and the maximum unpacked size of imports.
#include "image/space.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <cctype>

#include "image/gc.hpp"

namespace kapsel::image {

Result<FsSpace> fs_space(const std::string& path) {
    struct statvfs v;
    if (::statvfs(path.c_str(), &v) < 0) return sys_error("statvfs " + path);
    FsSpace s;
    s.size = static_cast<uint64_t>(v.f_blocks) * v.f_frsize;
    s.free = static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
    s.inodes = v.f_files;
    s.free_inodes = v.f_favail;
    return s;
}

uint64_t space_reserve(const FsSpace& fs) { return std::min<uint64_t>(fs.size / 20, 1ull << 30); }
uint64_t inode_reserve(const FsSpace& fs) { return std::min<uint64_t>(fs.inodes / 20, 1000000); }

Status fits(const FsSpace& fs, uint64_t want, uint64_t want_inodes, const std::string& where) {
    uint64_t keep = space_reserve(fs);
    if (fs.free < keep || fs.free - keep < want)
        return make_error("the file system of " + where + " has " + human_bytes(fs.free) + " free and keeps " +
                          human_bytes(keep) + " (5%, at most 1 GiB) free: the layer does not fit");
    uint64_t keep_inodes = inode_reserve(fs);
    if (fs.inodes > 0 && (fs.free_inodes < keep_inodes || fs.free_inodes - keep_inodes < want_inodes))
        return make_error("the file system of " + where + " has " + std::to_string(fs.free_inodes) +
                          " free inodes and keeps " + std::to_string(keep_inodes) +
                          " (5%, at most a million) free: the layer does not fit");
    return {};
}

Result<uint64_t> parse_size(std::string_view text) {
    auto bad = [&] { return make_error("\"" + std::string(text) + "\" is not a size (like 512m or 2g)"); };
    size_t i = 0;
    uint64_t whole = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        if (whole > (UINT64_MAX - 9) / 10) return bad();
        whole = whole * 10 + static_cast<uint64_t>(text[i++] - '0');
    }
    if (i == 0) return bad();
    // A fraction: up to 6 digits are kept ("2.5g").
    uint64_t frac = 0, frac_div = 1;
    if (i < text.size() && text[i] == '.') {
        ++i;
        size_t start = i;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
            if (frac_div < 1000000) {
                frac = frac * 10 + static_cast<uint64_t>(text[i] - '0');
                frac_div *= 10;
            }
            ++i;
        }
        if (i == start) return bad();
    }
    std::string unit;
    for (; i < text.size(); ++i) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
    if (unit.size() > 1 && unit.back() == 'b') unit.pop_back();  // "mb", "kib"
    if (unit.size() > 1 && unit.back() == 'i') unit.pop_back();
    int shift = 0;
    if (unit == "k") shift = 10;
    else if (unit == "m") shift = 20;
    else if (unit == "g") shift = 30;
    else if (unit == "t") shift = 40;
    else if (!unit.empty() && unit != "b") return bad();
    if (whole > (UINT64_MAX >> shift)) return bad();
    return (whole << shift) + ((frac << shift) / frac_div);
}

Result<uint64_t> parse_max_size(std::string_view text) {
    if (text.empty()) return uint64_t{0};
    uint64_t n = KAPSEL_TRY(parse_size(text));
    if (n == 0) return make_error("\"" + std::string(text) + "\" is no size to unpack anything in (give more than 0)");
    return n;
}

Status SpaceGuard::ask(uint64_t bytes, uint64_t entries) {
    FsSpace fs = KAPSEL_TRY(fs_space(root_));
    KAPSEL_TRY(fits(fs, bytes, entries, root_));
    bytes_left_ = bytes;
    entries_left_ = entries;
    return {};
}

Status SpaceGuard::start() { return ask(kCheckBytes, kCheckEntries); }

Status SpaceGuard::add(uint64_t bytes, bool entry) {
    if (max_ && (unpacked_ > max_ || bytes > max_ - unpacked_))
        return make_error("the image's files pass the maximum unpacked size of " + human_bytes(max_) + " (--max-size)");
    unpacked_ += bytes;
    if (bytes > bytes_left_ || (entry && entries_left_ == 0)) KAPSEL_TRY(ask(std::max(bytes, kCheckBytes), kCheckEntries));
    bytes_left_ -= bytes;
    if (entry) --entries_left_;
    return {};
}

}  // namespace kapsel::image
