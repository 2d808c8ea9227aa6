// kapsel-procfs: the container-aware /proc and /sys files over FUSE (issue 14), a
// separate program because kapsel is linked statically and Debian's libfuse3 is a
// shared library. It mounts the tree of procfs/files.hpp at MOUNTPOINT and serves it in
// the foreground until SIGTERM or SIGINT, answering every read for the process that
// reads (its cgroup's limits). kapsel starts one per state root on demand
// (procfs/client.hpp); the process is the keeper (procfs/keeper.hpp) and its child the
// server.
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "cgroups/layout.hpp"
#include "procfs/files.hpp"
#include "procfs/keeper.hpp"
#include "procfs/notify.hpp"
#include "procfs/server.hpp"
#include "util/strings.hpp"
#include "util/result.hpp"

namespace {

constexpr const char* kUsage =
    "usage: kapsel-procfs [--control SOCKET] [--lock FILE] [--linger SECONDS]\n"
    "                     [--pid-file FILE] [--ready-fd N] MOUNTPOINT\n"
    "\n"
    "Mounts a read-only FUSE file system at MOUNTPOINT with meminfo, cpuinfo, stat,\n"
    "uptime, loadavg, swaps, diskstats, pressure/{cpu,memory,io} and\n"
    "sys/devices/system/cpu (online, possible, present, cpu0..cpuK-1 and the host's\n"
    "other entries), each answered for the process that reads it: its cgroup's\n"
    "memory, swap, CPU and I/O figures, its container's age and load (kapsel-procfs(8)).\n"
    "Runs in the foreground; SIGTERM or SIGINT unmounts and exits. Needs root.\n"
    "The process keeps the FUSE connection and runs the server as its child\n"
    "(kapsel-procfsd); a server that dies is replaced at once and the files work\n"
    "again in every container that has them.\n"
    "\n"
    "  --control SOCKET  accept containers' seccomp listeners here (kapsel does)\n"
    "  --lock FILE       after \"idle\" on the control socket, end only while FILE can\n"
    "                    be locked exclusively (kapsel holds it shared during a create)\n"
    "  --linger SECONDS  after \"idle\", wait this long for new use before ending (30)\n"
    "  --pid-file FILE   write this process's pid to FILE\n"
    "  --ready-fd N      write \"ok\" (or \"error: ...\") to fd N once serving\n";

int fail(const std::string& message) {
    std::fprintf(stderr, "kapsel-procfs: %s\n", message.c_str());
    return 1;
}

}  // namespace

// The server child: the tree over the connection, answered from this host's cgroups.
int server_main(int fuse_fd, bool attach, int feed_fd, int inflight_fd) {
    // Two malloc arenas for up to 16 FUSE threads and the notify thread: each answer is a
    // few KiB allocated and freed within one request, and an arena per thread only makes
    // the resident size grow with the threads the load once needed.
    ::mallopt(M_ARENA_MAX, 2);
    // The layout is detected once: it does not change while the host runs, and each
    // read would otherwise parse /proc/self/mountinfo again.
    auto layout = kapsel::cgroups::detect();
    if (!layout) return fail("detect the cgroup layout: " + layout.error().message);
    kapsel::procfs::SystemHost host(std::move(*layout));
    // sysinfo and sched_getaffinity of the containers' processes, beside the files.
    kapsel::procfs::NotifyServer notify(host, feed_fd, inflight_fd);
    std::thread notifications([&] { notify.run(); });
    auto served = kapsel::procfs::serve(fuse_fd, attach, host);
    notify.stop();
    notifications.join();
    if (!served) return fail(served.error().message);
    return 0;
}

int main(int argc, char** argv) {
    if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
        std::printf("kapsel-procfs %s\n", KAPSEL_VERSION);
        return 0;
    }
    kapsel::procfs::KeeperOptions o;
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        std::string flag = argv[i];
        if (flag == "--control") {
            o.control = argv[i + 1];
        } else if (flag == "--lock") {
            o.lock = argv[i + 1];
        } else if (flag == "--linger") {
            auto n = kapsel::parse_int(argv[i + 1]);
            if (!n || *n < 0 || *n > 86400)
                return fail(std::string("--linger ") + argv[i + 1] + ": not a number of seconds (0-86400)");
            o.linger_s = static_cast<int>(*n);
        } else if (flag == "--pid-file") {
            o.pid_file = argv[i + 1];
        } else if (flag == "--ready-fd") {
            auto n = kapsel::parse_int(argv[i + 1]);
            if (!n || *n < 0 || *n > 1024 || ::fcntl(static_cast<int>(*n), F_GETFD) < 0)
                return fail(std::string("--ready-fd ") + argv[i + 1] + ": not an open fd");
            o.ready_fd = static_cast<int>(*n);
            ::fcntl(o.ready_fd, F_SETFD, FD_CLOEXEC);
        } else {
            std::fputs(kUsage, stderr);
            return 2;
        }
    }
    if (i + 1 != argc || argv[i][0] == '-') {
        std::fputs(kUsage, stderr);
        return 2;
    }
    o.mount = argv[i];
    struct stat st {};
    if (::stat(o.mount.c_str(), &st) != 0)
        return fail("mount point " + o.mount + ": " + kapsel::errno_text(errno));
    if (!S_ISDIR(st.st_mode)) return fail("mount point " + o.mount + " is not a directory");

    // libfuse installs its handlers only over the default ones: a SIGTERM that a parent
    // left ignored would otherwise never unmount.
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) ::signal(sig, SIG_DFL);
    return kapsel::procfs::run_keeper(o, server_main);
}
