// `run`: create + start, then (attached) forward signals and the terminal until
// the container exits, and return its exit code; delete unless --keep.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "linux/console.hpp"
#include "oci/spec.hpp"
#include "runtime/attach.hpp"
#include "runtime/lifecycle.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace kapsel::runtime {

Result<int> run(const Globals& g, const RunOptions& o) {
    CreateOptions c = o.create;
    std::string bundle = fs::absolute(c.bundle.empty() ? "." : c.bundle);
    bool terminal = false;
    if (auto spec = oci::load_spec(bundle + "/config.json"); spec && spec->process)
        terminal = spec->process->terminal;

    unique_fd console_ours, console_theirs;
    if (terminal && !o.detach && c.console_socket.empty()) {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
            return sys_error("socketpair for terminal");
        console_ours.reset(sv[0]);
        console_theirs.reset(sv[1]);
        c.console_fd = console_theirs.get();
    }

    // The container's processes may be re-parented to us (a grandchild init); we reap them.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    sigset_t fwd = forwarded_signals(), old;
    // Signals that arrive before the container runs are queued, then forwarded.
    if (!o.detach) sigprocmask(SIG_BLOCK, &fwd, &old);

    Created created = KAPSEL_TRY(create(g, c));
    console_theirs.reset();
    unique_fd master;
    if (console_ours) {
        auto m = linux::recv_fd(console_ours.get());
        if (!m) {
            (void)remove(g, c.id, true);
            return std::move(m).error();
        }
        master = std::move(*m);
    }
    auto started = start(g, c.id);
    if (!started) {
        (void)remove(g, c.id, true);
        return std::move(started).error();
    }
    if (o.on_started) o.on_started();
    if (o.detach) return 0;

    int rc = wait_attached(created.pid, created.pidfd.get(), std::move(master), fwd);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    if (!o.keep) {
        auto st = remove(g, c.id, true);
        if (!st) log::warn(st.error().message);
    }
    return rc;
}

}  // namespace kapsel::runtime
