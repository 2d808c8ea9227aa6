// tar reading and writing.
#include "image/tar.hpp"

#include <unistd.h>

#include <cstring>

#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::image {
namespace {

constexpr size_t kBlock = 512;

struct Header {
    char name[100], mode[8], uid[8], gid[8], size[12], mtime[12], chksum[8], typeflag, linkname[100], magic[6],
        version[2], uname[32], gname[32], devmajor[8], devminor[8], prefix[155], pad[12];
};
static_assert(sizeof(Header) == kBlock);

std::string field(const char* p, size_t n) {
    size_t len = strnlen(p, n);
    return std::string(p, len);
}

// Octal, or base-256 when the high bit of the first byte is set (GNU, star).
Result<uint64_t> number(const char* p, size_t n, const char* what) {
    auto* u = reinterpret_cast<const unsigned char*>(p);
    if (u[0] & 0x80) {
        if (u[0] & 0x40) return make_error(std::string("tar: negative ") + what);
        uint64_t v = u[0] & 0x3f;
        for (size_t i = 1; i < n; ++i) {
            if (v >> 56) return make_error(std::string("tar: ") + what + " is too large");
            v = (v << 8) | u[i];
        }
        return v;
    }
    std::string s(trim(field(p, n)));
    if (s.empty()) return uint64_t{0};
    auto v = parse_uint(s, 8);
    if (!v) return make_error(std::string("tar: bad ") + what + " field \"" + s + "\"");
    return *v;
}

// pax records: "<len> <key>=<value>\n".
Status parse_pax(const std::string& data, std::map<std::string, std::string>& out) {
    size_t pos = 0;
    while (pos < data.size()) {
        size_t sp = data.find(' ', pos);
        if (sp == std::string::npos) return make_error("tar: bad pax header");
        auto len = parse_uint(std::string_view(data).substr(pos, sp - pos));
        if (!len || *len < 5 || pos + *len > data.size()) return make_error("tar: bad pax record length");
        std::string rec = data.substr(sp + 1, pos + *len - sp - 2);  // without the newline
        auto eq = rec.find('=');
        if (eq == std::string::npos) return make_error("tar: bad pax record");
        out[rec.substr(0, eq)] = rec.substr(eq + 1);
        pos += *len;
    }
    return {};
}

}  // namespace

Result<bool> TarReader::read_header(char* block) {
    size_t got = 0;
    while (got < kBlock) {
        size_t n = KAPSEL_TRY(in_.read(block + got, kBlock - got));
        if (n == 0) {
            if (got == 0) return false;  // archives without the end blocks are common enough
            return make_error("tar: truncated header");
        }
        got += n;
    }
    return true;
}

Result<bool> TarReader::next(TarEntry& e) {
    if (body_) {
        KAPSEL_TRY(body_->drain());
        char pad[kBlock];
        if (pad_) KAPSEL_TRY(in_.read_full(pad, pad_, "tar padding"));
        body_.reset();
    }
    std::map<std::string, std::string> pax;
    std::string long_name, long_link;
    while (true) {
        alignas(8) char block[kBlock];
        if (!KAPSEL_TRY(read_header(block))) return false;
        bool zero = true;
        for (char c : block) zero = zero && c == 0;
        if (zero) return false;  // the end-of-archive marker
        auto* h = reinterpret_cast<Header*>(block);
        // The checksum counts the checksum field as spaces.
        unsigned sum = 0;
        for (size_t i = 0; i < kBlock; ++i)
            sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(block[i]);
        uint64_t want = KAPSEL_TRY(number(h->chksum, sizeof h->chksum, "checksum"));
        if (want != sum) return make_error("tar: header checksum mismatch (not a tar archive, or corrupt)");

        uint64_t size = KAPSEL_TRY(number(h->size, sizeof h->size, "size"));
        char type = h->typeflag ? h->typeflag : '0';
        auto read_small = [&](const char* what) -> Result<std::string> {
            if (size > (1u << 24)) return make_error(std::string("tar: ") + what + " is too large");
            std::string data(size, '\0');
            KAPSEL_TRY(in_.read_full(data.data(), size, what));
            uint64_t padding = (kBlock - size % kBlock) % kBlock;
            char pad[kBlock];
            KAPSEL_TRY(in_.read_full(pad, padding, what));
            return data;
        };
        if (type == 'x' || type == 'g') {
            std::string data = KAPSEL_TRY(read_small("pax header"));
            KAPSEL_TRY(parse_pax(data, type == 'x' ? pax : global_));
            continue;
        }
        if (type == 'L' || type == 'K') {
            std::string data = KAPSEL_TRY(read_small("GNU long name"));
            std::string v(data.c_str());
            (type == 'L' ? long_name : long_link) = v;
            continue;
        }

        e = TarEntry{};
        std::string name = field(h->name, sizeof h->name);
        std::string prefix = field(h->prefix, sizeof h->prefix);
        bool ustar = std::memcmp(h->magic, "ustar", 5) == 0;
        if (ustar && !prefix.empty()) name = prefix + "/" + name;
        e.path = name;
        e.link = field(h->linkname, sizeof h->linkname);
        e.mode = static_cast<uint32_t>(KAPSEL_TRY(number(h->mode, sizeof h->mode, "mode")) & 07777);
        e.uid = static_cast<uint32_t>(KAPSEL_TRY(number(h->uid, sizeof h->uid, "uid")));
        e.gid = static_cast<uint32_t>(KAPSEL_TRY(number(h->gid, sizeof h->gid, "gid")));
        e.mtime = static_cast<int64_t>(KAPSEL_TRY(number(h->mtime, sizeof h->mtime, "mtime")));
        e.size = size;
        if (type == '3' || type == '4') {
            e.devmajor = static_cast<uint32_t>(KAPSEL_TRY(number(h->devmajor, sizeof h->devmajor, "devmajor")));
            e.devminor = static_cast<uint32_t>(KAPSEL_TRY(number(h->devminor, sizeof h->devminor, "devminor")));
        }
        switch (type) {
            case '0': case '7': e.type = EntryType::file; break;
            case '1': e.type = EntryType::hardlink; break;
            case '2': e.type = EntryType::symlink; break;
            case '3': e.type = EntryType::chardev; break;
            case '4': e.type = EntryType::blockdev; break;
            case '5': e.type = EntryType::directory; break;
            case '6': e.type = EntryType::fifo; break;
            default: return make_error(std::string("tar: unsupported entry type '") + type + "' for " + name);
        }
        // Old tars mark directories by a trailing slash only.
        if (e.type == EntryType::file && !e.path.empty() && e.path.back() == '/') e.type = EntryType::directory;
        if (!long_name.empty()) e.path = long_name;
        if (!long_link.empty()) e.link = long_link;
        for (auto* m : {&global_, &pax}) {
            for (auto& [k, v] : *m) {
                if (k == "path") e.path = v;
                else if (k == "linkpath") e.link = v;
                else if (k == "size") {
                    auto n = parse_uint(v);
                    if (!n) return make_error("tar: bad pax size for " + e.path);
                    e.size = *n;
                } else if (k == "uid") e.uid = static_cast<uint32_t>(parse_uint(v).value_or(e.uid));
                else if (k == "gid") e.gid = static_cast<uint32_t>(parse_uint(v).value_or(e.gid));
                else if (k == "mtime") e.mtime = parse_int(v.substr(0, v.find('.'))).value_or(e.mtime);
                else if (k.rfind("SCHILY.xattr.", 0) == 0) e.xattrs[k.substr(13)] = v;
            }
        }
        // Entries other than files carry no data, but skip whatever the header says.
        uint64_t data_size = e.size;
        body_ = std::make_unique<LimitedReader>(in_, data_size);
        pad_ = (kBlock - data_size % kBlock) % kBlock;
        if (e.type != EntryType::file) {
            KAPSEL_TRY(body_->drain());
            e.size = 0;
        }
        return true;
    }
}

Status TarWriter::write(const char* buf, size_t n) {
    KAPSEL_TRY(fs::write_all(fd_, std::string_view(buf, n), "archive"));
    written_ += n;
    return {};
}

// A header field in octal; a value that does not fit is written as 0 and must be
// carried by a pax record (the caller checks fits()).
static bool fits(size_t n, uint64_t v) {
    return n >= 2 && v < (uint64_t{1} << (3 * (n - 1)));
}
static void octal(char* p, size_t n, uint64_t v) {
    if (!fits(n, v)) v = 0;
    std::snprintf(p, n, "%0*llo", static_cast<int>(n - 1), static_cast<unsigned long long>(v));
}

static std::string pax_record(const std::string& key, const std::string& value) {
    // The length counts itself: find the fixed point.
    size_t body = key.size() + value.size() + 3;  // ' ', '=', '\n'
    size_t len = body + 1;
    while (std::to_string(len).size() + body != len) len = std::to_string(len).size() + body;
    return std::to_string(len) + " " + key + "=" + value + "\n";
}

Status TarWriter::header(const TarEntry& e) {
    std::string pax;
    if (format_ == TarFormat::pax) {
        if (e.path.size() > 99) pax += pax_record("path", e.path);
        if (e.link.size() > 99) pax += pax_record("linkpath", e.link);
        if (e.size > 077777777777ull) pax += pax_record("size", std::to_string(e.size));
        if (!fits(8, e.uid)) pax += pax_record("uid", std::to_string(e.uid));
        if (!fits(8, e.gid)) pax += pax_record("gid", std::to_string(e.gid));
        for (auto& [k, v] : e.xattrs) pax += pax_record("SCHILY.xattr." + k, v);
    } else if (e.size > 077777777777ull) {
        return make_error("tar: " + e.path + " is too large for a GNU tar header");
    } else if (!fits(8, e.uid) || !fits(8, e.gid)) {
        return make_error("tar: " + e.path + ": its owner " + std::to_string(e.uid) + ":" +
                          std::to_string(e.gid) + " does not fit a GNU tar header");
    }
    auto put = [&](const std::string& name, char type, uint64_t size,
                   const TarEntry& src) -> Status {
        alignas(8) char block[kBlock] = {};
        auto* h = reinterpret_cast<Header*>(block);
        std::strncpy(h->name, name.c_str(), sizeof h->name);
        octal(h->mode, sizeof h->mode, src.mode);
        octal(h->uid, sizeof h->uid, src.uid);
        octal(h->gid, sizeof h->gid, src.gid);
        octal(h->size, sizeof h->size, size > 077777777777ull ? 0 : size);
        octal(h->mtime, sizeof h->mtime, static_cast<uint64_t>(src.mtime < 0 ? 0 : src.mtime));
        h->typeflag = type;
        std::strncpy(h->linkname, src.link.c_str(), sizeof h->linkname);
        std::memcpy(h->magic, "ustar", 6);
        std::memcpy(h->version, "00", 2);
        octal(h->devmajor, sizeof h->devmajor, src.devmajor);
        octal(h->devminor, sizeof h->devminor, src.devminor);
        std::memset(h->chksum, ' ', sizeof h->chksum);
        unsigned sum = 0;
        for (char c : block) sum += static_cast<unsigned char>(c);
        std::snprintf(h->chksum, sizeof h->chksum, "%06o", sum);
        h->chksum[7] = ' ';
        return write(block, kBlock);
    };
    auto long_name = [&](char type, const std::string& name) -> Status {
        TarEntry ln;
        ln.mode = 0644;
        std::string data = name + '\0';
        KAPSEL_TRY(put("././@LongLink", type, data.size(), ln));
        KAPSEL_TRY(write(data.data(), data.size()));
        char zero[kBlock] = {};
        return write(zero, (kBlock - data.size() % kBlock) % kBlock);
    };
    if (format_ == TarFormat::gnu) {
        if (e.link.size() > 99) KAPSEL_TRY(long_name('K', e.link));
        if (e.path.size() > 99) KAPSEL_TRY(long_name('L', e.path));
    }
    if (!pax.empty()) {
        TarEntry px;
        px.mode = 0644;
        KAPSEL_TRY(put("PaxHeaders/" + e.path.substr(0, 80), 'x', pax.size(), px));
        KAPSEL_TRY(write(pax.data(), pax.size()));
        char zero[kBlock] = {};
        KAPSEL_TRY(write(zero, (kBlock - pax.size() % kBlock) % kBlock));
    }
    KAPSEL_TRY(put(e.path.substr(0, 99), static_cast<char>(e.type), e.type == EntryType::file ? e.size : 0, e));
    entry_size_ = e.type == EntryType::file ? e.size : 0;
    entry_left_ = entry_size_;
    return {};
}

Status TarWriter::data(const char* buf, size_t n) {
    if (n > entry_left_) return make_error("tar: more data than the entry's size");
    entry_left_ -= n;
    return write(buf, n);
}

Status TarWriter::end_entry() {
    if (entry_left_ != 0) return make_error("tar: entry is short of its size");
    char zero[kBlock] = {};
    return write(zero, (kBlock - entry_size_ % kBlock) % kBlock);
}

Status TarWriter::finish() {
    char zero[2 * kBlock] = {};
    return write(zero, sizeof zero);
}

}  // namespace kapsel::image
