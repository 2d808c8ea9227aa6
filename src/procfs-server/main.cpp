// kapsel-procfs: the container-aware /proc and /sys files over FUSE (issue 14), a
// separate program because kapsel is linked statically and Debian's libfuse3 is a
// shared library. It mounts the tree of procfs/files.hpp at MOUNTPOINT and serves it in
// the foreground until SIGTERM or SIGINT, answering every read for the process that
// reads (its cgroup's limits). Not started by kapsel yet: containers do not see it.
#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "cgroups/layout.hpp"
#include "procfs/files.hpp"
#include "procfs/server.hpp"
#include "util/result.hpp"

namespace {

constexpr const char* kUsage =
    "usage: kapsel-procfs MOUNTPOINT\n"
    "\n"
    "Mounts a read-only FUSE file system at MOUNTPOINT with meminfo, cpuinfo, stat,\n"
    "uptime, swaps, loadavg and sys/devices/system/cpu/{online,possible,present}, each\n"
    "answered for the process that reads it: its cgroup's memory, swap and CPU limits.\n"
    "Runs in the foreground; SIGTERM or SIGINT unmounts and exits. Needs root.\n";

int fail(const std::string& message) {
    std::fprintf(stderr, "kapsel-procfs: %s\n", message.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
        std::printf("kapsel-procfs %s\n", KAPSEL_VERSION);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        std::fputs(kUsage, stderr);
        return 2;
    }
    std::string mountpoint = argv[1];
    struct stat st {};
    if (::stat(mountpoint.c_str(), &st) != 0)
        return fail("mount point " + mountpoint + ": " + kapsel::errno_text(errno));
    if (!S_ISDIR(st.st_mode)) return fail("mount point " + mountpoint + " is not a directory");

    // libfuse installs its handlers only over the default ones: a SIGTERM that a parent
    // left ignored would otherwise never unmount.
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) ::signal(sig, SIG_DFL);

    // The layout is detected once: it does not change while the host runs, and each
    // read would otherwise parse /proc/self/mountinfo again.
    auto layout = kapsel::cgroups::detect();
    if (!layout) return fail("detect the cgroup layout: " + layout.error().message);
    kapsel::procfs::SystemHost host(std::move(*layout));
    auto served = kapsel::procfs::serve(mountpoint, host);
    if (!served) return fail(served.error().message);
    return 0;
}
