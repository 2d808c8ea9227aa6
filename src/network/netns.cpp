// See netns.hpp.
#include "network/netns.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kapsel::network {
namespace {

// In the child, in its new namespace: lo up (netavark does not touch it, and a
// container without loopback breaks programs that talk to themselves).
bool loopback_up() {
    unique_fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s) return false;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) < 0) return false;
    ifr.ifr_flags |= IFF_UP;
    return ::ioctl(s.get(), SIOCSIFFLAGS, &ifr) == 0;
}

}  // namespace

Result<std::string> create_netns(const std::string& dir, const std::string& name) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
        return make_error("network namespace name \"" + name + "\" is not a file name");
    KAPSEL_TRY(fs::mkdir_p(dir, 0700));
    std::string path = dir + "/" + name;
    // The mount point: a new empty file, never one that was there (O_EXCL).
    {
        unique_fd f(::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0400));
        if (!f) return sys_error("create " + path);
    }
    // A child makes the namespace and binds it on the file: unshare(CLONE_NEWNET) moves
    // only the calling task, and kapsel's own network must stay the host's. The child
    // shares our mount namespace, so its bind mount is ours.
    pid_t child = ::fork();
    if (child < 0) {
        int e = errno;
        ::unlink(path.c_str());
        return sys_error("fork to make a network namespace", e);
    }
    if (child == 0) {
        if (::unshare(CLONE_NEWNET) < 0) ::_exit(10);
        if (!loopback_up()) ::_exit(11);
        if (::mount("/proc/self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) < 0) ::_exit(12);
        ::_exit(0);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        (void)remove_netns(path);
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        const char* step = code == 10 ? "unshare(CLONE_NEWNET)" : code == 11 ? "set its loopback up" : "bind it on the file";
        return make_error("make a network namespace at " + path + ": " + step + " failed");
    }
    return path;
}

bool is_netns(const std::string& path) {
    struct statfs st {};
    return ::statfs(path.c_str(), &st) == 0 && st.f_type == NSFS_MAGIC;
}

Status remove_netns(const std::string& path) {
    // Detached, so that a process still in the namespace (a container being killed) does
    // not keep the file busy; the namespace itself ends with its last user.
    if (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
        return sys_error("unmount the network namespace " + path);
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) return sys_error("remove " + path);
    return {};
}

}  // namespace kapsel::network
