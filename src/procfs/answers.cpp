// The container's view of /proc and /sys files (see answers.hpp for the rules).
#include "procfs/answers.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "util/strings.hpp"

namespace kapsel::procfs {
namespace {


std::optional<uint64_t> number(std::string_view s) {
    s = trim(s);
    if (s.size() > 20) return std::nullopt;
    return parse_uint(s);
}

// "Key:      1234 kB" with the value replaced, right-aligned in the width the host's had
// (the kernel aligns the column; programs split on whitespace either way).
std::string meminfo_line(std::string_view line, uint64_t kb) {
    size_t colon = line.find(':');
    size_t unit = line.rfind(" kB");
    if (colon == std::string_view::npos || unit == std::string_view::npos || unit < colon)
        return std::string(line);
    std::string value = std::to_string(kb);
    size_t width = unit - colon - 1;
    std::string out(line.substr(0, colon + 1));
    if (value.size() < width) out.append(width - value.size(), ' ');
    else out += ' ';
    return out + value + " kB";
}

// A /proc/stat "cpu..." line's counters (user nice system idle iowait irq softirq
// steal guest guest_nice), or nothing when the line is not one.
std::optional<std::vector<uint64_t>> cpu_counters(std::string_view line) {
    auto fields = split(std::string(line), ' ');
    std::vector<uint64_t> out;
    for (size_t i = 1; i < fields.size(); ++i) {
        if (fields[i].empty()) continue;
        auto v = number(fields[i]);
        if (!v) return std::nullopt;
        out.push_back(*v);
    }
    if (out.empty()) return std::nullopt;
    return out;
}

}  // namespace

std::vector<unsigned> visible_cpus(const Limits& l, const std::vector<unsigned>& host_online) {
    std::vector<unsigned> cpus = l.cpuset.empty() ? host_online : l.cpuset;
    if (l.cpu_quota && *l.cpu_quota > 0) {
        // A quota of 1.5 CPUs runs on two at once: ceil, and never fewer than one.
        double n = std::ceil(*l.cpu_quota - 1e-9);
        size_t allowed = n < 1 ? 1 : static_cast<size_t>(n);
        if (allowed < cpus.size()) cpus.resize(allowed);
    }
    return cpus;
}

std::string cpu_list(size_t count) {
    if (count == 0) return "";
    if (count == 1) return "0";
    return "0-" + std::to_string(count - 1);
}

std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text) {
    std::vector<unsigned> out;
    text = trim(text);
    if (text.empty()) return out;
    for (auto& part : split(std::string(text), ',')) {
        size_t dash = part.find('-');
        auto lo = number(part.substr(0, dash));
        auto hi = dash == std::string::npos ? lo : number(part.substr(dash + 1));
        // A bound: no machine has more CPUs than the kernel's NR_CPUS limit (8192).
        if (!lo || !hi || *lo > *hi || *hi >= 8192) return std::nullopt;
        for (uint64_t c = *lo; c <= *hi; ++c) out.push_back(static_cast<unsigned>(c));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::string meminfo(std::string_view host, const Limits& l) {
    // One pass to find the two host figures the answer depends on, one to write it: the
    // file is read on every open, so no map or per-line allocation (this ran at 14 µs a
    // read with a std::map, a tenth of a whole FUSE read).
    auto value_of = [](std::string_view line) -> std::optional<uint64_t> {
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) return std::nullopt;
        std::string_view rest = line.substr(colon + 1);
        if (size_t unit = rest.rfind(" kB"); unit != std::string_view::npos) rest = rest.substr(0, unit);
        return number(rest);
    };
    auto key_of = [](std::string_view line) {
        size_t colon = line.find(':');
        return colon == std::string_view::npos ? std::string_view() : line.substr(0, colon);
    };
    auto lines = split_lines(host);
    std::optional<uint64_t> host_total;
    uint64_t host_swap = 0;
    for (auto line : lines) {
        std::string_view key = key_of(line);
        if (key == "MemTotal") host_total = value_of(line);
        else if (key == "SwapTotal") host_swap = value_of(line).value_or(0);
    }
    if (!l.memory_limit || !host_total) return std::string(host);
    uint64_t total = std::min(*l.memory_limit / 1024, *host_total);
    uint64_t used = std::min(l.memory_usage / 1024, total);
    uint64_t cache = std::min(l.memory_cache / 1024, used);
    uint64_t free_kb = total - used;
    struct Set {
        std::string_view key;
        uint64_t kb;
    };
    std::vector<Set> set = {{"MemTotal", total}, {"MemFree", free_kb},
                            {"MemAvailable", std::min(total, free_kb + cache)},
                            {"Cached", cache},   {"Buffers", 0},       {"SwapCached", 0}};
    uint64_t sreclaimable = std::min(l.slab_reclaimable / 1024, used);
    uint64_t sunreclaim = std::min(l.slab_unreclaimable / 1024, used);
    set.push_back({"Shmem", std::min(l.memory_shmem / 1024, cache)});
    set.push_back({"SReclaimable", sreclaimable});
    set.push_back({"KReclaimable", sreclaimable});
    set.push_back({"SUnreclaim", sunreclaim});
    set.push_back({"Slab", std::min(sreclaimable + sunreclaim, used)});
    if (host_swap > 0) {
        // memsw (v1) counts memory and swap together; swap.max (v2) swap alone: the
        // caller passes what is swap. Unlimited swap shows the host's.
        uint64_t swap_total = l.swap_limit ? std::min(*l.swap_limit / 1024, host_swap) : host_swap;
        set.push_back({"SwapTotal", swap_total});
        set.push_back({"SwapFree", swap_total - std::min(l.swap_usage / 1024, swap_total)});
    }
    std::string out;
    out.reserve(host.size() + 64);
    for (auto line : lines) {
        std::string_view key = key_of(line);
        auto it = key.empty() ? set.end()
                              : std::find_if(set.begin(), set.end(),
                                             [&](const Set& s) { return s.key == key; });
        if (it == set.end()) out += line;
        else out += meminfo_line(line, it->kb);
        out += '\n';
    }
    return out;
}

std::string cpuinfo(std::string_view host, const std::vector<unsigned>& visible) {
    std::string out;
    size_t shown = 0;
    std::string block;
    std::optional<uint64_t> cpu;
    auto flush = [&] {
        if (cpu && std::find(visible.begin(), visible.end(), *cpu) != visible.end()) {
            // Renumbered: the container's CPUs are 0..n-1 wherever they are on the host.
            std::string head = "processor\t: " + std::to_string(shown++);
            out += head + block.substr(block.find('\n')) + "\n";
        }
        block.clear();
        cpu.reset();
    };
    for (auto line : split_lines(host)) {
        if (trim(line).empty()) {
            flush();
            continue;
        }
        if (block.empty()) {
            if (line.substr(0, 9) != "processor") return std::string(host);  // a format we do not know
            size_t colon = line.find(':');
            cpu = colon == std::string_view::npos ? std::nullopt : number(line.substr(colon + 1));
        }
        block.append(line).push_back('\n');
    }
    flush();
    return out;
}

std::string stat(std::string_view host, const std::vector<unsigned>& visible) {
    std::vector<std::vector<uint64_t>> mine;
    std::vector<std::string> rest;
    for (auto line : split_lines(host)) {
        if (line.substr(0, 3) == "cpu") {
            std::string_view name = line.substr(0, line.find(' '));
            if (name == "cpu") continue;  // the total: recomputed below
            auto n = number(name.substr(3));
            auto c = cpu_counters(line);
            if (n && c && std::find(visible.begin(), visible.end(), *n) != visible.end())
                mine.push_back(*c);
            continue;
        }
        if (!line.empty()) rest.emplace_back(line);
    }
    std::vector<uint64_t> total;
    for (auto& c : mine) {
        if (total.size() < c.size()) total.resize(c.size());
        for (size_t i = 0; i < c.size(); ++i) total[i] += c[i];
    }
    auto row = [](const std::string& name, const std::vector<uint64_t>& c) {
        std::string s = name;
        for (auto v : c) s += " " + std::to_string(v);
        return s + "\n";
    };
    std::string out = row("cpu ", total);
    for (size_t i = 0; i < mine.size(); ++i) out += row("cpu" + std::to_string(i), mine[i]);
    for (auto& r : rest) out += r + "\n";
    return out;
}

std::string uptime(double container_age_s, double host_idle_s, size_t host_cpus,
                   size_t visible_cpus) {
    double age = std::max(0.0, container_age_s);
    double share = host_cpus ? static_cast<double>(visible_cpus) / static_cast<double>(host_cpus) : 1;
    double idle = std::min(std::max(0.0, host_idle_s) * share, age * static_cast<double>(visible_cpus));
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f %.2f\n", age, idle);
    return buf;
}

std::string swaps(const Limits& l) {
    std::string out = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
    if (l.swap_limit && *l.swap_limit > 0)
        out += "none\t\t\t\t\tvirtual\t\t" + std::to_string(*l.swap_limit / 1024) + "\t\t" +
               std::to_string(std::min(l.swap_usage, *l.swap_limit) / 1024) + "\t\t0\n";
    return out;
}

struct sysinfo sysinfo_for(const struct sysinfo& host, const Limits& l, double container_age_s) {
    struct sysinfo out = host;
    out.uptime = static_cast<long>(std::max(0.0, container_age_s));
    uint64_t unit = host.mem_unit ? host.mem_unit : 1;
    if (l.memory_limit) {
        uint64_t total = std::min<uint64_t>(*l.memory_limit / unit, host.totalram);
        uint64_t used = std::min(l.memory_usage / unit, total);
        out.totalram = total;
        out.freeram = total - used;
        out.bufferram = 0;
        // The cgroup's shared memory, as meminfo's Shmem: busybox `free` shows this one.
        out.sharedram = std::min<uint64_t>(l.memory_shmem / unit, used);
    }
    if (host.totalswap > 0 && l.swap_limit) {
        uint64_t total = std::min<uint64_t>(*l.swap_limit / unit, host.totalswap);
        out.totalswap = total;
        out.freeswap = total - std::min(l.swap_usage / unit, total);
    }
    return out;
}

}  // namespace kapsel::procfs
