// Rootless id maps: entitlement from /etc/subuid and /etc/subgid, then the kernel's
// single-id map or the setuid newuidmap/newgidmap.
#include "linux/userns_maps.hpp"

#include <unistd.h>

#include <cstdlib>

#include "util/fs.hpp"
#include "util/spawn.hpp"
#include "util/strings.hpp"

namespace kapsel::linux {
namespace {

std::string range_text(uint64_t start, uint64_t count) {
    return std::to_string(start) + "-" + std::to_string(start + count - 1);
}

// newuidmap is setuid root and found in PATH as runc and crun find it; Debian puts it
// in /usr/bin.
Result<std::string> find_helper(const std::string& name) {
    const char* path = ::getenv("PATH");
    for (auto& dir : split(path && *path ? path : "/usr/bin:/bin", ':')) {
        if (dir.empty() || dir.front() != '/') continue;
        std::string p = fs::join(dir, name);
        if (::access(p.c_str(), X_OK) == 0) return p;
    }
    return make_error(name +
                      " is needed to map more than your own id: install it (Debian's "
                      "package uidmap)");
}

Status run_helper(const std::string& name, pid_t pid, const std::vector<plan::IdMap>& maps) {
    std::string program = KAPSEL_TRY(find_helper(name));
    auto done = KAPSEL_TRY_CTX(
        run_program(helper_argv(program, pid, maps), "", 64 << 10, std::chrono::seconds(30)),
        "run " + program);
    if (done.exited_ok()) return {};
    std::string why(trim(done.err));
    if (auto nl = why.find('\n'); nl != std::string::npos) why.resize(nl);
    return make_error(name + " failed" + (why.empty() ? std::string() : ": " + why));
}

Status write_single(const std::string& file, const plan::IdMap& m) {
    return fs::write_file(file,
                          std::to_string(m.inside) + " " + std::to_string(m.outside) + " 1\n");
}

}  // namespace

std::string user_name(uid_t uid) {
    if (auto text = fs::read_file("/etc/passwd")) {
        for (auto& line : split(*text, '\n')) {
            auto f = split(line, ':');
            if (f.size() > 2 && parse_uint(f[2]) == uid) return f[0];
        }
    }
    return std::to_string(uid);
}

std::vector<IdRange> subordinate_ranges(const std::string& text, const std::string& user,
                                        uint32_t id) {
    std::vector<IdRange> out;
    for (auto& line : split(text, '\n')) {
        auto f = split(line, ':');
        if (f.size() != 3 || (f[0] != user && f[0] != std::to_string(id))) continue;
        auto start = parse_uint(f[1]);
        auto count = parse_uint(f[2]);
        // Ids are 32 bits; a range past them is junk, not a grant.
        if (!start || !count || *count == 0 || *start + *count > (uint64_t{1} << 32)) continue;
        out.push_back({*start, *count});
    }
    return out;
}

bool needs_helper(const std::vector<plan::IdMap>& maps, uint32_t own) {
    return !(maps.size() == 1 && maps[0].count == 1 && maps[0].outside == own);
}

Status check_entitled(const std::vector<plan::IdMap>& maps, uint32_t own,
                      const std::vector<IdRange>& ranges, const std::string& field,
                      const std::string& file, const std::string& user) {
    for (auto& m : maps) {
        uint64_t lo = m.outside, hi = uint64_t{m.outside} + m.count;
        if (m.count == 1 && m.outside == own) continue;
        bool inside = false;
        for (auto& r : ranges) inside = inside || (lo >= r.start && hi <= r.start + r.count);
        if (inside) continue;
        std::string granted;
        for (auto& r : ranges)
            granted += (granted.empty() ? "" : ", ") + range_text(r.start, r.count);
        return make_error(field + ": host ids " + range_text(lo, m.count) +
                          " are not yours to map: " +
                          (granted.empty() ? file + " gives " + user + " no range"
                                           : file + " gives " + user + " " + granted) +
                          " besides its own id " + std::to_string(own));
    }
    return {};
}

std::vector<std::string> helper_argv(const std::string& program, pid_t pid,
                                     const std::vector<plan::IdMap>& maps) {
    std::vector<std::string> argv{program, std::to_string(pid)};
    for (auto& m : maps) {
        argv.push_back(std::to_string(m.inside));
        argv.push_back(std::to_string(m.outside));
        argv.push_back(std::to_string(m.count));
    }
    return argv;
}

Status check_rootless_maps(const plan::Plan& plan) {
    std::string user = user_name(::getuid());
    auto ranges_of = [&](const char* file, uint32_t id, const std::vector<plan::IdMap>& maps) {
        if (!needs_helper(maps, id)) return std::vector<IdRange>{};
        auto text = fs::read_file(file);
        return subordinate_ranges(text ? *text : "", user, id);
    };
    KAPSEL_TRY(check_entitled(plan.uid_map, ::getuid(),
                              ranges_of("/etc/subuid", ::getuid(), plan.uid_map),
                              "linux.uidMappings", "/etc/subuid", user));
    KAPSEL_TRY(check_entitled(plan.gid_map, ::getgid(),
                              ranges_of("/etc/subgid", ::getgid(), plan.gid_map),
                              "linux.gidMappings", "/etc/subgid", user));
    return {};
}

Status write_rootless_maps(pid_t pid, const plan::Plan& plan) {
    std::string base = "/proc/" + std::to_string(pid);
    if (needs_helper(plan.uid_map, ::getuid()))
        KAPSEL_TRY_CTX(run_helper("newuidmap", pid, plan.uid_map), "write uid mappings");
    else
        KAPSEL_TRY_CTX(write_single(base + "/uid_map", plan.uid_map[0]), "write uid mappings");
    if (needs_helper(plan.gid_map, ::getgid())) {
        KAPSEL_TRY_CTX(run_helper("newgidmap", pid, plan.gid_map), "write gid mappings");
    } else {
        // The kernel takes a user's own gid only once setgroups(2) is denied in the
        // namespace: otherwise it could drop a group that denies it access.
        KAPSEL_TRY_CTX(fs::write_file(base + "/setgroups", "deny"), "deny setgroups");
        KAPSEL_TRY_CTX(write_single(base + "/gid_map", plan.gid_map[0]), "write gid mappings");
    }
    return {};
}

}  // namespace kapsel::linux
