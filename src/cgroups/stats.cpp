// Reading a cgroup's statistics into runc's "stats" event layout, from v1 files
// or v2 files, whichever hierarchy handles each controller.
#include <map>

#include "cgroups/apply.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::cgroups {
namespace {

using json = nlohmann::json;

struct Dirs {
    const Layout& layout;
    const std::vector<std::string>& dirs;
    // The directory that handles `controller`, and whether it is cgroup v2.
    std::pair<std::string, bool> of(const std::string& controller) const {
        for (int v2 = 0; v2 < 2; ++v2)
            for (size_t i = 0; i < layout.hierarchies.size(); ++i) {
                if (layout.hierarchies[i].v2 != static_cast<bool>(v2)) continue;
                for (auto& c : layout.hierarchies[i].controllers)
                    if (c == controller) return {dirs[i], v2 != 0};
            }
        return {"", false};
    }
};

std::optional<uint64_t> read_u64(const std::string& path) {
    auto t = fs::read_file(path);
    if (!t) return std::nullopt;
    auto s = trim(*t);
    if (s == "max") return UINT64_MAX;
    return parse_uint(s);
}

// "key value" lines (memory.stat, cpu.stat, memory.events).
std::map<std::string, uint64_t> read_keyed(const std::string& path) {
    std::map<std::string, uint64_t> out;
    auto t = fs::read_file(path);
    if (!t) return out;
    for (auto& line : split(*t, '\n')) {
        auto parts = split(std::string(trim(line)), ' ');
        if (parts.size() == 2)
            if (auto v = parse_uint(parts[1])) out[parts[0]] = *v;
    }
    return out;
}

json memory_entry(const std::string& dir, const std::string& prefix) {
    json e = json::object();
    if (auto v = read_u64(dir + "/" + prefix + ".usage_in_bytes")) e["usage"] = *v;
    if (auto v = read_u64(dir + "/" + prefix + ".max_usage_in_bytes")) e["max"] = *v;
    e["limit"] = read_u64(dir + "/" + prefix + ".limit_in_bytes").value_or(0);
    e["failcnt"] = read_u64(dir + "/" + prefix + ".failcnt").value_or(0);
    return e;
}

json blkio_entries_v1(const std::string& path) {
    json list = json::array();
    auto t = fs::read_file(path);
    if (!t) return list;
    for (auto& line : split(*t, '\n')) {
        auto parts = split(std::string(trim(line)), ' ');
        if (parts.size() != 3) continue;
        auto mm = split(parts[0], ':');
        if (mm.size() != 2) continue;
        list.push_back({{"major", parse_uint(mm[0]).value_or(0)}, {"minor", parse_uint(mm[1]).value_or(0)},
                        {"op", parts[1]}, {"value", parse_uint(parts[2]).value_or(0)}});
    }
    return list;
}

}  // namespace

Result<json> read_stats(const Layout& layout, const std::vector<std::string>& dirs) {
    Dirs d{layout, dirs};
    json s;

    // cpu
    json cpu = {{"usage", json::object()}, {"throttling", json::object()}};
    if (auto [dir, v2] = d.of("cpu"); !dir.empty() && v2) {
        auto st = read_keyed(dir + "/cpu.stat");
        cpu["usage"] = {{"total", st["usage_usec"] * 1000}, {"usage_in_kernelmode", st["system_usec"] * 1000},
                        {"usage_in_usermode", st["user_usec"] * 1000}};
        cpu["throttling"] = {{"periods", st["nr_periods"]}, {"throttled_periods", st["nr_throttled"]},
                             {"throttled_time", st["throttled_usec"] * 1000}};
    } else {
        auto [acct, unused] = d.of("cpuacct");
        if (!acct.empty()) {
            cpu["usage"]["total"] = read_u64(acct + "/cpuacct.usage").value_or(0);
            json percpu = json::array();
            if (auto t = fs::read_file(acct + "/cpuacct.usage_percpu"))
                for (auto& v : split(std::string(trim(*t)), ' '))
                    if (auto n = parse_uint(v)) percpu.push_back(*n);
            cpu["usage"]["percpu_usage"] = percpu;
            // cpuacct.stat counts USER_HZ ticks (100 per second on Linux).
            auto st = read_keyed(acct + "/cpuacct.stat");
            cpu["usage"]["usage_in_usermode"] = st["user"] * 10'000'000;
            cpu["usage"]["usage_in_kernelmode"] = st["system"] * 10'000'000;
        }
        if (!dir.empty()) {
            auto st = read_keyed(dir + "/cpu.stat");
            cpu["throttling"] = {{"periods", st["nr_periods"]}, {"throttled_periods", st["nr_throttled"]},
                                 {"throttled_time", st["throttled_time"]}};
        }
    }
    s["cpu"] = cpu;

    // memory
    json mem = json::object();
    if (auto [dir, v2] = d.of("memory"); !dir.empty()) {
        if (v2) {
            auto st = read_keyed(dir + "/memory.stat");
            auto ev = read_keyed(dir + "/memory.events");
            mem["cache"] = st["file"];
            mem["usage"] = {{"usage", read_u64(dir + "/memory.current").value_or(0)},
                            {"limit", read_u64(dir + "/memory.max").value_or(0)},
                            {"max", read_u64(dir + "/memory.peak").value_or(0)},
                            {"failcnt", ev["max"]}};
            mem["swap"] = {{"usage", read_u64(dir + "/memory.swap.current").value_or(0)},
                           {"limit", read_u64(dir + "/memory.swap.max").value_or(0)},
                           {"failcnt", 0}};
            mem["raw"] = st;
        } else {
            auto st = read_keyed(dir + "/memory.stat");
            mem["cache"] = st["cache"];
            mem["usage"] = memory_entry(dir, "memory");
            mem["swap"] = memory_entry(dir, "memory.memsw");
            mem["kernel"] = memory_entry(dir, "memory.kmem");
            mem["kernelTCP"] = memory_entry(dir, "memory.kmem.tcp");
            mem["raw"] = st;
        }
    }
    s["memory"] = mem;

    // pids
    if (auto [dir, v2] = d.of("pids"); !dir.empty()) {
        uint64_t limit = read_u64(dir + "/pids.max").value_or(0);
        s["pids"] = {{"current", read_u64(dir + "/pids.current").value_or(0)},
                     {"limit", limit == UINT64_MAX ? 0 : limit}};
    } else {
        s["pids"] = json::object();
    }

    // blkio / io
    json blkio = json::object();
    if (auto [dir, v2] = d.of("blkio"); !dir.empty()) {
        blkio["ioServiceBytesRecursive"] = blkio_entries_v1(dir + "/blkio.throttle.io_service_bytes_recursive");
        blkio["ioServicedRecursive"] = blkio_entries_v1(dir + "/blkio.throttle.io_serviced_recursive");
    } else if (auto [iodir, io2] = d.of("io"); !iodir.empty()) {
        json bytes = json::array(), ios = json::array();
        if (auto t = fs::read_file(iodir + "/io.stat")) {
            for (auto& line : split(*t, '\n')) {
                auto parts = split(std::string(trim(line)), ' ');
                if (parts.empty() || parts[0].find(':') == std::string::npos) continue;
                auto mm = split(parts[0], ':');
                uint64_t maj = parse_uint(mm[0]).value_or(0), min = parse_uint(mm[1]).value_or(0);
                std::map<std::string, uint64_t> kv;
                for (size_t i = 1; i < parts.size(); ++i) {
                    auto eq = parts[i].find('=');
                    if (eq != std::string::npos) kv[parts[i].substr(0, eq)] = parse_uint(parts[i].substr(eq + 1)).value_or(0);
                }
                bytes.push_back({{"major", maj}, {"minor", min}, {"op", "Read"}, {"value", kv["rbytes"]}});
                bytes.push_back({{"major", maj}, {"minor", min}, {"op", "Write"}, {"value", kv["wbytes"]}});
                ios.push_back({{"major", maj}, {"minor", min}, {"op", "Read"}, {"value", kv["rios"]}});
                ios.push_back({{"major", maj}, {"minor", min}, {"op", "Write"}, {"value", kv["wios"]}});
            }
        }
        blkio["ioServiceBytesRecursive"] = bytes;
        blkio["ioServicedRecursive"] = ios;
    }
    s["blkio"] = blkio;

    // hugetlb: one entry per page size the kernel offers.
    json huge = json::object();
    if (auto [dir, v2] = d.of("hugetlb"); !dir.empty()) {
        if (auto sizes = fs::read_file("/proc/meminfo"); sizes) {
            std::vector<std::string> names;
            for (auto& e : std::vector<std::string>{"1GB", "2MB", "64KB", "32MB", "512MB", "16GB"})
                if (fs::exists(dir + "/hugetlb." + e + (v2 ? ".current" : ".usage_in_bytes"))) names.push_back(e);
            for (auto& n : names) {
                if (v2)
                    huge[n] = {{"usage", read_u64(dir + "/hugetlb." + n + ".current").value_or(0)},
                               {"failcnt", read_keyed(dir + "/hugetlb." + n + ".events")["max"]}};
                else
                    huge[n] = {{"usage", read_u64(dir + "/hugetlb." + n + ".usage_in_bytes").value_or(0)},
                               {"max", read_u64(dir + "/hugetlb." + n + ".max_usage_in_bytes").value_or(0)},
                               {"failcnt", read_u64(dir + "/hugetlb." + n + ".failcnt").value_or(0)}};
            }
        }
    }
    s["hugetlb"] = huge;
    return s;
}

uint64_t read_oom_kills(const Layout& layout, const std::vector<std::string>& dirs) {
    Dirs d{layout, dirs};
    auto [dir, v2] = d.of("memory");
    if (dir.empty()) return 0;
    // v2 memory.events and v1 memory.oom_control (Linux 4.13+) both count "oom_kill".
    return read_keyed(dir + (v2 ? "/memory.events" : "/memory.oom_control"))["oom_kill"];
}

}  // namespace kapsel::cgroups
