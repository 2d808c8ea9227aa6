// Sending a datagram with one fd (SCM_RIGHTS) over a unix socket: the container init's
// sync socket and the procfs service's control socket both pass fds so.
#pragma once

#include <string_view>

#include "util/result.hpp"

namespace kapsel {

// Sends `data` as one message with `fd` attached (none when fd < 0); retries on EINTR,
// never raises SIGPIPE. The error names only the call ("sendmsg"); callers add whose.
Status send_with_fd(int sock, std::string_view data, int fd);

}  // namespace kapsel
