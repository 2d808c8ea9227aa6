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

// Inside the container, after pivot_root: creates the pty, binds the slave at
// /dev/console, sends the master over `console_sock`, makes the slave the
// controlling terminal and stdio.
Status setup_console(Sys& sys, int console_sock, std::optional<std::pair<unsigned, unsigned>> size,
                     uid_t uid, gid_t gid);

// Sends one fd over a unix socket with a name, as runc does for console masters.
Status send_fd(int sock, int fd, const std::string& name);
// Receives one fd from a unix socket.
Result<unique_fd> recv_fd(int sock);

}  // namespace kapsel::linux
