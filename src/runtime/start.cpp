// `start`: release the init waiting on the exec fifo, then the poststart hooks.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "linux/hooks.hpp"
#include "oci/spec.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/store.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace kapsel::runtime {

Status start(const Globals& g, const std::string& id) {
    Store store(g.root);
    Record rec = KAPSEL_TRY(store.load(id));
    unique_fd lock = KAPSEL_TRY(store.lock(id));
    oci::Status status = current_status(store, rec);
    if (status != oci::Status::created)
        return make_error("cannot start container \"" + id + "\": it is " +
                          oci::status_name(status) +
                          (status == oci::Status::stopped ? "" : ", not created"));
    oci::Spec spec = KAPSEL_TRY(oci::load_spec(store.dir(id) + "/config.json"));

    std::string fifo = store.dir(id) + "/exec.fifo";
    unique_fd fd(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fd) {
        if (errno == ENXIO)
            return make_error("cannot start container \"" + id + "\": its init is no longer waiting");
        return sys_error("open " + fifo);
    }
    if (::write(fd.get(), "0", 1) != 1) return sys_error("write " + fifo);
    log::debug("start: released the init of " + id + " (pid " + std::to_string(rec.pid) + ")");
    rec.started = true;
    KAPSEL_TRY(store.save(rec));
    // The init holds the fifo open until its execve closes it (O_CLOEXEC): the
    // kernel reports POLLERR to us then, so poststart hooks run after the program
    // really started, not merely after we asked it to.
    pollfd p{fd.get(), 0, 0};
    while (::poll(&p, 1, 30000) < 0 && errno == EINTR) {
    }
    // An init that could not exec wrote why into the fifo before it exited; our
    // write end keeps the pipe and its content alive for us to read.
    std::string why;
    unique_fd back(::open(("/proc/self/fd/" + std::to_string(fd.get())).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (back) {
        char buf[4096];
        ssize_t n;
        while ((n = ::read(back.get(), buf, sizeof buf)) > 0) why.append(buf, static_cast<size_t>(n));
    }
    ::unlink(fifo.c_str());
    fd.reset();
    if (!spec.process) {
        // The runtime-spec wants an error here. The init, released, exits, so the
        // container is stopped and can be deleted.
        return make_error("cannot start container \"" + id + "\": its config has no process");
    }
    if (why == "0") return make_error("cannot start container \"" + id + "\": its init died before it was started");
    if (!why.empty()) return make_error("start container " + id + ": " + why);
    // The state as of the start, as runc and crun pass it: "running" with the
    // init's pid, even when a short program has already exited by now (the
    // validation suite's hooks_stdin runs `true`; "stopped" with pid 0 failed it).
    if (!spec.hooks.poststart.empty())
        linux::run_hooks_warn(spec.hooks.poststart, "poststart",
                              oci::state_json(to_state(rec, oci::Status::running), false));
    return {};
}

}  // namespace kapsel::runtime
