// The channel between `kapsel create` and the container's init while it is being
// built: a SOCK_SEQPACKET pair, one message per step, optionally carrying an fd.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/fd.hpp"
#include "util/result.hpp"

namespace kapsel::linux {

enum class Msg : uint32_t {
    hello = 1,     // init -> parent: alive; payload: the init's pid when it is not the cloned child
    go,            // parent -> init: id maps written, cgroup joined, limits set
    error,         // init -> parent: payload is the error line; the init exits after it
    run_hooks,     // init -> parent: mounts done, run prestart/createRuntime hooks
    hooks_done,    // parent -> init: payload is the state JSON for createContainer/startContainer
                   // hooks
    seccomp_fd,    // init -> parent: the seccomp listener fd, for listenerPath
    seccomp_done,  // parent -> init
    ready,         // init -> parent: waiting for `start`
    need_maps,     // child -> parent: a user namespace was unshared; write its id maps
    maps_done,     // parent -> init
    bind_source,   // parent -> init, before go: payload the index in plan.mounts, fd an O_PATH
                   // of that bind's source opened in the init's mount namespace with the
                   // host's credentials (a user namespace may not reach it)
    procfs_fd,     // init/tenant -> parent: the listener of kapsel's procfs filter (sysinfo,
                   // sched_getaffinity), for the procfs service
    procfs_done,   // parent -> init/tenant: the service has it
};

struct Message {
    Msg type{};
    std::string payload;
    unique_fd fd;
};

Result<std::pair<unique_fd, unique_fd>> sync_pair();
Status send_msg(int sock, Msg type, std::string_view payload = {}, int fd = -1);
// Blocks until a message arrives; EOF (the peer died) is an error.
Result<Message> recv_msg(int sock);
// Blocks until a message arrives or the peer has closed its end: nullopt. The
// peer's end is O_CLOEXEC, so its successful execve is such an EOF.
Result<std::optional<Message>> recv_msg_or_eof(int sock);
// recv_msg, and an error unless the message is `expected` (an error message's text is returned as
// the error).
Result<Message> expect_msg(int sock, Msg expected);

}  // namespace kapsel::linux
