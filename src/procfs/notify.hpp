// sysinfo(2) and sched_getaffinity(2) answered for the calling container (issue 14):
// the seccomp user-notification half of kapsel-procfs. A container's processes carry
// kapsel's small filter (linux/seccomp.hpp, load_procfs_filter) that sends these two
// calls to a listener; the keeper hands every listener to the server's NotifyServer,
// which writes the container's numbers into the caller and answers. Deciding (the
// reply from the facts) is pure and unit-tested; the server around it is thin.
#pragma once

#include <linux/seccomp.h>
#include <sys/sysinfo.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "procfs/answers.hpp"
#include "procfs/files.hpp"

namespace kapsel::procfs {

// A listener as the keeper names it on the feed: the payload "CONTAINER_ID NUMBER"
// (NUMBER: the keeper's count of registrations, so that two listeners of one container,
// its init's and an exec's, are told apart).
struct Registration {
    std::string container_id;
    uint64_t number = 0;
    bool operator==(const Registration&) const = default;
};
// No feed payload is longer; no container id either.
inline constexpr size_t kMaxFeedPayload = 256;
// nullopt unless the payload is exactly a non-empty id of printable characters without
// spaces, one space, and a decimal number, at most kMaxFeedPayload bytes in all.
std::optional<Registration> parse_registration(std::string_view payload);

// What one notification asks, as far as the server answers it. Only the native
// architecture's calls are answered: a compat call (i386 on x86_64) has another struct
// layout, and its own syscall numbers our filter does not send anyway.
enum class Call {
    sysinfo,
    affinity_of_caller,  // sched_getaffinity(0, ...)
    other,               // anything else: the real syscall runs (CONTINUE)
};
Call classify(const seccomp_data& d);

// The answer to one notification: continue (the real syscall runs and the caller sees the
// host's numbers), or a return value / error, optionally after writing `bytes` into the
// caller's memory at `write_at`.
struct Reply {
    bool continue_syscall = true;
    int64_t val = 0;
    int error = 0;  // a negative errno, or 0
    uint64_t write_at = 0;
    std::vector<uint8_t> bytes;
};

// The caller's sysinfo: the host's with the container's memory, swap and age, written
// to args[0]; returns 0.
Reply sysinfo_reply(const seccomp_data& d, const struct sysinfo& host, const Limits& l,
                    double container_age_s);

// No affinity answer is longer: more than the cpumask of any kernel (NR_CPUS <= 8192),
// so the kernel never writes more than this for a caller's longer buffer either.
inline constexpr unsigned kMaxAffinityBytes = 8192;
// The buffer length the server asks the kernel for the caller's real affinity with: the
// caller's own (so the kernel applies its checks: EINVAL when it is shorter than the
// kernel's CPU count or not a multiple of a long), at most kMaxAffinityBytes.
unsigned affinity_query_len(const seccomp_data& d);
// The caller's sched_getaffinity(0, len, mask): `real_rc` and `real` are what the kernel
// said for the caller's thread when asked with affinity_query_len (bytes written, or a
// negative errno). The answer keeps as many of the real affinity's CPUs, lowest first, as
// the container sees (visible_cpus); when the process has not narrowed its affinity
// itself those are exactly the visible ones, and when it has, it keeps CPUs it may run
// on. The return value is the kernel's: the bytes written, never more than the caller's
// len. An unexpected error of the real call: continue.
Reply affinity_reply(const seccomp_data& d, long real_rc, std::span<const uint8_t> real,
                     const Limits& l, const std::vector<unsigned>& host_online);

// Serves sysinfo and sched_getaffinity notifications of every listener it is given.
//
// Crash recovery: `inflight_fd` is the keeper's 4096-byte memfd (zero-filled when new),
// which outlives the server. Right after receiving a notification the server records
// which listener and which notification it is answering, and clears the record after
// answering. A new server reads the record and, once the feed gives it that listener,
// lets the notification's syscall run (CONTINUE): the killed server never answered it,
// and its caller would otherwise wait in the syscall forever. The layout is in
// notify.cpp (InflightPage).
class NotifyServer {
  public:
    // The fds stay the caller's. A bad inflight_fd only turns recovery off.
    NotifyServer(Host& host, int feed_fd, int inflight_fd);
    ~NotifyServer();
    NotifyServer(const NotifyServer&) = delete;
    NotifyServer& operator=(const NotifyServer&) = delete;

    // Runs until stop() (or the feed socket closes): receives listener fds from feed_fd
    // (SOCK_SEQPACKET; each message: one fd by SCM_RIGHTS + payload "CONTAINER_ID
    // NUMBER"; bad messages are dropped with their fds closed), and serves them.
    void run();
    // From any thread: run() returns soon after.
    void stop();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The record as a new server sees it (for the keeper's tests and the server's start):
// the notifications a killed server received and did not answer, oldest first.
struct Inflight {
    Registration listener;
    uint64_t notification = 0;
    bool operator==(const Inflight&) const = default;
};
std::vector<Inflight> read_inflight(int inflight_fd);
// Records `what` as being answered (what a server does right after receiving it); for a
// test that plays a server killed before its answer.
bool record_inflight(int inflight_fd, const Inflight& what);

}  // namespace kapsel::procfs
