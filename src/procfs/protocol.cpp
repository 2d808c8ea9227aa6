// SOCK_SEQPACKET messages with one fd (see protocol.hpp).
#include "procfs/protocol.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "util/fdpass.hpp"

namespace kapsel::procfs {

Status send_with_fd(int sock, std::string_view text, int fd) {
    if (text.size() > kMaxMessage) return make_error("message longer than 512 bytes");
    // A datagram of length zero would read as a closed connection.
    static constexpr char nul = 0;
    return kapsel::send_with_fd(sock, text.empty() ? std::string_view(&nul, 1) : text, fd);
}

Result<std::string> recv_with_fd(int sock, unique_fd* fd) {
    char buf[kMaxMessage + 1];
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    // Room for a few fds, so that a peer sending more is seen (and its fds closed)
    // rather than having them truncated silently.
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)] = {};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    while ((n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0)
        if (errno != EINTR) return sys_error("receive");
    std::vector<unique_fd> fds;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
            int got;
            std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
            fds.emplace_back(got);
        }
    }
    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) return make_error("message too long");
    if (fds.size() > 1) return make_error("more than one fd in a message");
    if (fd && !fds.empty()) *fd = std::move(fds.front());
    std::string text(buf, static_cast<size_t>(n));
    if (text == std::string(1, '\0')) text.clear();
    if (n == 0) return std::string();
    return text;
}

}  // namespace kapsel::procfs
