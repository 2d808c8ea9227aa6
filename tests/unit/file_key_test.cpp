// image/filestore.cpp: the file store's keys, named, parsed, and read off an inode.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "image/filestore.hpp"
#include "util/fd.hpp"

namespace kapsel::image {
namespace {

const std::string kHex(64, 'a');

TEST(FileKey, NameStatesEverythingTheInodeShares) {
    FileKey k{.content = kHex, .mode = 04755, .uid = 0, .gid = 42, .mtime = 1700000000, .xattrs = ""};
    EXPECT_EQ(kHex + "_4755_0_42_1700000000", k.name());
    k.xattrs = std::string(64, 'b');
    EXPECT_EQ(kHex + "_4755_0_42_1700000000_" + k.xattrs, k.name());
    EXPECT_EQ(k, parse_file_key(k.name()));
    k.mtime = -5;  // before 1970: tar allows it
    EXPECT_EQ(k, parse_file_key(k.name()));
}

TEST(FileKey, ParsingRefusesAnyOtherSpelling) {
    for (std::string bad : {kHex + "_644_0_0", kHex + "_644_0_0_1_2", kHex + "_0644_0_0_1", kHex + "_644_00_0_1",
                            kHex + "_644_0_0_-0", kHex + "_10000_0_0_1", kHex + "_644_0_0_1.new",
                            kHex + "_644_0_0_1_" + std::string(16, 'b'), kHex.substr(1) + "_644_0_0_1",
                            kHex + "_644_-1_0_1", kHex + "_644_0_0_99999999999999999999", kHex + "-644-0-0"})
        EXPECT_FALSE(parse_file_key(bad)) << bad;
}

TEST(FileKey, OlderNamesAreRecognised) {
    EXPECT_TRUE(is_legacy_file_key(kHex + "-644-0-0"));
    EXPECT_TRUE(is_legacy_file_key(kHex + "-4755-1000-1000-0123456789abcdef"));
    EXPECT_FALSE(is_legacy_file_key(kHex + "_644_0_0_0"));
    EXPECT_FALSE(is_legacy_file_key(kHex + "-644-0-0.new"));
}

class KeyOf : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/kapsel-key-XXXXXX";
        fd_.reset(::mkostemp(tmpl, O_CLOEXEC));
        ASSERT_TRUE(fd_);
        path_ = tmpl;
        ASSERT_EQ(0, ::fchmod(fd_.get(), 0640));
        timespec t[2] = {{1000, 0}, {1000, 0}};
        ASSERT_EQ(0, ::futimens(fd_.get(), t));
    }
    void TearDown() override { ::unlink(path_.c_str()); }
    unique_fd fd_;
    std::string path_;
};

TEST_F(KeyOf, ReadsModeOwnerAndTime) {
    auto k = key_of(fd_.get(), kHex, path_);
    ASSERT_TRUE(k) << k.error().message;
    EXPECT_EQ(0640u, k->mode);
    EXPECT_EQ(::getuid(), k->uid);
    EXPECT_EQ(1000, k->mtime);
    timespec t[2] = {{1000, 5}, {1000, 5}};
    ASSERT_EQ(0, ::futimens(fd_.get(), t));
    EXPECT_NE(1000, key_of(fd_.get(), kHex, path_)->mtime) << "the store sets whole seconds only";
}

TEST_F(KeyOf, XattrsChangeTheKeyAndTheirOrderDoesNot) {
    auto none = key_of(fd_.get(), kHex, path_);
    ASSERT_TRUE(none);
    if (::fsetxattr(fd_.get(), "user.b", "2", 1, 0) < 0) GTEST_SKIP() << "skipped: /tmp has no user xattrs";
    ASSERT_EQ(0, ::fsetxattr(fd_.get(), "user.a", "1", 1, 0));
    auto ab = key_of(fd_.get(), kHex, path_);
    ASSERT_TRUE(ab);
    EXPECT_TRUE(none->xattrs.empty());
    EXPECT_EQ(64u, ab->xattrs.size());
    // The same set written the other way round.
    ASSERT_EQ(0, ::fremovexattr(fd_.get(), "user.a"));
    ASSERT_EQ(0, ::fremovexattr(fd_.get(), "user.b"));
    ASSERT_EQ(0, ::fsetxattr(fd_.get(), "user.a", "1", 1, 0));
    ASSERT_EQ(0, ::fsetxattr(fd_.get(), "user.b", "2", 1, 0));
    EXPECT_EQ(ab->xattrs, key_of(fd_.get(), kHex, path_)->xattrs);
    // A value moved across the boundary between two entries is another set.
    ASSERT_EQ(0, ::fsetxattr(fd_.get(), "user.a", "12", 2, 0));
    ASSERT_EQ(0, ::fsetxattr(fd_.get(), "user.b", "", 0, 0));
    EXPECT_NE(ab->xattrs, key_of(fd_.get(), kHex, path_)->xattrs);
}

}  // namespace
}  // namespace kapsel::image
