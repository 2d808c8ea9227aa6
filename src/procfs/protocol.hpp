// The messages between kapsel, the procfs keeper and its server: SOCK_SEQPACKET
// datagrams of a short text, each with at most one fd (SCM_RIGHTS).
//
//   kapsel -> keeper (control.sock):  "listener CONTAINER_ID" + the seccomp listener fd
//   keeper -> kapsel:                 "ok" or "error: WHY"
//   keeper -> server (its feed):      "CONTAINER_ID NUMBER" + the listener fd, for each
//                                     listener it keeps, at the server's start and as they
//                                     come (NUMBER: the keeper's registration count)
#pragma once

#include <string>
#include <string_view>

#include "util/fd.hpp"
#include "util/result.hpp"

namespace kapsel::procfs {

inline constexpr std::string_view kListenerVerb = "listener";
// No message is longer: a peer cannot make the receiver hold more.
inline constexpr size_t kMaxMessage = 512;

// Sends `text` (at most kMaxMessage bytes) and, when fd >= 0, the fd.
Status send_with_fd(int sock, std::string_view text, int fd);

// Receives one message; its fd (if any) goes to *fd, or is closed when fd is null. A
// message longer than kMaxMessage, or with more than one fd, is an error (its fds closed).
// An empty text with no error: the peer closed the connection.
Result<std::string> recv_with_fd(int sock, unique_fd* fd);

}  // namespace kapsel::procfs
