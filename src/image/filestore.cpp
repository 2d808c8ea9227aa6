// The file store's keys: naming, parsing, and reading one off an inode.
#include "image/filestore.hpp"

#include <sys/stat.h>
#include <sys/xattr.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdio>
#include <vector>

#include "util/sha256.hpp"
#include "util/strings.hpp"

namespace kapsel::image {
namespace {

bool is_hex(std::string_view s, size_t n) {
    return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

template <class T>
bool parse_number(std::string_view s, T& out, int base) {
    if (s.empty() || (s.size() > 1 && s[0] == '0' && base == 10)) return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
    return ec == std::errc() && end == s.data() + s.size();
}

// The kernel's own bounds (XATTR_LIST_MAX, XATTR_SIZE_MAX): a list or value beyond
// them is not something an inode can carry.
constexpr size_t kXattrMax = 65536;

}  // namespace

std::string FileKey::name() const {
    char meta[96];
    std::snprintf(meta, sizeof meta, "_%o_%u_%u_%lld", mode, uid, gid, static_cast<long long>(mtime));
    return content + meta + (xattrs.empty() ? "" : "_" + xattrs);
}

std::optional<FileKey> parse_file_key(std::string_view name) {
    auto parts = split(std::string(name), '_');
    if (parts.size() != 5 && parts.size() != 6) return std::nullopt;
    FileKey k;
    if (!is_hex(parts[0], 64)) return std::nullopt;
    k.content = parts[0];
    if (parts[1].empty() || !parse_number(parts[1], k.mode, 8) || k.mode > 07777) return std::nullopt;
    if (!parse_number(parts[2], k.uid, 10) || !parse_number(parts[3], k.gid, 10)) return std::nullopt;
    std::string_view t = parts[4];
    bool negative = !t.empty() && t[0] == '-';
    if (negative) t.remove_prefix(1);
    uint64_t m = 0;
    if (!parse_number(t, m, 10) || m > static_cast<uint64_t>(INT64_MAX) || (negative && m == 0)) return std::nullopt;
    k.mtime = negative ? -static_cast<int64_t>(m) : static_cast<int64_t>(m);
    if (parts.size() == 6) {
        if (!is_hex(parts[5], 64)) return std::nullopt;
        k.xattrs = parts[5];
    }
    if (k.name() != name) return std::nullopt;  // one spelling per key
    return k;
}

bool is_legacy_file_key(std::string_view name) {
    auto parts = split(std::string(name), '-');
    if (parts.size() != 4 && parts.size() != 5) return false;
    if (!is_hex(parts[0], 64)) return false;
    unsigned v = 0;
    return parse_number(parts[1], v, 8) && parse_number(parts[2], v, 10) && parse_number(parts[3], v, 10) &&
           (parts.size() == 4 || is_hex(parts[4], 16));
}

Result<FileKey> key_of(int fd, const std::string& content, const std::string& shown) {
    struct stat st;
    if (::fstat(fd, &st) < 0) return sys_error("stat " + shown);
    FileKey k;
    k.content = content;
    k.mode = st.st_mode & 07777;
    k.uid = st.st_uid;
    k.gid = st.st_gid;
    k.mtime = st.st_mtim.tv_sec;
    // A time the store never sets (it sets whole seconds) is a change made since.
    if (st.st_mtim.tv_nsec != 0) k.mtime = INT64_MIN;

    // Most files have none: one call that says so, and nothing to allocate.
    ssize_t n = ::flistxattr(fd, nullptr, 0);
    if (n < 0) return sys_error("list the xattrs of " + shown);
    if (n == 0) return k;
    std::string list(kXattrMax, '\0');
    n = ::flistxattr(fd, list.data(), list.size());
    if (n < 0) return sys_error("list the xattrs of " + shown);
    list.resize(static_cast<size_t>(n));
    std::vector<std::string> names;
    for (size_t i = 0; i < list.size();) {
        size_t end = list.find('\0', i);
        if (end == std::string::npos) end = list.size();
        if (end > i) names.push_back(list.substr(i, end - i));
        i = end + 1;
    }
    if (names.empty()) return k;
    std::sort(names.begin(), names.end());
    kapsel::Sha256 h;
    std::string value(kXattrMax, '\0');
    for (auto& name : names) {
        ssize_t v = ::fgetxattr(fd, name.c_str(), value.data(), value.size());
        if (v < 0) return sys_error("read the xattr " + name + " of " + shown);
        std::string len = std::to_string(v);
        h.update(name.data(), name.size() + 1);  // with its NUL
        h.update(len.data(), len.size() + 1);
        h.update(value.data(), static_cast<size_t>(v));
    }
    k.xattrs = h.hex();
    return k;
}

}  // namespace kapsel::image
