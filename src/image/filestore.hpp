// The shared file store's keys. files/<xx>/<key> holds every regular file of every
// layer once; a layer's file is a hard link to it, so two layers share one inode, and
// with it everything an inode carries. The key therefore names all of that: content,
// mode (with setuid, setgid, sticky), owner, mtime and xattrs. A stored inode gets all
// of it before it has its name, and nothing changes it after (issue 12, break 2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace kapsel::image {

struct FileKey {
    std::string content;  // sha256 of the content, 64 hex digits
    uint32_t mode = 0;    // permission bits, setuid, setgid and sticky
    uint32_t uid = 0, gid = 0;
    int64_t mtime = 0;    // seconds (the nanoseconds are 0)
    std::string xattrs;   // sha256 of all xattrs (see key_of), 64 hex digits; empty: none

    // "<content>_<mode octal>_<uid>_<gid>_<mtime>[_<xattrs>]"
    std::string name() const;
    bool operator==(const FileKey&) const = default;
};

// The key a stored file's name states; nullopt when it is no key.
std::optional<FileKey> parse_file_key(std::string_view name);

// A name of the older form "<content>-<mode>-<uid>-<gid>[-<16 hex>]", which did not
// name the mtime and hashed the xattrs ambiguously.
bool is_legacy_file_key(std::string_view name);

// The key of what the inode behind `fd` carries now (fstat and its xattrs), whose
// content has the sha256 `content`. `shown` names it in errors. The xattrs are hashed
// by sorted name, each as name NUL length NUL value, so no two sets hash alike.
Result<FileKey> key_of(int fd, const std::string& content, const std::string& shown);

}  // namespace kapsel::image
