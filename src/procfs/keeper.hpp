// The keeper of a procfs service: the process that owns the FUSE connection and the
// containers' seccomp listeners, and runs the server that answers them as its child.
//
// Why two processes: a FUSE mount dies with the last open fd of its /dev/fuse
// connection, and a seccomp filter's calls fail with ENOSYS once its listener's last fd
// is closed. The keeper does nothing but hold those fds (it never reads from them), so a
// server that crashes or is killed loses neither: the keeper starts a new one and hands
// it the same connection and listeners, and the files in running containers answer
// again. Requests the dead server had taken fail fast (the kernel ends the requests of a
// closed cloned /dev/fuse fd with ECONNABORTED); new ones wait in the connection's queue
// for the new server. LXCFS, whose one process holds everything, leaves every container's
// files failing with ENOTCONN until the containers restart.
#pragma once

#include <string>

namespace kapsel::procfs {

struct KeeperOptions {
    std::string mount;     // where the FUSE file system is mounted (a directory)
    std::string control;   // the control socket ("": none, for a server run by hand)
    std::string pid_file;  // "": none
    int ready_fd = -1;     // gets "ok\n" once mounted and listening, or "error: ...\n"
    // After an "idle" request (kapsel deleted the last container that used the service),
    // the keeper ends itself this many seconds later unless "ping" or "listener" comes
    // first, and only if it can take `lock` exclusively (a create that is setting up a
    // container holds it shared). Lingering keeps `run --rm` in a loop from starting a
    // service for each container.
    std::string lock;
    int linger_s = 30;
};

// What the server child runs: `fuse_fd` is the connection (already mounted), `attach`
// says it was initialised by an earlier server, `feed_fd` delivers the listeners (see
// protocol.hpp), `inflight_fd` is a shared 4096-byte memfd the servers use to finish a
// killed server's half-answered seccomp notification. Returns the exit code.
using ServerMain = int (*)(int fuse_fd, bool attach, int feed_fd, int inflight_fd);

// Mounts, listens, runs servers until SIGTERM, SIGINT or SIGHUP (or until the mount is
// gone), then stops the server, unmounts and returns the exit code.
int run_keeper(const KeeperOptions& o, ServerMain server);

}  // namespace kapsel::procfs
