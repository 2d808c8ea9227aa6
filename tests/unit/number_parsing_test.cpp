// Numbers from the command line (sizes, durations, CPUs): bad ones are errors, never
// an exception (std::stod threw on ".") or an undefined conversion.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/manage.hpp"
#include "util/strings.hpp"

namespace kapsel {
namespace {

using ::testing::HasSubstr;

TEST(ParseDecimal, AcceptsPlainDecimalsOnly) {
    EXPECT_EQ(1.5, *parse_decimal("1.5"));
    EXPECT_EQ(0.5, *parse_decimal(".5"));
    EXPECT_EQ(2.0, *parse_decimal("2"));
    for (const char* bad : {"", ".", "..", "1.2.3", "1e5", "-1", "inf", "nan", " 1", "0x10"})
        EXPECT_FALSE(parse_decimal(bad)) << bad;
}

TEST(ParseBytes, BadSizesAreErrors) {
    EXPECT_EQ(512 * 1024 * 1024, *runtime::parse_bytes("512m"));
    EXPECT_EQ(1536, *runtime::parse_bytes("1.5k"));
    for (const char* bad : {".", ".m", "1..5g", "99999999999999999999p"}) {
        auto r = runtime::parse_bytes(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_THAT(r.error().message, HasSubstr(bad));
    }
}

TEST(ParseDuration, BadDurationsAreErrors) {
    EXPECT_EQ(1500, *runtime::parse_duration_ms("1.5s"));
    for (const char* bad : {".s", "1..5s", "99999999999h"}) EXPECT_FALSE(runtime::parse_duration_ms(bad).ok()) << bad;
}

}  // namespace
}  // namespace kapsel
