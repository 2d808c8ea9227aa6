// A container's block I/O and pressure (see io.hpp).
#include "procfs/io.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "procfs/limits.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::procfs {
namespace {

// io.stat and the blkio files have a line or a few per device; a pressure file two lines.
constexpr size_t kMaxFile = 256 * 1024;
// Devices kept from a cgroup's files: more is not a real machine's.
constexpr size_t kMaxDevices = 4096;

std::vector<std::string_view> words(std::string_view line) {
    std::vector<std::string_view> out;
    while (!line.empty()) {
        size_t start = line.find_first_not_of(" \t");
        if (start == std::string_view::npos) break;
        line.remove_prefix(start);
        size_t end = line.find_first_of(" \t");
        out.push_back(line.substr(0, end));
        if (end == std::string_view::npos) break;
        line.remove_prefix(end);
    }
    return out;
}


// "8:0": two numbers and a colon, nothing else.
bool is_device(std::string_view s) {
    size_t colon = s.find(':');
    return colon != std::string_view::npos && parse_uint(s.substr(0, colon)) &&
           parse_uint(s.substr(colon + 1));
}

std::optional<std::string> read_at(int dirfd, const char* name) {
    // O_NOFOLLOW: cgroup file systems have no symlinks; O_NONBLOCK: never a FIFO's wait.
    unique_fd fd(::openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd) return std::nullopt;
    auto text = fs::read_fd(fd.get(), name, kMaxFile);
    if (!text) return std::nullopt;
    return std::move(*text);
}

}  // namespace

IoStats parse_io_stat(std::string_view text) {
    IoStats out;
    for (auto line : split_lines(text)) {
        auto w = words(line);
        if (w.empty() || !is_device(w[0]) || out.size() >= kMaxDevices) continue;
        IoCounters c;
        for (size_t i = 1; i < w.size(); ++i) {
            size_t eq = w[i].find('=');
            if (eq == std::string_view::npos) continue;
            auto key = w[i].substr(0, eq);
            auto v = parse_uint(w[i].substr(eq + 1));
            if (!v) continue;
            if (key == "rbytes")
                c.rbytes = *v;
            else if (key == "wbytes")
                c.wbytes = *v;
            else if (key == "rios")
                c.rios = *v;
            else if (key == "wios")
                c.wios = *v;
            else if (key == "dbytes")
                c.dbytes = *v;
            else if (key == "dios")
                c.dios = *v;
        }
        out[std::string(w[0])] = c;
    }
    return out;
}

IoStats parse_blkio_throttle(std::string_view serviced, std::string_view service_bytes) {
    IoStats out;
    auto take = [&](std::string_view text, bool bytes) {
        for (auto line : split_lines(text)) {
            auto w = words(line);
            if (w.size() != 3 || !is_device(w[0])) continue;
            auto v = parse_uint(w[2]);
            if (!v) continue;
            std::string dev(w[0]);
            if (!out.count(dev) && out.size() >= kMaxDevices) continue;
            IoCounters& c = out[dev];
            if (w[1] == "Read")
                (bytes ? c.rbytes : c.rios) = *v;
            else if (w[1] == "Write")
                (bytes ? c.wbytes : c.wios) = *v;
            else if (w[1] == "Discard")
                (bytes ? c.dbytes : c.dios) = *v;
        }
    };
    take(serviced, false);
    take(service_bytes, true);
    return out;
}

std::string diskstats(std::string_view host, const IoStats& io) {
    std::string out;
    for (auto line : split_lines(host)) {
        auto w = words(line);
        // major minor name and at least the 11 counters every kernel since 2.6 has.
        if (w.size() < 14 || !parse_uint(w[0]) || !parse_uint(w[1])) continue;
        auto it = io.find(std::string(w[0]) + ":" + std::string(w[1]));
        IoCounters c = it == io.end() ? IoCounters{} : it->second;
        std::vector<uint64_t> f(w.size() - 3, 0);
        f[0] = c.rios;
        f[2] = c.rbytes / 512;  // sectors are 512 bytes in diskstats whatever the device's
        f[4] = c.wios;
        f[6] = c.wbytes / 512;
        if (f.size() >= 15) {  // discards, since 4.18
            f[11] = c.dios;
            f[13] = c.dbytes / 512;
        }
        // The kernel's own layout: "%4d %7d %s" and the counters space-separated.
        char head[64];
        std::snprintf(head, sizeof head, "%4s %7s ", std::string(w[0]).c_str(),
                      std::string(w[1]).c_str());
        out += head;
        out += w[2];
        for (auto v : f) out += " " + std::to_string(v);
        out += '\n';
    }
    return out;
}

Result<IoStats> io_in(const cgroups::Layout& layout, std::string_view proc_cgroup) {
    const cgroups::Hierarchy* io = layout.find("io");
    if (io && io->v2) {
        auto dir = KAPSEL_TRY(cgroup_dir(layout, proc_cgroup, "io"));
        if (!dir) return IoStats{};
        return parse_io_stat(read_at(dir->get(), "io.stat").value_or(""));
    }
    if (!layout.find("blkio")) return IoStats{};
    auto dir = KAPSEL_TRY(cgroup_dir(layout, proc_cgroup, "blkio"));
    if (!dir) return IoStats{};
    auto serviced = read_at(dir->get(), "blkio.throttle.io_serviced_recursive");
    auto bytes = read_at(dir->get(), "blkio.throttle.io_service_bytes_recursive");
    if (!serviced || !bytes) {
        serviced = read_at(dir->get(), "blkio.throttle.io_serviced");
        bytes = read_at(dir->get(), "blkio.throttle.io_service_bytes");
    }
    return parse_blkio_throttle(serviced.value_or(""), bytes.value_or(""));
}

Result<std::optional<std::string>> pressure_in(const cgroups::Layout& layout,
                                               std::string_view proc_cgroup,
                                               std::string_view resource) {
    if (resource != "cpu" && resource != "memory" && resource != "io")
        return make_error("pressure of " + std::string(resource) + ": not a resource");
    const cgroups::Hierarchy* unified = nullptr;
    for (auto& h : layout.hierarchies)
        if (h.v2) unified = &h;
    if (!unified) return std::optional<std::string>();
    // On a hybrid host the unified hierarchy may have no controllers at all; the pressure
    // files are there anyway, in every cgroup2 directory: so they are the container's own
    // wherever kapsel gave it a cgroup2 directory, and the root's (the host's) where not.
    auto lines = parse_proc_cgroup(proc_cgroup);
    auto line =
        std::find_if(lines.begin(), lines.end(), [](auto& l) { return l.controllers.empty(); });
    std::string rel = line == lines.end() ? "" : KAPSEL_TRY(relative_cgroup_path(line->path));
    unique_fd mount(::open(unified->mount_point.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!mount) return sys_error("open " + unified->mount_point);
    auto dir =
        KAPSEL_TRY_CTX(fs::openat2(mount.get(), rel.empty() ? "." : rel, O_PATH | O_DIRECTORY,
                                   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
                                       RESOLVE_NO_XDEV),
                       "cgroup2 directory of the caller");
    std::string file = std::string(resource) + ".pressure";
    // Absent (an old kernel) or switched off (cgroup.pressure 0): an error, not the host's.
    auto text = read_at(dir.get(), file.c_str());
    if (!text) return make_error("read " + file + " of cgroup /" + rel + ": not available");
    return std::optional<std::string>(std::move(*text));
}

}  // namespace kapsel::procfs
