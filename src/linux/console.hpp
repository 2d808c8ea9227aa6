// The container's terminal: a pty from the container's own devpts, its slave as
// the process's stdio and /dev/console, its master sent to the caller over the
// console socket (SCM_RIGHTS), as runc's --console-socket protocol defines.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "linux/sys.hpp"

namespace kapsel::linux {

// Connects to the caller's console socket (a host path), before the container exists.
Result<unique_fd> connect_console_socket(const std::string& path);

struct Pty {
    unique_fd master, slave;
};

// Inside the container (after pivot_root, or after joining its mount namespace):
// a pty from the container's own /dev/ptmx, so it belongs to the container's
// devpts and not to the host's; the slave sized and owned by the process's user.
Result<Pty> open_pty(Sys& sys, std::optional<std::pair<unsigned, unsigned>> size, uid_t uid,
                     gid_t gid);

// The slave as a process's terminal: the config's size, owned by `uid` (none: left
// as it is), devpts' tty group kept, mode 0620. open_pty does this; a restored
// container's new terminal gets the same.
Status shape_pty_slave(int slave, std::optional<std::pair<unsigned, unsigned>> size,
                       std::optional<uid_t> uid);

// Sends the master over `console_sock`, then makes the slave the controlling
// terminal (in a new session) and stdio. Consumes the pty.
Status attach_pty(Pty pty, int console_sock);

// The init's console: open_pty, the slave bound at /dev/console, attach_pty.
Status setup_console(Sys& sys, int console_sock, std::optional<std::pair<unsigned, unsigned>> size,
                     uid_t uid, gid_t gid);

// Sends one fd over a unix socket with a name, as runc does for console masters.
Status send_fd(int sock, int fd, const std::string& name);
// Receives one fd from a unix socket.
Result<unique_fd> recv_fd(int sock);

}  // namespace kapsel::linux
