// /proc/PID facts.
#include "util/proc.hpp"

#include <unistd.h>

#include <string>

#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel {

uint64_t process_start_time(int pid) {
    if (pid <= 0) return 0;
    auto text = fs::read_file("/proc/" + std::to_string(pid) + "/stat");
    if (!text) return 0;
    // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
    auto close = text->rfind(')');
    if (close == std::string::npos || close + 2 > text->size()) return 0;
    auto fields = split(std::string_view(*text).substr(close + 2), ' ');
    // fields[0] is the state (field 3); start time is field 22 -> fields[19].
    if (fields.size() < 20) return 0;
    if (fields[0] == "Z" || fields[0] == "X") return 0;
    return parse_uint(fields[19]).value_or(0);
}

bool in_user_namespace() {
    auto text = fs::read_file("/proc/self/uid_map");
    if (!text) return false;
    auto f = split(trim(*text), ' ');
    std::erase(f, "");
    return !(f.size() == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295");
}

bool rootless() { return ::geteuid() != 0 || in_user_namespace(); }

bool gid_mapped(uint32_t gid) {
    auto text = fs::read_file("/proc/self/gid_map");
    if (!text) return true;
    for (auto& line : split(*text, '\n')) {
        auto f = split(trim(line), ' ');
        std::erase(f, "");
        if (f.size() != 3) continue;
        auto inside = parse_uint(f[0]), count = parse_uint(f[2]);
        if (inside && count && gid >= *inside && gid - *inside < *count) return true;
    }
    return false;
}

bool process_runs(int pid, const struct stat& bin) {
    struct stat exe {};
    return pid > 0 && ::stat(("/proc/" + std::to_string(pid) + "/exe").c_str(), &exe) == 0 &&
           exe.st_dev == bin.st_dev && exe.st_ino == bin.st_ino;
}

}  // namespace kapsel
