// image/stream.cpp: the hashing readers a layer import reads through.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "image/stream.hpp"
#include "util/fd.hpp"

namespace kapsel::image {
namespace {

// Several MiB with no repeating 1 MiB period, so a chunk lost, doubled or reordered
// on its way through the second thread changes the digest.
std::string sample(size_t n) {
    std::string s(n, '\0');
    uint32_t x = 12345;
    for (auto& c : s) {
        x = x * 1103515245 + 12345;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

// Reads all of `r` in odd-sized pieces, as the tar reader does (headers, bodies).
std::string read_unevenly(Reader& r) {
    std::string out;
    char buf[70000];
    for (size_t step = 1;; step = step * 7 % 69997 + 1) {
        auto got = r.read(buf, step);
        EXPECT_TRUE(got.ok()) << got.error().message;
        if (!got || *got == 0) return out;
        out.append(buf, *got);
    }
}

TEST(BackgroundHashingReader, HashesAndCopiesEveryByteInOrder) {
    std::string data = sample((5 << 20) + 12345);
    char path[] = "/tmp/kapsel-stream-test.XXXXXX";
    unique_fd copy(::mkstemp(path));
    ASSERT_TRUE(copy.valid());
    ::unlink(path);

    StringReader src(data);
    BackgroundHashingReader r(src, copy.get(), "the copy");
    EXPECT_EQ(data, read_unevenly(r));
    ASSERT_TRUE(r.finish().ok());
    EXPECT_EQ(sha256_digest(data), r.digest());
    EXPECT_EQ(data.size(), r.size());

    std::string back(data.size() + 1, '\0');
    EXPECT_EQ(static_cast<ssize_t>(data.size()), ::pread(copy.get(), back.data(), back.size(), 0));
    back.resize(data.size());
    EXPECT_TRUE(back == data) << "the copy differs";
}

TEST(BackgroundHashingReader, WithoutACopyItOnlyHashes) {
    std::string data = sample(3000);
    StringReader src(data);
    BackgroundHashingReader r(src, -1, "");
    EXPECT_EQ(data, read_unevenly(r));
    ASSERT_TRUE(r.finish().ok());
    EXPECT_EQ(sha256_digest(data), r.digest());
}

TEST(BackgroundHashingReader, AFailedWriteIsAnErrorNamingTheCopy) {
    unique_fd full(::open("/dev/full", O_WRONLY | O_CLOEXEC));
    if (!full) GTEST_SKIP() << "skipped: no /dev/full";
    std::string data = sample(3 << 20);
    StringReader src(data);
    BackgroundHashingReader r(src, full.get(), "layer blob x");
    std::string err;
    char buf[65536];
    for (;;) {
        auto got = r.read(buf, sizeof buf);
        if (!got) {
            err = got.error().message;
            break;
        }
        if (*got == 0) {
            auto st = r.finish();
            ASSERT_FALSE(st.ok()) << "a write to /dev/full succeeded";
            err = st.error().message;
            break;
        }
    }
    EXPECT_NE(std::string::npos, err.find("write layer blob x")) << err;
}

TEST(BackgroundHashingReader, AbandonedHalfWayItStopsCleanly) {
    std::string data = sample(6 << 20);
    StringReader src(data);
    {
        BackgroundHashingReader r(src, -1, "");
        char buf[100000];
        ASSERT_TRUE(r.read(buf, sizeof buf).ok());
    }  // destroyed without finish(): the import failed elsewhere
    SUCCEED();
}

}  // namespace
}  // namespace kapsel::image
