// Parent <-> init messages.
#include "linux/sync.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "util/fdpass.hpp"

namespace kapsel::linux {

Result<std::pair<unique_fd, unique_fd>> sync_pair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return sys_error("socketpair");
    return std::make_pair(unique_fd(sv[0]), unique_fd(sv[1]));
}

Status send_msg(int sock, Msg type, std::string_view payload, int fd) {
    std::vector<char> buf(sizeof(uint32_t) + payload.size());
    auto t = static_cast<uint32_t>(type);
    std::memcpy(buf.data(), &t, sizeof t);
    if (!payload.empty()) std::memcpy(buf.data() + sizeof t, payload.data(), payload.size());
    // Without an fd, plain write(): after the seccomp filter is loaded this is the
    // only call the init needs to report, and every profile allows write.
    if (fd < 0) {
        while (::write(sock, buf.data(), buf.size()) < 0) {
            if (errno == EINTR) continue;
            return sys_error("send to container init");
        }
        return {};
    }
    if (auto st = send_with_fd(sock, {buf.data(), buf.size()}, fd); !st)
        return sys_error("send to container init", st.error().code);
    return {};
}

Result<Message> recv_msg(int sock) {
    auto m = KAPSEL_TRY(recv_msg_or_eof(sock));
    if (!m) return make_error("the container init exited unexpectedly");
    return std::move(*m);
}

Result<std::optional<Message>> recv_msg_or_eof(int sock) {
    std::vector<char> buf(1 << 16);
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    while ((n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0) {
        if (errno == EINTR) continue;
        return sys_error("receive from container init");
    }
    if (n == 0) return std::optional<Message>();
    if (static_cast<size_t>(n) < sizeof(uint32_t))
        return make_error("short message from container init");
    Message m;
    uint32_t t;
    std::memcpy(&t, buf.data(), sizeof t);
    m.type = static_cast<Msg>(t);
    m.payload.assign(buf.data() + sizeof t, static_cast<size_t>(n) - sizeof t);
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
            m.fd.reset(fd);
        }
    }
    return std::optional<Message>(std::move(m));
}

Result<Message> expect_msg(int sock, Msg expected) {
    Message m = KAPSEL_TRY(recv_msg(sock));
    if (m.type == Msg::error) return make_error(m.payload);
    if (m.type != expected)
        return make_error("unexpected message " + std::to_string(static_cast<uint32_t>(m.type)) +
                          " from container init");
    return m;
}

}  // namespace kapsel::linux
