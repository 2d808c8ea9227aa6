// CRIU's seccomp.img read and rewritten by hand: a few lines of protobuf wire format
// (varints and length-delimited fields) instead of a protobuf dependency. The messages
// are criu's images/seccomp.proto:
//   message seccomp_filter { required bytes filter = 1; optional uint32 prev = 2;
//                            optional uint32 flags = 3; }
//   message seccomp_entry  { repeated seccomp_filter seccomp_filters = 1; }
// and the file is CRIU's image format: two little-endian 32-bit magics, then each
// message as a little-endian 32-bit size and its bytes.
#include "plan/criu_seccomp.hpp"

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstring>

namespace kapsel::plan {
namespace {

constexpr uint32_t kImgCommonMagic = 0x54564319;  // criu/include/magic.h
constexpr uint32_t kSeccompMagic = 0x64413049;

enum WireType : uint64_t { kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5 };

uint32_t load_le32(std::string_view s) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[static_cast<size_t>(i)]);
    return v;
}

void store_le32(std::string& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void store_varint(std::string& out, uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
}

// One field of a message: its number, its wire type, its raw bytes (tag included) and,
// for a length-delimited field, its payload.
struct Field {
    uint64_t number = 0;
    uint64_t wire = 0;
    std::string_view raw, payload;
};

// Reads the fields of one message; every length is checked against what is left, so a
// lying length is an error, never a read past the end.
class FieldReader {
  public:
    explicit FieldReader(std::string_view msg) : s_(msg) {}
    bool done() const { return pos_ == s_.size(); }

    Result<Field> next() {
        size_t start = pos_;
        uint64_t tag = KAPSEL_TRY(varint());
        Field f{.number = tag >> 3, .wire = tag & 7};
        if (f.number == 0) return make_error("field number 0 at byte " + std::to_string(start));
        switch (f.wire) {
            case kVarint:
                KAPSEL_TRY(varint());
                break;
            case kFixed64:
                KAPSEL_TRY(skip(8));
                break;
            case kFixed32:
                KAPSEL_TRY(skip(4));
                break;
            case kBytes: {
                uint64_t len = KAPSEL_TRY(varint());
                if (len > s_.size() - pos_)
                    return make_error("field " + std::to_string(f.number) + " at byte " +
                                      std::to_string(start) + " is longer than its message");
                f.payload = s_.substr(pos_, static_cast<size_t>(len));
                pos_ += static_cast<size_t>(len);
                break;
            }
            default:  // groups (3, 4) are not in CRIU's images; 6 and 7 do not exist
                return make_error("field " + std::to_string(f.number) + " at byte " +
                                  std::to_string(start) + " has wire type " +
                                  std::to_string(f.wire));
        }
        f.raw = s_.substr(start, pos_ - start);
        return f;
    }

  private:
    Result<uint64_t> varint() {
        uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos_ >= s_.size()) return make_error("truncated varint at byte " + std::to_string(pos_));
            auto b = static_cast<unsigned char>(s_[pos_++]);
            v |= static_cast<uint64_t>(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
        return make_error("varint longer than 10 bytes at byte " + std::to_string(pos_));
    }
    Status skip(size_t n) {
        if (n > s_.size() - pos_) return make_error("truncated field at byte " + std::to_string(pos_));
        pos_ += n;
        return {};
    }

    std::string_view s_;
    size_t pos_ = 0;
};

void append_bytes_field(std::string& out, uint64_t number, std::string_view payload) {
    store_varint(out, (number << 3) | kBytes);
    store_varint(out, payload.size());
    out.append(payload);
}

std::string allow_program() {
    const sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    std::string bytes(sizeof allow, '\0');
    std::memcpy(bytes.data(), &allow, sizeof allow);
    return bytes;
}

// seccomp_filter: field 1 (the program) replaced when it is `program`.
Result<std::string> rewrite_filter(std::string_view msg, std::string_view program, bool& hit) {
    std::string out;
    FieldReader r(msg);
    while (!r.done()) {
        Field f = KAPSEL_TRY(r.next());
        if (f.number == 1 && f.wire == kBytes && f.payload == program) {
            append_bytes_field(out, 1, allow_program());
            hit = true;
        } else {
            out.append(f.raw);
        }
    }
    return out;
}

// seccomp_entry: each field 1 is a seccomp_filter.
Result<std::string> rewrite_entry(std::string_view msg, std::string_view program, size_t& count) {
    std::string out;
    FieldReader r(msg);
    for (size_t i = 0; !r.done(); ++i) {
        Field f = KAPSEL_TRY(r.next());
        if (f.number != 1) {
            out.append(f.raw);
            continue;
        }
        if (f.wire != kBytes) return make_error("filter " + std::to_string(i) + " is not a message");
        bool hit = false;
        std::string filter = KAPSEL_TRY_CTX(rewrite_filter(f.payload, program, hit),
                                            "filter " + std::to_string(i));
        if (!hit) {
            out.append(f.raw);
            continue;
        }
        append_bytes_field(out, 1, filter);
        ++count;
    }
    return out;
}

}  // namespace

Result<SeccompImageRewrite> neutralise_seccomp_filters(std::string_view image,
                                                       std::string_view program) {
    auto fail = [](std::string what) { return make_error("seccomp image: " + what); };
    if (image.size() > kMaxSeccompImage)
        return fail("larger than " + std::to_string(kMaxSeccompImage) + " bytes");
    if (image.size() < 8 || load_le32(image.substr(0, 4)) != kImgCommonMagic ||
        load_le32(image.substr(4, 4)) != kSeccompMagic)
        return fail("not a criu seccomp image (wrong magic)");
    // An empty program would match an empty filter field: kapsel's is never empty.
    if (program.empty()) return fail("no program to look for");
    SeccompImageRewrite result;
    result.image.append(image.substr(0, 8));
    size_t pos = 8;
    for (size_t entry = 0; pos < image.size(); ++entry) {
        std::string where = "entry " + std::to_string(entry) + " at byte " + std::to_string(pos);
        if (image.size() - pos < 4) return fail(where + ": truncated size");
        uint32_t size = load_le32(image.substr(pos, 4));
        pos += 4;
        if (size > image.size() - pos) return fail(where + ": size " + std::to_string(size) +
                                                   " is past the end of the file");
        auto rewritten = rewrite_entry(image.substr(pos, size), program, result.neutralised);
        if (!rewritten) return fail(where + ": " + rewritten.error().message);
        pos += size;
        if (rewritten->size() > UINT32_MAX) return fail(where + ": too large after the rewrite");
        store_le32(result.image, static_cast<uint32_t>(rewritten->size()));
        result.image.append(*rewritten);
    }
    return result;
}

}  // namespace kapsel::plan
