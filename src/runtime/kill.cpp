// `kill`: a signal to the init (through a pidfd), or to every process with --all.
#include <signal.h>

#include "cgroups/cgroup.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/process.hpp"
#include "runtime/store.hpp"
#include "util/log.hpp"

namespace kapsel::runtime {

Status kill(const Globals& g, const std::string& id, int signal, bool all) {
    Store store(g.root);
    Record rec = KAPSEL_TRY(store.load(id));
    oci::Status status = current_status(store, rec);
    // "container not running" is the text containerd's shim matches to tell a
    // stopped container from a failure, as runc prints it.
    if (status == oci::Status::stopped && !all)
        return make_error("kill " + id + ": container not running");
    unique_fd pidfd = open_init(rec);
    log::debug("kill: signal " + std::to_string(signal) +
               (all ? " to every process of " : " to the init of ") + id + " (pid " +
               std::to_string(rec.pid) + ", " + oci::status_name(status) + ")");
    // A rootless container without a cgroup of its own has no list of its processes:
    // the signal goes to its init (runc does the same), whose end ends a pid namespace.
    if (all && rec.cgroup_dirs.empty()) {
        if (!pidfd) return {};
        if (pidfd_signal(pidfd.get(), signal) < 0) return sys_error("kill " + id);
    } else if (all) {
        auto layout = KAPSEL_TRY(cgroups::detect());
        auto cg = cgroups::open(layout, rec.cgroup_dirs);
        KAPSEL_TRY_CTX(cg->kill_all(signal), "kill all processes of " + id);
    } else {
        if (!pidfd) return make_error("kill " + id + ": container not running");
        if (pidfd_signal(pidfd.get(), signal) < 0) return sys_error("kill " + id);
    }
    // A created container's init is kapsel's own waiting process, which any fatal
    // signal ends at once, and SIGKILL ends anything: wait for that, so that a
    // `delete` right after `kill` (containerd's order) finds the container stopped.
    bool fatal = signal == SIGKILL || (status == oci::Status::created && signal != 0 && signal != SIGCHLD &&
                                       signal != SIGCONT && signal != SIGURG && signal != SIGWINCH);
    if (pidfd && fatal) wait_exit(pidfd.get(), 5000);
    return {};
}

}  // namespace kapsel::runtime
