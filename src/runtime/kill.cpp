// `kill`: a signal to the init (through a pidfd), or to every process with --all.
#include <signal.h>

#include "cgroups/cgroup.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/process.hpp"
#include "runtime/store.hpp"

namespace kapsel::runtime {

Status kill(const Globals& g, const std::string& id, int signal, bool all) {
    Store store(g.root);
    Record rec = KAPSEL_TRY(store.load(id));
    oci::Status status = current_status(store, rec);
    if (status == oci::Status::stopped && !all) return make_error("container \"" + id + "\" is not running");
    if (all) {
        auto layout = KAPSEL_TRY(cgroups::detect());
        auto cg = cgroups::open(layout, rec.cgroup_dirs);
        KAPSEL_TRY_CTX(cg->kill_all(signal), "kill all processes of " + id);
        return {};
    }
    unique_fd pidfd = open_init(rec);
    if (!pidfd) return make_error("container \"" + id + "\" is not running");
    if (pidfd_signal(pidfd.get(), signal) < 0) return sys_error("signal container \"" + id + "\"");
    return {};
}

}  // namespace kapsel::runtime
