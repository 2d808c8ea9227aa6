// systemd unit paths.
#include "cgroups/systemd_path.hpp"

#include "util/strings.hpp"

namespace kapsel::cgroups {

static Result<std::string> expand_slice(const std::string& slice) {
    if (slice == "-.slice") return std::string("/");
    const std::string suffix = ".slice";
    if (slice.size() <= suffix.size() || slice.compare(slice.size() - suffix.size(), suffix.size(), suffix) != 0 ||
        slice.find('/') != std::string::npos)
        return make_error("invalid systemd slice \"" + slice + "\"");
    std::string stem = slice.substr(0, slice.size() - suffix.size());
    std::string path, prefix;
    for (auto& part : split(stem, '-')) {
        if (part.empty()) return make_error("invalid systemd slice \"" + slice + "\"");
        prefix = prefix.empty() ? part : prefix + "-" + part;
        path += "/" + prefix + suffix;
    }
    return path;
}

Result<std::string> systemd_path(const std::string& cgroups_path, const std::string& id) {
    std::string spec = cgroups_path.empty() ? "system.slice:kapsel:" + id : cgroups_path;
    auto parts = split(spec, ':');
    if (parts.size() != 3)
        return make_error("linux.cgroupsPath \"" + cgroups_path + "\" is not \"slice:prefix:name\", as --systemd-cgroup needs");
    std::string slice = KAPSEL_TRY(expand_slice(parts[0].empty() ? "system.slice" : parts[0]));
    const std::string& prefix = parts[1];
    const std::string& name = parts[2];
    std::string unit;
    if (name.size() > 6 && name.compare(name.size() - 6, 6, ".slice") == 0) return expand_slice(name);
    unit = prefix.empty() ? name + ".scope" : prefix + "-" + name + ".scope";
    return (slice == "/" ? "" : slice) + "/" + unit;
}

}  // namespace kapsel::cgroups
