// Host-side file helpers for the state store and bundles (not for paths inside a
// container's rootfs: those go through linux/path.hpp, which never leaves the root).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/fd.hpp"
#include "util/result.hpp"

namespace kapsel::fs {

Result<std::string> read_file(const std::string& path);
Result<std::string> read_file_at(int dirfd, const std::string& name);
// Everything `fd` reads until its end, at most `max` bytes (more is an error: "read WHAT:
// larger than MAX bytes"), for input whose size nobody vouches for.
Result<std::string> read_fd(int fd, const std::string& what, size_t max = SIZE_MAX);
// openat2(2): `path` below `dirfd`, resolved as `resolve` says (RESOLVE_BENEATH,
// RESOLVE_NO_SYMLINKS, ...); O_CLOEXEC is added. The error reads "open PATH".
Result<unique_fd> openat2(int dirfd, const std::string& path, uint64_t flags, uint64_t resolve);
// Writes to a temporary name beside `path`, fsyncs nothing (state lives on tmpfs),
// then renames it into place, so a reader never sees half a file.
Status write_file_atomic(const std::string& path, std::string_view data, int mode = 0644);
Status write_file(const std::string& path, std::string_view data, int flags = 0);
// Writes all of `data` to fd (again after EINTR and short writes); the error reads
// "write WHAT".
Status write_all(int fd, std::string_view data, const std::string& what);
Status mkdir_p(const std::string& path, int mode = 0755);
// Removes a directory tree without following symlinks; missing is not an error.
Status remove_tree(const std::string& path);
bool exists(const std::string& path);
std::string join(std::string_view a, std::string_view b);
std::string dirname(std::string_view path);
std::string basename(std::string_view path);
// Absolute, lexically cleaned ("a/../b" -> "/cwd/b"); does not touch the disk.
std::string absolute(std::string_view path);
std::string clean(std::string_view path);

// Closes every fd from 3 on except those in `keep` (for a process that outlives its
// caller, which must not hold the caller's files).
void close_all_except(std::vector<int> keep);

}  // namespace kapsel::fs
