// Small string helpers shared by the parsers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kapsel {

std::vector<std::string> split(std::string_view s, char sep);
// The lines of `text`, without their newlines (no empty last line for a final newline).
std::vector<std::string_view> split_lines(std::string_view text);
std::string_view trim(std::string_view s);
std::string to_lower(std::string_view s);
std::string to_upper(std::string_view s);
std::string join(const std::vector<std::string>& parts, std::string_view sep);

// Whole-string integer parsing; nullopt on junk, overflow or empty input.
std::optional<int64_t> parse_int(std::string_view s, int base = 10);
std::optional<uint64_t> parse_uint(std::string_view s, int base = 10);
// "1.5", "2", ".5": a finite, non-negative decimal number, all of `s`; never throws
// (std::stod does, on ".").
std::optional<double> parse_decimal(std::string_view s);

// Well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF):
// what a JSON document may hold. nlohmann's dump() throws on anything else.
bool valid_utf8(std::string_view s);
// A JSON string literal, quotes included.
std::string json_quote(std::string_view s);
// "EPERM"-style symbolic name, or the number.
std::string errno_name(int err);

}  // namespace kapsel
