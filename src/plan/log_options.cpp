// run --log-opt and the keeper's arithmetic (log_options.hpp).
#include "plan/log_options.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

#include "util/strings.hpp"

namespace kapsel::plan {

Result<uint64_t> parse_log_size(std::string_view text) {
    auto bad = [&] {
        return make_error("max-size \"" + std::string(text) +
                          "\" is not a size (like 10m or 512k)");
    };
    // The number: digits and dots (parse_decimal rejects a second dot).
    size_t i = 0;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
        ++i;
    auto num = parse_decimal(text.substr(0, i));
    if (!num) return bad();
    if (i < text.size() && text[i] == ' ') ++i;  // "10 m", as docker allows
    std::string unit = to_lower(text.substr(i));
    uint64_t mult = 1;
    if (!unit.empty() && unit != "b") {
        static constexpr std::string_view kUnits = "kmgtp";
        size_t power = kUnits.find(unit[0]);
        if (power == std::string_view::npos) return bad();
        std::string_view rest = std::string_view(unit).substr(1);
        if (!rest.empty() && rest != "b" && rest != "ib") return bad();
        for (size_t p = 0; p <= power; ++p) mult *= 1024;
    }
    // Compared as a double before the conversion, which past 2^64 would be undefined.
    double bytes = *num * static_cast<double>(mult);
    if (bytes > static_cast<double>(kMaxLogSize))
        return make_error("max-size \"" + std::string(text) + "\" is too large (at most 1p)");
    auto n = static_cast<uint64_t>(bytes);
    if (n == 0)
        return make_error("max-size \"" + std::string(text) + "\" must be more than 0 bytes");
    return n;
}

Result<LogOptions> parse_log_options(const std::vector<std::string>& opts) {
    LogOptions o;
    bool file_set = false;
    for (auto& opt : opts) {
        size_t eq = opt.find('=');
        if (eq == std::string::npos)
            return make_error("--log-opt \"" + opt +
                              "\": expected KEY=VALUE (max-size=10m, max-file=3)");
        std::string key = opt.substr(0, eq), value = opt.substr(eq + 1);
        if (key == "max-size") {
            o.max_size = KAPSEL_TRY_CTX(parse_log_size(value), "--log-opt");
        } else if (key == "max-file") {
            auto n = parse_int(value);
            if (!n || *n < 1 || *n > kMaxLogFiles)
                return make_error("--log-opt: max-file \"" + value +
                                  "\" is not a number from 1 to " + std::to_string(kMaxLogFiles));
            o.max_file = static_cast<int>(*n);
            file_set = true;
        } else {
            return make_error("--log-opt: unknown option \"" + key +
                              "\" (max-size and max-file are supported)");
        }
    }
    if (file_set && o.max_size == 0)
        return make_error("--log-opt: max-file can only be used with max-size");
    return o;
}

nlohmann::json log_options_json(const LogOptions& o) {
    return {{"max-size", o.max_size}, {"max-file", o.max_file}};
}

Result<LogOptions> log_options_from_json(const nlohmann::json& j) {
    auto bad = [] { return make_error("log_opts is not {\"max-size\": bytes, \"max-file\": n}"); };
    if (!j.is_object()) return bad();
    // A whole number of either sign's type (nlohmann keeps 3 as signed until a dump
    // and parse make it unsigned); negative ones are not.
    auto count = [&](const char* key) -> std::optional<uint64_t> {
        auto v = j.find(key);
        if (v == j.end()) return std::nullopt;
        if (v->is_number_unsigned()) return v->get<uint64_t>();
        if (v->is_number_integer() && v->get<int64_t>() >= 0)
            return static_cast<uint64_t>(v->get<int64_t>());
        return std::nullopt;
    };
    auto size = count("max-size"), files = count("max-file");
    if (!size || !files || *size > kMaxLogSize || *files < 1 ||
        *files > static_cast<uint64_t>(kMaxLogFiles) || (*size == 0 && *files != 1))
        return bad();
    return LogOptions{.max_size = *size, .max_file = static_cast<int>(*files)};
}

Status check_log_block_size(const LogOptions& o, uint64_t block) {
    if (o.max_size == 0 || o.max_size >= 2 * block) return {};
    return make_error("--log-opt: max-size " + std::to_string(o.max_size) +
                      " is below two blocks of the store's file system (" +
                      std::to_string(2 * block) + " bytes), the least the log keeper can cut");
}

uint64_t LogCut::kept() const {
    uint64_t sum = 0;
    for (auto c : chunks) sum += c;
    return sum;
}

LogCut plan_log_cut(const LogOptions& o, uint64_t size, uint64_t block) {
    LogCut c;
    if (o.max_size == 0 || block == 0 || size < o.max_size) return c;
    // What stays in the log: at least one byte (COLLAPSE_RANGE may not reach EOF).
    uint64_t stays = o.max_file == 1 ? std::max<uint64_t>(o.max_size / 2, 1) : 1;
    if (size <= stays) return c;
    uint64_t most = (size - stays) / block * block;
    if (o.max_file == 1) {
        c.cut = most;
        return c;
    }
    uint64_t rotated = static_cast<uint64_t>(o.max_file - 1) * o.max_size;
    if (most <= rotated) {
        // One file of at most max-size per pass, which the keeper repeats while the log
        // is still at max-size: each rotated file is as full as it may be, and none is
        // pushed out before its time.
        c.cut = std::min(most, o.max_size / block * block);
        if (c.cut > 0) c.chunks.push_back(c.cut);
        return c;
    }
    // More than all rotated files hold (the keeper fell behind a burst, or the file is
    // sparse): their worth from the end of the cut is kept, in files of max-size, and
    // the rest dropped with every older file. Copying stays bounded by what is kept.
    c.cut = most;
    for (uint64_t keep = rotated; keep > 0;) {
        uint64_t chunk = std::min(keep, o.max_size);
        c.chunks.push_back(chunk);
        keep -= chunk;
    }
    return c;
}

}  // namespace kapsel::plan
