// A container's cgroup, one interface over the two kernels' models: cgroup v1 (a
// directory per controller hierarchy) and cgroup v2 (one unified directory). On
// a hybrid host both: each controller is used where the host provides it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cgroups/layout.hpp"
#include "cgroups/resources.hpp"
#include "linux/rootfs.hpp"
#include "oci/spec.hpp"
#include "util/fd.hpp"
#include "util/result.hpp"

namespace kapsel::cgroups {

struct TasksFile {
    std::string path;
    unique_fd fd;
};

class Cgroup {
public:
    virtual ~Cgroup() = default;

    // The container's directory in each hierarchy (host paths), in layout order.
    virtual const std::vector<std::string>& dirs() const = 0;
    // The directories kapsel made for it (its own and new parents): destroy()
    // removes these, and the parents only while nothing else uses them.
    virtual const std::vector<std::string>& created() const = 0;
    virtual bool v2() const = 0;

    // For clone3(CLONE_INTO_CGROUP): the v2 directory fd (pure v2, or the unified
    // hierarchy of a hybrid host), or -1 when there is none.
    virtual int clone_fd() const = 0;
    // The v1 hierarchies' `tasks` files, open for writing. A process that writes "0"
    // there moves only its calling thread, and the kernel then skips the global
    // threadgroup lock that a write to cgroup.procs takes, whose RCU grace period cost
    // 5-15 ms per create here. A new, single-threaded init joins this way; the file
    // was opened by us, and the kernel checks the opener's credentials.
    virtual Result<std::vector<TasksFile>> tasks_files() const = 0;
    // Moves a whole process into every hierarchy (cgroup.procs).
    virtual Status add_process(pid_t pid) = 0;
    // Every process in the cgroup, sub-cgroups included.
    virtual Result<std::vector<pid_t>> pids() const = 0;
    // Signals every process; freezes the cgroup around it so none can fork away.
    virtual Status kill_all(int sig) = 0;
    // Removes the directories; processes must be gone.
    virtual Status destroy() = 0;

    // Applies linux.resources (at create, before the init runs; or an update).
    // Warnings (settings the spec lets a runtime ignore) are logged.
    virtual Status apply(const oci::Resources& r, PlanMode mode) = 0;

    // pause/resume: v1 freezer.state, v2 cgroup.freeze; both wait until done.
    virtual Status freeze() = 0;
    virtual Status thaw() = 0;
    virtual bool frozen() const = 0;

    // runc's "stats" event data: cpu, memory, pids, blkio, hugetlb.
    virtual Result<nlohmann::json> stats() const = 0;
    // How many times the OOM killer killed in this cgroup so far.
    virtual uint64_t oom_kills() const = 0;
    // The file whose change (inotify IN_MODIFY) signals an OOM kill: v2
    // memory.events, v1 memory.oom_control through an eventfd (see events.cpp).
    virtual std::string memory_dir() const = 0;

    // How the container sees its cgroups at a "cgroup" mount.
    virtual std::vector<linux::CgroupView> views() const = 0;
};

// Resolves an OCI cgroupsPath to one directory per hierarchy: an absolute path
// below each hierarchy's root, a relative one (or none: the container id) below
// kapsel's own cgroup in that hierarchy, as runc does.
std::vector<std::string> resolve_dirs(const Layout& layout, const std::string& cgroups_path,
                                      const std::string& id);

// Creates the directories (mkdir -p; an existing cgroup may be joined, as the
// spec allows). On failure nothing created here is left behind.
Result<std::unique_ptr<Cgroup>> create(const Layout& layout, const std::vector<std::string>& dirs);
// An existing container cgroup (for kill --all, delete, pause, update, events);
// `created` as recorded at create, so delete removes the parents kapsel made.
std::unique_ptr<Cgroup> open(const Layout& layout, const std::vector<std::string>& dirs,
                             const std::vector<std::string>& created = {});

}  // namespace kapsel::cgroups
