// One datagram with one fd (see fdpass.hpp).
#include "util/fdpass.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace kapsel {

Status send_with_fd(int sock, std::string_view data, int fd) {
    iovec iov{const_cast<char*>(data.data()), data.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (fd >= 0) {
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    while (::sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
        if (errno != EINTR) return sys_error("sendmsg");
    return {};
}

}  // namespace kapsel
