// A JSON reader that remembers where it is, so a bad field is reported by its path
// ("config.json: process.user.uid: expected an unsigned 32-bit integer, got "x"").
// It records the first error and keeps going with defaults; callers check error().
#pragma once

#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "util/result.hpp"

namespace kapsel::oci {

using json = nlohmann::json;

class JsonReader {
  public:
    // Deeper than any image or runtime document nests (Docker's configs reach 4).
    static constexpr size_t kMaxDepth = 64;

    explicit JsonReader(std::string origin) : origin_(std::move(origin)) {}

    // Parses a document from outside: bad JSON is an error naming `origin`, never an
    // exception. The nesting is bounded before nlohmann sees the text, since copying,
    // comparing and dumping a json recurse once per level: a 4 MiB "[[[[..." would
    // overflow the stack.
    static Result<json> parse(std::string_view text, const std::string& origin,
                              size_t max_depth = kMaxDepth) {
        size_t depth = 0;
        bool in_string = false, escaped = false;
        for (char c : text) {
            if (in_string) {
                if (escaped) escaped = false;
                else if (c == '\\') escaped = true;
                else if (c == '"') in_string = false;
            } else if (c == '"') {
                in_string = true;
            } else if (c == '[' || c == '{') {
                if (++depth > max_depth)
                    return make_error(origin + ": nested deeper than " + std::to_string(max_depth) +
                                      " levels");
            } else if ((c == ']' || c == '}') && depth > 0) {
                --depth;
            }
        }
        json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded()) return make_error(origin + ": invalid JSON");
        return j;
    }

    void fail(const std::string& path, const std::string& message) {
        if (!error_)
            error_ = make_error(origin_ + ": " + (path.empty() ? "" : path + ": ") + message);
    }
    const std::optional<Error>& error() const { return error_; }

    static std::string field(const std::string& path, std::string_view key) {
        return path.empty() ? std::string(key) : path + "." + std::string(key);
    }
    static std::string index(const std::string& path, size_t i) {
        return path + "[" + std::to_string(i) + "]";
    }

    // The member `key` of `obj`, or nullptr if absent or null. Reports if `obj` is
    // not an object.
    const json* member(const json& obj, std::string_view key, const std::string& path) {
        if (!obj.is_object()) {
            fail(path, "expected an object");
            return nullptr;
        }
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) return nullptr;
        return &*it;
    }

    // Whether j is an object (or an array); reports it if not.
    bool object(const json& j, const std::string& path) {
        if (j.is_object()) return true;
        fail(path, "expected an object, got " + shown(j));
        return false;
    }
    bool array(const json& j, const std::string& path) {
        if (j.is_array()) return true;
        fail(path, "expected an array, got " + shown(j));
        return false;
    }

    bool require(const json& obj, std::string_view key, const std::string& path) {
        if (member(obj, key, path)) return true;
        if (obj.is_object()) fail(field(path, key), "required field is missing");
        return false;
    }

    void get(const json& j, const std::string& path, std::string& out) {
        if (!j.is_string()) return fail(path, "expected a string, got " + shown(j));
        out = j.get<std::string>();
    }
    void get(const json& j, const std::string& path, bool& out) {
        if (!j.is_boolean()) return fail(path, "expected true or false, got " + shown(j));
        out = j.get<bool>();
    }
    template <class T>
    requires(std::is_integral_v<T> &&
             !std::is_same_v<T, bool>) void get(const json& j, const std::string& path, T& out) {
        const char* what = std::is_signed_v<T> ? "an integer" : "an unsigned integer";
        if (j.is_number_unsigned()) {
            auto v = j.get<uint64_t>();
            if (v > static_cast<uint64_t>(std::numeric_limits<T>::max()))
                return fail(path, "value " + j.dump() + " is out of range");
            out = static_cast<T>(v);
        } else if (j.is_number_integer()) {
            auto v = j.get<int64_t>();
            if constexpr (std::is_unsigned_v<T>) {
                if (v < 0) return fail(path, "expected " + std::string(what) + ", got " + j.dump());
            } else if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
                       v > static_cast<int64_t>(std::numeric_limits<T>::max())) {
                return fail(path, "value " + j.dump() + " is out of range");
            }
            out = static_cast<T>(v);
        } else if (j.is_number_float()) {
            // Go's encoding/json writes large integers exactly; a float here is a mistake.
            return fail(path, "expected " + std::string(what) + ", got " + j.dump());
        } else {
            return fail(path, "expected " + std::string(what) + ", got " + shown(j));
        }
    }
    template <class T>
    void get(const json& j, const std::string& path, std::optional<T>& out) {
        T v{};
        get(j, path, v);
        out = v;
    }
    template <class T>
    void get(const json& j, const std::string& path, std::vector<T>& out) {
        if (!j.is_array()) return fail(path, "expected an array, got " + shown(j));
        out.clear();
        for (size_t i = 0; i < j.size(); ++i) {
            T v{};
            get(j[i], index(path, i), v);
            out.push_back(std::move(v));
        }
    }
    void get(const json& j, const std::string& path, std::map<std::string, std::string>& out) {
        if (!j.is_object()) return fail(path, "expected an object, got " + shown(j));
        for (auto& [k, v] : j.items()) {
            std::string s;
            get(v, field(path, key_shown(k)), s);
            out[k] = s;
        }
    }

    // Reads obj[key] into out when present.
    template <class T>
    void opt(const json& obj, std::string_view key, const std::string& path, T& out) {
        if (const json* m = member(obj, key, path)) get(*m, field(path, key), out);
    }
    // Reads obj[key] into out, reporting a missing key.
    template <class T>
    void req(const json& obj, std::string_view key, const std::string& path, T& out) {
        if (require(obj, key, path)) get(obj[std::string(key)], field(path, key), out);
    }

    static std::string shown(const json& j) {
        switch (j.type()) {
            case json::value_t::object:
                return "an object";
            case json::value_t::array:
                return "an array";
            case json::value_t::string:
                return "the string " + quoted(j.get_ref<const std::string&>());
            case json::value_t::null:
                return "null";
            default:
                // Numbers and booleans; dump() never throws on them.
                return j.dump();
        }
    }

    // A member name from the document in a path: as it is when it is plain, quoted
    // otherwise.
    static std::string key_shown(std::string_view k) {
        bool plain = !k.empty() && k.size() <= 80 && std::all_of(k.begin(), k.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '.' || c == '_' || c == '-' || c == '/';
        });
        return plain ? std::string(k) : quoted(k);
    }

    // A string from outside, for an error message: quoted, cut at 80 characters, every
    // byte that is not printable ASCII as \xNN, so that it stays one line and cannot
    // send escape sequences to the user's terminal.
    static std::string quoted(std::string_view s) {
        constexpr size_t kShown = 80;
        static const char hex[] = "0123456789abcdef";
        std::string out = "\"";
        for (unsigned char c : s.substr(0, std::min(s.size(), kShown))) {
            if (c == '"' || c == '\\') {
                out += '\\';
                out += static_cast<char>(c);
            } else if (c < 0x20 || c >= 0x7f) {
                out += "\\x";
                out += hex[c >> 4];
                out += hex[c & 15];
            } else {
                out += static_cast<char>(c);
            }
        }
        return out + (s.size() > kShown ? "\"..." : "\"");
    }

  private:
    std::string origin_;
    std::optional<Error> error_;
};

}  // namespace kapsel::oci
