// A checkpoint's seccomp.img rewritten before restore (plan/criu_seccomp.hpp, issue 14):
// kapsel's procfs filter, and only it, comes back allowing everything; a malformed
// image is one clear error, never a crash.
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "linux/seccomp.hpp"
#include "plan/criu_seccomp.hpp"

namespace kapsel::plan {
namespace {

// The encoding below is written out by hand (not with the code under test), after
// criu's images/seccomp.proto and its image format.
std::string varint(uint64_t v) {
    std::string out;
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
    return out;
}

std::string bytes_field(int number, const std::string& payload) {
    return varint(static_cast<uint64_t>(number) << 3 | 2) + varint(payload.size()) + payload;
}

std::string varint_field(int number, uint64_t v) {
    return varint(static_cast<uint64_t>(number) << 3) + varint(v);
}

std::string le32(uint32_t v) {
    std::string out;
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
    return out;
}

const std::string kMagics = le32(0x54564319) + le32(0x64413049);

std::string program_bytes(const std::vector<sock_filter>& p) {
    std::string out(p.size() * sizeof(sock_filter), '\0');
    std::memcpy(out.data(), p.data(), out.size());
    return out;
}

std::string procfs_program() { return program_bytes(linux::procfs_filter().filter); }
std::string allow_all() { return program_bytes({BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)}); }
// A profile's program: not kapsel's, whatever it does.
std::string profile_program() {
    return program_bytes({BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
                          BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 99, 0, 1),
                          BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1),
                          BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF)});
}

struct Filter {
    std::string program;
    std::optional<uint32_t> prev;
    uint32_t flags = 0;
};

std::string filter_message(const Filter& f) {
    std::string m = bytes_field(1, f.program);
    if (f.prev) m += varint_field(2, *f.prev);
    return m + varint_field(3, f.flags);
}

std::string image_of(const std::vector<Filter>& filters) {
    std::string entry;
    for (auto& f : filters) entry += bytes_field(1, filter_message(f));
    return kMagics + le32(static_cast<uint32_t>(entry.size())) + entry;
}

// What CRIU dumps for a `run IMAGE` container: the profile's filter, kapsel's procfs
// filter installed just before it, chained, with TSYNC (CRIU's own flag for threads
// that share a chain).
std::vector<Filter> dumped_run_image_container() {
    return {{.program = profile_program(), .prev = std::nullopt, .flags = 1},
            {.program = procfs_program(), .prev = 0, .flags = 1},
            {.program = profile_program(), .prev = 1, .flags = 0}};
}

std::string error_of(const Result<SeccompImageRewrite>& r) {
    return r ? std::string("(no error)") : r.error().message;
}

TEST(CriuSeccompImage, KapselsProcfsFilterAllowsEverythingAndKeepsItsPlaceLinkAndFlags) {
    auto filters = dumped_run_image_container();
    auto r = neutralise_seccomp_filters(image_of(filters), procfs_program());
    ASSERT_TRUE(r) << error_of(r);
    EXPECT_EQ(r->neutralised, 1u);
    filters[1].program = allow_all();
    EXPECT_EQ(r->image, image_of(filters));
}

TEST(CriuSeccompImage, EveryCopyOfTheFilterIsNeutralised) {
    // Two processes (or threads with their own chains) each had the filter.
    std::vector<Filter> filters = {{.program = procfs_program()},
                                   {.program = profile_program(), .prev = 0},
                                   {.program = procfs_program()}};
    auto r = neutralise_seccomp_filters(image_of(filters), procfs_program());
    ASSERT_TRUE(r) << error_of(r);
    EXPECT_EQ(r->neutralised, 2u);
    filters[0].program = filters[2].program = allow_all();
    EXPECT_EQ(r->image, image_of(filters));
}

TEST(CriuSeccompImage, AProfileWithItsOwnListenerIsUnchanged) {
    // No procfs filter then: the profile's SCMP_ACT_NOTIFY filter is restored as dumped.
    std::string image = image_of({{.program = profile_program(), .flags = 1}});
    auto r = neutralise_seccomp_filters(image, procfs_program());
    ASSERT_TRUE(r) << error_of(r);
    EXPECT_EQ(r->neutralised, 0u);
    EXPECT_EQ(r->image, image);
}

TEST(CriuSeccompImage, OnlyTheExactProgramMatches) {
    // The procfs program with one more instruction, or one fewer, is someone else's.
    std::string longer = procfs_program() + allow_all();
    std::string shorter = procfs_program().substr(0, procfs_program().size() - sizeof(sock_filter));
    std::string image = image_of({{.program = longer}, {.program = shorter}});
    auto r = neutralise_seccomp_filters(image, procfs_program());
    ASSERT_TRUE(r) << error_of(r);
    EXPECT_EQ(r->neutralised, 0u);
    EXPECT_EQ(r->image, image);
}

TEST(CriuSeccompImage, FieldsItDoesNotKnowAreCopiedAsTheyAre) {
    // A later CRIU may add fields: they pass through, in the entry and in the filter.
    std::string filter = bytes_field(1, procfs_program()) + varint_field(9, 300) +
             std::string("\x25", 1) + le32(7) /* field 4, fixed32 */ +
             std::string("\x29", 1) + std::string(8, '\1') /* field 5, fixed64 */;
    std::string entry = bytes_field(1, filter) + bytes_field(2, "later");
    std::string image = kMagics + le32(static_cast<uint32_t>(entry.size())) + entry;
    auto r = neutralise_seccomp_filters(image, procfs_program());
    ASSERT_TRUE(r) << error_of(r);
    EXPECT_EQ(r->neutralised, 1u);
    std::string want_filter = bytes_field(1, allow_all()) + varint_field(9, 300) +
                              std::string("\x25", 1) + le32(7) + std::string("\x29", 1) +
                              std::string(8, '\1');
    std::string want_entry = bytes_field(1, want_filter) + bytes_field(2, "later");
    EXPECT_EQ(r->image, kMagics + le32(static_cast<uint32_t>(want_entry.size())) + want_entry);
}

TEST(CriuSeccompImage, AnImageWithNoEntriesIsUnchanged) {
    auto r = neutralise_seccomp_filters(kMagics, procfs_program());
    ASSERT_TRUE(r) << error_of(r);
    EXPECT_EQ(r->image, kMagics);
}

TEST(CriuSeccompImage, WrongMagicIsAClearError) {
    EXPECT_EQ(error_of(neutralise_seccomp_filters("", procfs_program())),
              "seccomp image: not a criu seccomp image (wrong magic)");
    std::string other = le32(0x54564319) + le32(0x58313116);  // the inventory's magic
    EXPECT_EQ(error_of(neutralise_seccomp_filters(other, procfs_program())),
              "seccomp image: not a criu seccomp image (wrong magic)");
}

TEST(CriuSeccompImage, AnEntrySizePastTheEndIsAClearError) {
    std::string image = image_of(dumped_run_image_container());
    std::string lying = kMagics + le32(0xffffffffu) + image.substr(12);
    EXPECT_EQ(error_of(neutralise_seccomp_filters(lying, procfs_program())),
              "seccomp image: entry 0 at byte 8: size 4294967295 is past the end of the file");
    EXPECT_EQ(error_of(neutralise_seccomp_filters(kMagics + "\1\0", procfs_program())),
              "seccomp image: entry 0 at byte 8: truncated size");
}

TEST(CriuSeccompImage, AFieldLongerThanItsMessageIsAClearError) {
    // The filter claims 1000 bytes of program inside a message of a few.
    std::string filter = varint(1 << 3 | 2) + varint(1000) + "abc";
    std::string entry = bytes_field(1, filter);
    std::string image = kMagics + le32(static_cast<uint32_t>(entry.size())) + entry;
    EXPECT_EQ(error_of(neutralise_seccomp_filters(image, procfs_program())),
              "seccomp image: entry 0 at byte 8: filter 0: field 1 at byte 0 is longer than its "
              "message");
}

TEST(CriuSeccompImage, BadVarintsAndWireTypesAreClearErrors) {
    auto with_entry = [](const std::string& entry) {
        return kMagics + le32(static_cast<uint32_t>(entry.size())) + entry;
    };
    EXPECT_EQ(error_of(neutralise_seccomp_filters(with_entry("\x0a\x80"), procfs_program())),
              "seccomp image: entry 0 at byte 8: truncated varint at byte 2");
    EXPECT_EQ(error_of(neutralise_seccomp_filters(with_entry(std::string(11, '\xff')),
                                                  procfs_program())),
              "seccomp image: entry 0 at byte 8: varint longer than 10 bytes at byte 10");
    EXPECT_EQ(error_of(neutralise_seccomp_filters(with_entry("\x0b"), procfs_program())),
              "seccomp image: entry 0 at byte 8: field 1 at byte 0 has wire type 3");
    EXPECT_EQ(error_of(neutralise_seccomp_filters(with_entry(std::string("\x00\x00", 2)),
                                                  procfs_program())),
              "seccomp image: entry 0 at byte 8: field number 0 at byte 0");
    EXPECT_EQ(error_of(neutralise_seccomp_filters(with_entry("\x08\x01"), procfs_program())),
              "seccomp image: entry 0 at byte 8: filter 0 is not a message");
}

TEST(CriuSeccompImage, ATooLargeImageIsRefusedBeforeParsing) {
    std::string huge = kMagics + std::string(kMaxSeccompImage, '\0');
    EXPECT_EQ(error_of(neutralise_seccomp_filters(huge, procfs_program())),
              "seccomp image: larger than " + std::to_string(kMaxSeccompImage) + " bytes");
}

TEST(CriuSeccompImage, EveryTruncationAndByteFlipIsAnErrorOrARewriteNeverACrash) {
    std::string image = image_of(dumped_run_image_container());
    for (size_t n = 0; n < image.size(); ++n) {
        auto r = neutralise_seccomp_filters(image.substr(0, n), procfs_program());
        if (r) {
            EXPECT_LE(r->image.size(), image.size());
        }
    }
    for (size_t i = 8; i < image.size(); ++i) {
        for (unsigned char bit : {0x01, 0x80}) {
            std::string flipped = image;
            flipped[i] = static_cast<char>(flipped[i] ^ bit);
            auto r = neutralise_seccomp_filters(flipped, procfs_program());
            if (r) {
                EXPECT_LE(r->neutralised, 3u);
            }
        }
    }
}

}  // namespace
}  // namespace kapsel::plan
