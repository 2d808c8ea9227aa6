// Terminal setup.
#include "linux/console.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "linux/path.hpp"
#include "util/fdpass.hpp"
#include "util/fs.hpp"

namespace kapsel::linux {

Result<unique_fd> connect_console_socket(const std::string& path) {
    unique_fd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!sock) return sys_error("console socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string target = path;
    // Long paths (containerd's are) do not fit sun_path: go through the directory fd.
    unique_fd dir;
    if (target.size() >= sizeof addr.sun_path) {
        dir.reset(::open(fs::dirname(path).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!dir) return sys_error("open directory of console socket " + path);
        target = "/proc/self/fd/" + std::to_string(dir.get()) + "/" + fs::basename(path);
    }
    std::strncpy(addr.sun_path, target.c_str(), sizeof addr.sun_path - 1);
    if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
        return sys_error("connect to console socket " + path);
    return sock;
}

Status send_fd(int sock, int fd, const std::string& name) {
    if (auto st = send_with_fd(sock, name, fd); !st)
        return sys_error("send terminal to console socket", st.error().code);
    return {};
}

Result<unique_fd> recv_fd(int sock) {
    char name[4096];
    iovec iov{name, sizeof name};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    ssize_t n;
    while ((n = ::recvmsg(sock, &m, MSG_CMSG_CLOEXEC)) < 0)
        if (errno != EINTR) return sys_error("receive terminal");
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
            return unique_fd(fd);
        }
    }
    return make_error("no terminal received on console socket");
}

Result<Pty> open_pty(Sys& sys, std::optional<std::pair<unsigned, unsigned>> size, uid_t uid,
                     gid_t gid) {
    // No magic links: /dev/ptmx must not lead through /proc/self/fd to a
    // descriptor kapsel still holds from the host.
    unique_fd root = KAPSEL_TRY(sys.openat2(AT_FDCWD, "/", O_PATH | O_DIRECTORY, 0, 0));
    unique_fd master =
        KAPSEL_TRY_CTX(sys.openat2(root.get(), "/dev/ptmx", O_RDWR | O_NOCTTY, 0, kInRoot),
                       "open /dev/ptmx in the container");
    if (::unlockpt(master.get()) < 0) return sys_error("unlock pty (is /dev/ptmx a pty master?)");
    // TIOCGPTPEER opens the slave through the master, never by a path name that
    // something in the container could have replaced.
    int sfd = ::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (sfd < 0) return sys_error("open pty slave");
    unique_fd slave(sfd);
    (void)gid;
    KAPSEL_TRY(shape_pty_slave(slave.get(), size, uid));
    return Pty{std::move(master), std::move(slave)};
}

Status shape_pty_slave(int slave, std::optional<std::pair<unsigned, unsigned>> size,
                       std::optional<uid_t> uid) {
    if (size) {
        winsize ws{};
        ws.ws_row = static_cast<unsigned short>(size->first);
        ws.ws_col = static_cast<unsigned short>(size->second);
        ::ioctl(slave, TIOCSWINSZ, &ws);
    }
    // The process's user owns its terminal; the group stays what devpts gave it (the
    // mount's gid=5, "tty"), as with runc, so that mesg, write and script work as
    // on any Linux system.
    if (uid && ::fchown(slave, *uid, static_cast<gid_t>(-1)) < 0 && errno != EINVAL)
        return sys_error("chown pty slave");
    ::fchmod(slave, 0620);
    return {};
}

Status attach_pty(Pty pty, int console_sock) {
    KAPSEL_TRY(send_fd(console_sock, pty.master.get(), "/dev/ptmx"));
    pty.master.reset();
    if (::setsid() < 0 && errno != EPERM) return sys_error("setsid");
    if (::ioctl(pty.slave.get(), TIOCSCTTY, 0) < 0)
        return sys_error("make the pty the controlling terminal");
    for (int fd = 0; fd <= 2; ++fd)
        if (::dup2(pty.slave.get(), fd) < 0) return sys_error("dup pty to stdio");
    return {};
}

Status setup_console(Sys& sys, int console_sock, std::optional<std::pair<unsigned, unsigned>> size,
                     uid_t uid, gid_t gid) {
    Pty pty = KAPSEL_TRY(open_pty(sys, size, uid, gid));
    unique_fd root = KAPSEL_TRY(sys.openat2(AT_FDCWD, "/", O_PATH | O_DIRECTORY, 0, 0));
    unique_fd console = KAPSEL_TRY_CTX(ensure_mountpoint(sys, root.get(), "/dev/console", false),
                                       "create /dev/console");
    unique_fd tree =
        KAPSEL_TRY_CTX(sys.open_tree(pty.slave.get(), "", OPEN_TREE_CLONE | AT_EMPTY_PATH),
                       "bind pty at /dev/console");
    KAPSEL_TRY_CTX(sys.move_mount(tree.get(), "", console.get(), "",
                                  MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH),
                   "bind pty at /dev/console");
    return attach_pty(std::move(pty), console_sock);
}

}  // namespace kapsel::linux
