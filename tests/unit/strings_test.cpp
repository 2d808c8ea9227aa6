// util/strings: valid_utf8, the check that keeps bytes from outside out of JSON
// documents (nlohmann's dump() throws on anything that is not UTF-8).
#include "util/strings.hpp"

#include <gtest/gtest.h>

namespace kapsel {
namespace {

TEST(ValidUtf8, AsciiAndWellFormedMultiByteCharactersPass) {
    EXPECT_TRUE(valid_utf8(""));
    EXPECT_TRUE(valid_utf8("PATH=/bin"));
    EXPECT_TRUE(valid_utf8("Gr\xc3\xbc\xc3\x9f"));         // two bytes
    EXPECT_TRUE(valid_utf8("\xe2\x82\xac"));                // three: the euro sign
    EXPECT_TRUE(valid_utf8("\xf0\x9f\x90\xb3"));            // four: U+1F433
    EXPECT_TRUE(valid_utf8("\xf4\x8f\xbf\xbf"));            // U+10FFFF, the last one
    EXPECT_TRUE(valid_utf8(std::string_view("a\0b", 3)));  // NUL is a character
}

TEST(ValidUtf8, BrokenOverlongSurrogateAndOutOfRangeSequencesFail) {
    EXPECT_FALSE(valid_utf8("\x98"));              // a continuation byte on its own
    EXPECT_FALSE(valid_utf8("caf\xc3"));           // cut off
    EXPECT_FALSE(valid_utf8("\xe2\x82"));          // cut off
    EXPECT_FALSE(valid_utf8("\xc3\x28"));          // second byte not a continuation
    EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong '/'
    EXPECT_FALSE(valid_utf8("\xe0\x80\xaf"));      // overlong '/'
    EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // U+D800, a surrogate
    EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
    EXPECT_FALSE(valid_utf8("\xf8\x88\x80\x80\x80"));
    EXPECT_FALSE(valid_utf8("\xff"));
}

}  // namespace
}  // namespace kapsel
