// ps: the container's processes, from its cgroup.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>

#include "cgroups/cgroup.hpp"
#include "runtime/manage.hpp"
#include "runtime/store.hpp"
#include "util/strings.hpp"

namespace kapsel::runtime {

namespace {

// A rootless container without a cgroup of its own (cgroups/rootless.hpp): its
// processes are those in its init's pid namespace when it has one of its own, else
// the init alone. A process whose namespace link we may not read is not ours.
std::vector<pid_t> pid_namespace_members(const Record& rec) {
    std::vector<pid_t> out;
    if (!process_start_time(rec.pid) || process_start_time(rec.pid) != rec.pid_start) return out;
    struct stat init_ns;
    if (!rec.new_pid_ns || ::stat(("/proc/" + std::to_string(rec.pid) + "/ns/pid").c_str(), &init_ns) < 0)
        return {rec.pid};
    DIR* d = ::opendir("/proc");
    if (!d) return {rec.pid};
    while (dirent* e = ::readdir(d)) {
        auto pid = parse_uint(e->d_name);
        struct stat ns;
        if (!pid || ::stat(("/proc/" + std::string(e->d_name) + "/ns/pid").c_str(), &ns) < 0) continue;
        if (ns.st_dev == init_ns.st_dev && ns.st_ino == init_ns.st_ino) out.push_back(static_cast<pid_t>(*pid));
    }
    ::closedir(d);
    return out;
}

}  // namespace

Result<std::vector<pid_t>> pids(const Globals& g, const std::string& id) {
    Store store(g.root);
    Record rec = KAPSEL_TRY(store.load(id));
    if (rec.cgroup_dirs.empty()) {
        auto list = pid_namespace_members(rec);
        std::sort(list.begin(), list.end());
        return list;
    }
    auto layout = KAPSEL_TRY(cgroups::detect());
    auto list = KAPSEL_TRY(cgroups::open(layout, rec.cgroup_dirs)->pids());
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
    return list;
}

}  // namespace kapsel::runtime
