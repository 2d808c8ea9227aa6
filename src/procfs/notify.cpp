// The seccomp user-notification server of kapsel-procfs (see notify.hpp): the pure
// replies, the in-flight record that survives a crash, and the epoll loop.
#include "procfs/notify.hpp"

#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <utility>

#include "util/fd.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

namespace kapsel::procfs {

// ---- deciding ----

std::optional<Registration> parse_registration(std::string_view payload) {
    if (payload.size() > kMaxFeedPayload) return std::nullopt;
    size_t sp = payload.find(' ');
    if (sp == std::string_view::npos || sp == 0) return std::nullopt;
    std::string_view id = payload.substr(0, sp), number = payload.substr(sp + 1);
    for (char c : id)
        if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
            return std::nullopt;
    if (number.size() > 20) return std::nullopt;
    auto n = parse_uint(number);
    if (!n) return std::nullopt;
    return Registration{std::string(id), *n};
}

Call classify(const seccomp_data& d) {
    if (d.arch != seccomp_arch_native()) return Call::other;
    if (d.nr == __NR_sysinfo) return Call::sysinfo;
    // The kernel reads pid_t from the register's low 32 bits. Only pid 0 is known to be
    // the caller: its own tid as its pid namespace numbers it is not known here.
    if (d.nr == __NR_sched_getaffinity && static_cast<int32_t>(d.args[0]) == 0)
        return Call::affinity_of_caller;
    return Call::other;
}

Reply sysinfo_reply(const seccomp_data& d, const struct sysinfo& host, const Limits& l,
                    double container_age_s) {
    struct sysinfo info = sysinfo_for(host, l, container_age_s);
    Reply r{.continue_syscall = false, .val = 0, .error = 0, .write_at = d.args[0]};
    r.bytes.resize(sizeof info);
    std::memcpy(r.bytes.data(), &info, sizeof info);
    return r;
}

unsigned affinity_query_len(const seccomp_data& d) {
    return std::min(static_cast<uint32_t>(d.args[1]), kMaxAffinityBytes);
}

Reply affinity_reply(const seccomp_data& d, long real_rc, std::span<const uint8_t> real,
                     const Limits& l, const std::vector<unsigned>& host_online) {
    constexpr size_t kWord = sizeof(unsigned long);
    auto fail = [](int err) { return Reply{.continue_syscall = false, .error = -err}; };
    uint32_t len = static_cast<uint32_t>(d.args[1]);
    // The kernel's own checks, which the real call made for any len up to
    // kMaxAffinityBytes; a longer len was shortened for it, so check its alignment here.
    if (real_rc == -EINVAL || len % kWord != 0) return fail(EINVAL);
    if (real_rc <= 0) return Reply{};
    size_t n = static_cast<size_t>(real_rc);
    if (n > real.size() || n > len || n % kWord != 0) return Reply{};
    size_t want = visible_cpus(l, host_online).size();
    if (want == 0) return Reply{};

    std::vector<unsigned long> in(n / kWord), out(n / kWord, 0);
    std::memcpy(in.data(), real.data(), n);
    size_t kept = 0;
    for (size_t w = 0; w < in.size() && kept < want; ++w)
        for (size_t bit = 0; bit < kWord * CHAR_BIT && kept < want; ++bit)
            if (in[w] & (1UL << bit)) {
                out[w] |= 1UL << bit;
                ++kept;
            }
    Reply r{.continue_syscall = false,
            .val = static_cast<int64_t>(n),
            .error = 0,
            .write_at = d.args[2]};
    r.bytes.resize(n);
    std::memcpy(r.bytes.data(), out.data(), n);
    return r;
}

// ---- the in-flight record ----
//
// The keeper's memfd, mapped shared by each server in turn, holds an InflightPage: eight
// slots. Slot 0 is the notification the server is answering right now (empty between
// answers); slots 1..7 are ones a killed server left and this server has not yet been able
// to release because the feed has not given it their listener (yet). Each slot is a
// seqlock: its seq is odd while a writer is in the middle of it, so a slot whose writer
// was killed half-way is seen as torn and ignored (the writer only ever leaves a torn
// slot while replacing an entry that is answered or about to be recorded again, so
// nothing to release is lost beyond the few instructions between receiving and
// recording). An all-zero page is empty.
namespace {

constexpr size_t kSlots = 8;
constexpr uint64_t kPageSize = 4096;

struct InflightSlot {
    uint64_t seq;  // through std::atomic_ref only
    uint64_t registration;
    uint64_t notification;
    uint32_t used;
    uint32_t id_len;  // at most kMaxFeedPayload
    char id[kMaxFeedPayload];
};
struct InflightPage {
    InflightSlot slots[kSlots];
};
static_assert(sizeof(InflightPage) <= kPageSize);

void write_slot(InflightSlot& s, const std::optional<Inflight>& v) {
    std::atomic_ref<uint64_t> seq(s.seq);
    uint64_t q = seq.load(std::memory_order_relaxed);
    q += q & 1;  // a torn slot of a killed writer: start again from even
    seq.store(q + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    s.used = v ? 1 : 0;
    s.registration = v ? v->listener.number : 0;
    s.notification = v ? v->notification : 0;
    size_t n = v ? std::min(v->listener.container_id.size(), kMaxFeedPayload) : 0;
    s.id_len = static_cast<uint32_t>(n);
    if (n) std::memcpy(s.id, v->listener.container_id.data(), n);
    seq.store(q + 2, std::memory_order_release);
}

std::optional<Inflight> read_slot(InflightSlot& s) {
    std::atomic_ref<uint64_t> seq(s.seq);
    uint64_t q = seq.load(std::memory_order_acquire);
    if (q == 0 || (q & 1)) return std::nullopt;
    Inflight v;
    bool used = s.used != 0;
    uint32_t n = s.id_len;
    v.listener.number = s.registration;
    v.notification = s.notification;
    if (n > 0 && n <= kMaxFeedPayload) v.listener.container_id.assign(s.id, n);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (seq.load(std::memory_order_relaxed) != q) return std::nullopt;
    if (!used || v.listener.container_id.empty()) return std::nullopt;
    return v;
}

// The page, mapped; nullptr when the fd is not a memfd of at least a page (mapping past
// its end would raise SIGBUS on the first access).
class InflightMap {
  public:
    explicit InflightMap(int fd) {
        struct stat st;
        if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
            static_cast<uint64_t>(st.st_size) < kPageSize)
            return;
        // Best effort: a keeper's memfd made with MFD_ALLOW_SEALING can no longer shrink
        // under the mapping.
        ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK);
        void* p = ::mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) page_ = static_cast<InflightPage*>(p);
    }
    ~InflightMap() {
        if (page_) ::munmap(page_, kPageSize);
    }
    InflightMap(const InflightMap&) = delete;
    InflightMap& operator=(const InflightMap&) = delete;
    InflightPage* page() const { return page_; }

  private:
    InflightPage* page_ = nullptr;
};

std::vector<Inflight> read_page(InflightPage& page) {
    std::vector<Inflight> out;
    // Carried ones first (older), then the one a killed server was answering.
    for (size_t i : {1, 2, 3, 4, 5, 6, 7, 0})
        if (auto v = read_slot(page.slots[i]);
            v && std::find(out.begin(), out.end(), *v) == out.end())
            out.push_back(std::move(*v));
    return out;
}

// Slots 1..7 := `carried` (the newest seven when there are more).
void write_carried(InflightPage& page, const std::vector<Inflight>& carried) {
    size_t skip = carried.size() > kSlots - 1 ? carried.size() - (kSlots - 1) : 0;
    for (size_t i = 1; i < kSlots; ++i) {
        size_t k = skip + i - 1;
        write_slot(page.slots[i], k < carried.size() ? std::optional(carried[k]) : std::nullopt);
    }
}

}  // namespace

std::vector<Inflight> read_inflight(int inflight_fd) {
    InflightMap map(inflight_fd);
    return map.page() ? read_page(*map.page()) : std::vector<Inflight>{};
}

bool record_inflight(int inflight_fd, const Inflight& what) {
    InflightMap map(inflight_fd);
    if (!map.page()) return false;
    write_slot(map.page()->slots[0], what);
    return true;
}

// ---- doing ----

namespace {

constexpr size_t kMaxListeners = 65536;

bool is_seccomp_listener(int fd) {
    char link[64];
    std::string path = "/proc/self/fd/" + std::to_string(fd);
    ssize_t n = ::readlink(path.c_str(), link, sizeof link);
    return n > 0 && std::string_view(link, static_cast<size_t>(n)) == "anon_inode:seccomp notify";
}

// Whether the listener has a notification nobody received yet. After a poll that says so
// the receive cannot block: the kernel counts every notification it queued and takes one
// per receive, so the count covers the queued ones even when their callers went away.
// The poll is asked right before each receive because an epoll batch may be stale.
enum class Ready { no, yes, gone };
Ready listener_ready(int fd) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return Ready::no;
    if (p.revents & POLLIN) return Ready::yes;
    // POLLHUP: every process of the filter has exited.
    return (p.revents & (POLLHUP | POLLERR | POLLNVAL)) ? Ready::gone : Ready::no;
}

}  // namespace

struct NotifyServer::Impl {
    struct Listener {
        unique_fd fd;
        Registration reg;
    };

    Host& host;
    int feed;
    unique_fd stop_event;
    unique_fd epoll;
    InflightMap inflight;
    std::vector<Inflight> carried;
    std::map<int, Listener> listeners;  // by fd
    std::map<std::pair<std::string, uint64_t>, int> by_registration;
    // The kernel's sizes of the notification structures: a newer kernel's may be larger
    // than this build's headers say, and it writes its own size.
    size_t notif_size = sizeof(seccomp_notif), resp_size = sizeof(seccomp_notif_resp);
    std::string setup_error;

    Impl(Host& h, int feed_fd, int inflight_fd) : host(h), feed(feed_fd), inflight(inflight_fd) {
        stop_event.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
        if (!stop_event || !epoll) {
            setup_error = "procfs notify: cannot make its eventfd or epoll: " + errno_text(errno);
            return;
        }
        for (int fd : {feed, stop_event.get()}) {
            epoll_event ev{.events = EPOLLIN, .data = {.fd = fd}};
            if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
                setup_error = "procfs notify: cannot watch its feed: " + errno_text(errno);
                return;
            }
        }
        seccomp_notif_sizes sizes{};
        if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0) {
            notif_size = std::max<size_t>(notif_size, sizes.seccomp_notif);
            resp_size = std::max<size_t>(resp_size, sizes.seccomp_notif_resp);
        }
        // What a killed server left: held in slots 1..7 until the listeners come, and
        // slot 0 free for this server's own answers (dropped duplicates make a second
        // crash during this harmless).
        if (InflightPage* page = inflight.page()) {
            carried = read_page(*page);
            write_carried(*page, carried);
            write_slot(page->slots[0], std::nullopt);
        }
    }

    void drop(int fd) {
        auto it = listeners.find(fd);
        if (it == listeners.end()) return;
        ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
        by_registration.erase({it->second.reg.container_id, it->second.reg.number});
        listeners.erase(it);
    }

    void respond(int fd, uint64_t id, const Reply& r) {
        std::vector<uint64_t> buf((resp_size + 7) / 8, 0);
        auto* resp = reinterpret_cast<seccomp_notif_resp*>(buf.data());
        resp->id = id;
        if (r.continue_syscall) {
            resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        } else {
            resp->val = r.val;
            resp->error = r.error;
        }
        // ENOENT: the caller went away (killed, or a signal restarted its syscall).
        while (::ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, resp) != 0 && errno == EINTR) {
        }
    }

    void add(unique_fd fd, Registration reg) {
        if (!is_seccomp_listener(fd.get())) return;
        auto key = std::make_pair(reg.container_id, reg.number);
        if (by_registration.count(key)) return;  // the same listener twice: keep one
        if (listeners.size() >= kMaxListeners) {
            log::warn("kapsel-procfs: " + std::to_string(kMaxListeners) +
                      " seccomp listeners already; container " + reg.container_id +
                      " gets no answers for sysinfo and sched_getaffinity from this server");
            return;
        }
        epoll_event ev{.events = EPOLLIN, .data = {.fd = fd.get()}};
        if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) return;
        // A notification a killed server received and never answered: its caller waits
        // in the syscall until someone answers. Let the real syscall run.
        bool released = false;
        for (auto it = carried.begin(); it != carried.end();) {
            if (it->listener == reg) {
                respond(fd.get(), it->notification, Reply{});
                it = carried.erase(it);
                released = true;
            } else {
                ++it;
            }
        }
        if (released && inflight.page()) write_carried(*inflight.page(), carried);
        int raw = fd.get();
        by_registration[key] = raw;
        listeners[raw] = Listener{std::move(fd), std::move(reg)};
    }

    // One message of the feed; false when the feed has closed or failed.
    bool take_from_feed() {
        char text[kMaxFeedPayload + 1];
        iovec iov{text, sizeof text};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = control;
        m.msg_controllen = sizeof control;
        ssize_t n = ::recvmsg(feed, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return true;
            log::warn("kapsel-procfs: receive a seccomp listener: " + errno_text(errno));
            return false;
        }
        std::vector<unique_fd> fds;  // every fd that came, so that all are closed if dropped
        for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; ++i) {
                int fd;
                std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                fds.emplace_back(fd);
            }
        }
        if (n == 0 && fds.empty()) return false;  // the keeper closed the feed
        if ((m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || fds.size() != 1) return true;
        auto reg = parse_registration(std::string_view(text, static_cast<size_t>(n)));
        if (reg) add(std::move(fds[0]), std::move(*reg));
        return true;
    }

    // The reply for a received notification, or nullopt when its caller is gone.
    std::optional<Reply> answer(int listener_fd, const seccomp_notif& n) {
        Call call = classify(n.data);
        // pid 0: the caller is not in our pid namespace; nothing of it can be read.
        if (call == Call::other || n.pid == 0) return Reply{};
        pid_t pid = static_cast<pid_t>(n.pid);
        // Opened first, then the notification checked: if it is still pending, its caller
        // is still waiting in the syscall, so the pid was not reused between the receive
        // and the open and the fd is the caller's memory (it stays so when the caller dies
        // later). Writes through it are forced like ptrace's, so a read-only page of the
        // caller's own gets the answer where the kernel would say EFAULT; only the
        // caller's private copy is changed.
        std::string path = "/proc/" + std::to_string(pid) + "/mem";
        unique_fd mem(::open(path.c_str(), O_RDWR | O_CLOEXEC));
        uint64_t id = n.id;
        if (::ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) != 0) return std::nullopt;
        if (!mem) return Reply{};

        // Whatever cannot be read: the host's numbers (continue), never ENOSYS.
        auto limits = host.limits(pid);
        if (!limits) return Reply{};
        Reply r;
        if (call == Call::sysinfo) {
            struct sysinfo info {};
            auto age = host.age(pid);
            if (::sysinfo(&info) != 0 || !age) return Reply{};
            r = sysinfo_reply(n.data, info, *limits, *age);
        } else {
            auto text = host.read("/sys/devices/system/cpu/online");
            auto online = text ? parse_cpu_list(*text) : std::nullopt;
            if (!online) return Reply{};
            std::vector<uint8_t> mask(affinity_query_len(n.data));
            long rc = ::syscall(SYS_sched_getaffinity, pid, mask.size(), mask.data());
            if (rc < 0) rc = -errno;
            r = affinity_reply(n.data, rc, mask, *limits, *online);
        }
        // The kernel faults the caller's page in for us. A missing page under a
        // userfaultfd of the caller's fails the write at once (a remote access does not
        // wait for a handler), but one backed by a file system the container serves
        // itself (FUSE, where its devices include /dev/fuse) would hold this thread.
        if (!r.continue_syscall && !r.bytes.empty()) {
            ssize_t w =
                ::pwrite(mem.get(), r.bytes.data(), r.bytes.size(), static_cast<off_t>(r.write_at));
            if (w != static_cast<ssize_t>(r.bytes.size()))
                r = Reply{.continue_syscall = false, .error = -EFAULT};
        }
        return r;
    }

    void serve(int fd) {
        auto it = listeners.find(fd);
        if (it == listeners.end()) return;
        switch (listener_ready(fd)) {
            case Ready::no:
                return;
            case Ready::gone:
                drop(fd);
                return;
            case Ready::yes:
                break;
        }
        std::vector<uint64_t> buf((notif_size + 7) / 8, 0);  // the kernel wants it zeroed
        auto* n = reinterpret_cast<seccomp_notif*>(buf.data());
        if (::ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, n) != 0) {
            // ENOENT: the caller went away before we took it.
            if (errno != ENOENT && errno != EINTR) drop(fd);
            return;
        }
        InflightPage* page = inflight.page();
        if (page) write_slot(page->slots[0], Inflight{it->second.reg, n->id});
        if (auto r = answer(fd, *n)) respond(fd, n->id, *r);
        if (page) write_slot(page->slots[0], std::nullopt);
    }

    void run() {
        if (!setup_error.empty()) {
            log::warn(setup_error);
            return;
        }
        epoll_event events[64];
        while (true) {
            int n = ::epoll_wait(epoll.get(), events, 64, -1);
            if (n < 0) {
                if (errno == EINTR) continue;
                log::warn("kapsel-procfs: wait for seccomp notifications: " + errno_text(errno));
                return;
            }
            for (int i = 0; i < n; ++i) {
                int fd = events[i].data.fd;
                if (fd == stop_event.get()) return;
                if (fd == feed) {
                    if (!take_from_feed()) return;
                } else {
                    serve(fd);
                }
            }
        }
    }
};

NotifyServer::NotifyServer(Host& host, int feed_fd, int inflight_fd)
    : impl_(std::make_unique<Impl>(host, feed_fd, inflight_fd)) {}
NotifyServer::~NotifyServer() = default;

void NotifyServer::run() {
    impl_->run();
}

void NotifyServer::stop() {
    uint64_t one = 1;
    if (impl_->stop_event) (void)!::write(impl_->stop_event.get(), &one, sizeof one);
}

}  // namespace kapsel::procfs
