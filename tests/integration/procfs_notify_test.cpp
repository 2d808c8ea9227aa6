// sysinfo(2) and sched_getaffinity(2) answered through seccomp user notification on the
// real kernel (issue 14): a NotifyServer runs in a thread of the test, fed by the test as
// the keeper feeds it; a child process moves itself into a cgroup of its own (256 MiB,
// one CPU), installs kapsel's procfs filter (the function a container's init uses) and
// hands its listener to the test, then asks the kernel. Children run with a timeout, so a
// notification nobody answers fails the test instead of stopping it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cgroups/layout.hpp"
#include "harness.hpp"
#include "limited_cgroups.hpp"
#include "linux/seccomp.hpp"
#include "procfs/files.hpp"
#include "procfs/notify.hpp"

namespace kapsel::test {
namespace {

using namespace std::chrono_literals;
constexpr uint64_t MiB = 1024 * 1024;

// What a child saw, one per round.
struct Report {
    int step_failed = 0;  // nonzero: the child's setup failed at this step
    int setup_errno = 0;
    int sysinfo_rc = 0, sysinfo_errno = 0;
    uint64_t total_ram = 0;  // totalram * mem_unit
    uint64_t uptime = 0;
    int affinity_rc = 0, affinity_errno = 0;
    int cpus = 0;
};

struct ChildOptions {
    const LimitedCgroups* cgroups = nullptr;  // null: stays in the test's cgroups
    bool profile_forbids_sysinfo = false;     // a profile filter with ERRNO(EPERM) for sysinfo
    int rounds = 1;                           // each round after the first waits for a byte
    // Where sysinfo is asked to write in the first round: a valid buffer, an address with
    // nothing mapped, or a page under a userfaultfd nobody serves.
    enum class Buffer { valid, unmapped, userfault } buffer = Buffer::valid;
};

// The child: its listener goes to the test over `control` (as a container's init sends it
// to kapsel, which registers it with the keeper); its reports come back over a pipe.
class Child {
  public:
    explicit Child(const ChildOptions& o) {
        int sv[2], rp[2], gp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0 ||
            pipe2(rp, O_CLOEXEC) || pipe2(gp, O_CLOEXEC))
            return;
        pid_ = fork();
        if (pid_ == 0) {
            close(sv[0]);
            close(rp[0]);
            close(gp[1]);
            run(o, sv[1], rp[1], gp[0]);
        }
        close(sv[1]);
        close(rp[1]);
        close(gp[0]);
        control_.reset(sv[0]);
        reports_.reset(rp[0]);
        go_.reset(gp[1]);
    }
    ~Child() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    // The child's listener, as the keeper keeps it; invalid if none came within 10 s.
    unique_fd listener() {
        pollfd p{control_.get(), POLLIN, 0};
        if (poll(&p, 1, 10000) != 1) return {};
        char byte;
        iovec iov{&byte, 1};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = control;
        m.msg_controllen = sizeof control;
        if (recvmsg(control_.get(), &m, MSG_CMSG_CLOEXEC) <= 0) return {};
        cmsghdr* c = CMSG_FIRSTHDR(&m);
        if (!c || c->cmsg_type != SCM_RIGHTS) return {};
        int fd;
        std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
        return unique_fd(fd);
    }
    // The next round's report; nullopt if none came within `timeout` (a hang).
    std::optional<Report> report(std::chrono::milliseconds timeout = 10s) {
        pollfd p{reports_.get(), POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
        Report r;
        if (read(reports_.get(), &r, sizeof r) != sizeof r) return std::nullopt;
        return r;
    }
    void next_round() { (void)!write(go_.get(), "x", 1); }
    pid_t pid() const { return pid_; }

  private:
    [[noreturn]] static void run(const ChildOptions& o, int control, int reports, int go) {
        Report r;
        auto fail = [&](int step) {
            r.step_failed = step;
            r.setup_errno = errno;
            (void)!write(reports, &r, sizeof r);
            _exit(1);
        };
        if (o.cgroups && !o.cgroups->enter()) fail(1);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(2);
        auto listener = linux::load_procfs_filter();
        if (!listener) {
            errno = listener.error().code;
            fail(3);
        }
        if (o.profile_forbids_sysinfo) {
            plan::Seccomp profile;
            profile.default_action = plan::SeccompAction::allow;
            profile.rules.push_back({.names = {"sysinfo"},
                                     .action = plan::SeccompAction::errno_ret,
                                     .errno_ret = EPERM});
            auto prog = linux::compile_seccomp(profile);
            if (!prog) fail(4);
            if (!linux::load_seccomp(*prog)) fail(5);
        }
        char byte = 'l';
        iovec iov{&byte, 1};
        alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = cbuf;
        m.msg_controllen = sizeof cbuf;
        cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        int fd = listener->get();
        std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
        if (sendmsg(control, &m, 0) != 1) fail(6);
        listener->reset();

        struct sysinfo* first = nullptr;
        if (o.buffer == ChildOptions::Buffer::unmapped) {
            first = reinterpret_cast<struct sysinfo*>(0x10);
        } else if (o.buffer == ChildOptions::Buffer::userfault) {
            void* page =
                mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            int uffd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC));
            uffdio_api api{.api = UFFD_API, .features = 0, .ioctls = 0};
            uffdio_register reg{};
            reg.range = {reinterpret_cast<uint64_t>(page), 4096};
            reg.mode = UFFDIO_REGISTER_MODE_MISSING;
            if (page == MAP_FAILED || uffd < 0 || ioctl(uffd, UFFDIO_API, &api) != 0 ||
                ioctl(uffd, UFFDIO_REGISTER, &reg) != 0)
                fail(7);
            first = static_cast<struct sysinfo*>(page);
        }

        for (int round = 0; round < o.rounds; ++round) {
            if (round > 0 && read(go, &byte, 1) != 1) _exit(1);
            Report out;
            struct sysinfo info {};
            out.sysinfo_rc = sysinfo(round == 0 && first ? first : &info);
            out.sysinfo_errno = out.sysinfo_rc ? errno : 0;
            out.total_ram = uint64_t(info.totalram) * info.mem_unit;
            out.uptime = static_cast<uint64_t>(info.uptime);
            cpu_set_t set;
            CPU_ZERO(&set);
            out.affinity_rc = static_cast<int>(syscall(SYS_sched_getaffinity, 0, sizeof set, &set));
            out.affinity_errno = out.affinity_rc < 0 ? errno : 0;
            out.cpus = CPU_COUNT(&set);
            if (write(reports, &out, sizeof out) != sizeof out) _exit(1);
        }
        _exit(0);
    }

    pid_t pid_ = -1;
    unique_fd control_, reports_, go_;
};

// A NotifyServer on a thread, fed over a socketpair as the keeper feeds it.
class Server {
  public:
    Server(procfs::Host& host, int inflight_fd) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return;
        feed_.reset(sv[0]);
        server_end_.reset(sv[1]);
        server_ = std::make_unique<procfs::NotifyServer>(host, server_end_.get(), inflight_fd);
        thread_ = std::thread([this] { server_->run(); });
    }
    ~Server() { stop(); }
    void stop() {
        if (!thread_.joinable()) return;
        server_->stop();
        thread_.join();
    }
    // What the keeper sends for each listener it keeps: a copy of the fd and its name.
    bool give(int listener, const std::string& payload) {
        char text[256];
        std::memcpy(text, payload.data(), payload.size());
        iovec iov{text, payload.size()};
        alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = cbuf;
        m.msg_controllen = sizeof cbuf;
        cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &listener, sizeof listener);
        return sendmsg(feed_.get(), &m, 0) == static_cast<ssize_t>(payload.size());
    }
    int feed() const { return feed_.get(); }

  private:
    unique_fd feed_, server_end_;
    std::unique_ptr<procfs::NotifyServer> server_;
    std::thread thread_;
};

unique_fd inflight_memfd() {
    unique_fd fd(memfd_create("kapsel-procfs-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (fd && ftruncate(fd.get(), 4096) != 0) fd.reset();
    return fd;
}

// The server's view of this host, as kapsel-procfs makes it.
std::unique_ptr<procfs::SystemHost> system_host() {
    auto layout = cgroups::detect();
    if (!layout) return nullptr;
    return std::make_unique<procfs::SystemHost>(*layout);
}

uint64_t host_total_ram() {
    struct sysinfo info {};
    sysinfo(&info);
    return uint64_t(info.totalram) * info.mem_unit;
}

#define EXPECT_SET_UP(r)                                                               \
    ASSERT_TRUE(r) << "no report within the timeout: a notification was not answered"; \
    ASSERT_EQ(0, (r)->step_failed)                                                     \
        << "child setup step " << (r)->step_failed << ": " << strerror((r)->setup_errno)

TEST(ProcfsNotify, ALimitedProcessSeesItsMemoryInSysinfoAndItsCpuInItsAffinity) {
    REQUIRE_ROOT();
    LimitedCgroups cg("kapsel-test-notify-");
    ASSERT_EQ("", cg.error());
    auto host = system_host();
    ASSERT_TRUE(host);
    unique_fd inflight = inflight_memfd();
    // The children first: they must not fork from a process with a server thread.
    Child limited({.cgroups = &cg});
    Child free_child({});
    unique_fd l1 = limited.listener(), l2 = free_child.listener();
    ASSERT_TRUE(l1 && l2);

    Server server(*host, inflight.get());
    ASSERT_TRUE(server.give(l1.get(), "limited 1"));
    ASSERT_TRUE(server.give(l2.get(), "free 2"));

    auto r = limited.report();
    EXPECT_SET_UP(r);
    EXPECT_EQ(0, r->sysinfo_rc) << strerror(r->sysinfo_errno);
    EXPECT_EQ(256 * MiB, r->total_ram);
    EXPECT_LT(r->uptime, 60u) << "the caller's age, not the host's uptime";
    EXPECT_GT(r->affinity_rc, 0) << strerror(r->affinity_errno);
    EXPECT_EQ(1, r->cpus) << "a quota of one CPU";

    auto f = free_child.report();
    EXPECT_SET_UP(f);
    EXPECT_EQ(0, f->sysinfo_rc);
    EXPECT_EQ(host_total_ram(), f->total_ram) << "the test's own cgroup has no limit here";
    cpu_set_t own;
    ASSERT_EQ(0, sched_getaffinity(0, sizeof own, &own));
    EXPECT_EQ(CPU_COUNT(&own), f->cpus);
}

TEST(ProcfsNotify, AProfileThatForbidsSysinfoStillDoes) {
    REQUIRE_ROOT();
    LimitedCgroups cg("kapsel-test-notify-");
    ASSERT_EQ("", cg.error());
    auto host = system_host();
    ASSERT_TRUE(host);
    unique_fd inflight = inflight_memfd();
    Child child({.cgroups = &cg, .profile_forbids_sysinfo = true});
    unique_fd l = child.listener();
    ASSERT_TRUE(l);
    Server server(*host, inflight.get());
    ASSERT_TRUE(server.give(l.get(), "c 1"));

    auto r = child.report();
    EXPECT_SET_UP(r);
    EXPECT_EQ(-1, r->sysinfo_rc);
    EXPECT_EQ(EPERM, r->sysinfo_errno) << "the profile's ERRNO wins over kapsel's USER_NOTIF";
    EXPECT_GT(r->affinity_rc, 0) << strerror(r->affinity_errno);
    EXPECT_EQ(1, r->cpus) << "what the profile allows is still answered";
}

TEST(ProcfsNotify, ARestartedServerGivenTheSameListenersKeepsAnswering) {
    REQUIRE_ROOT();
    LimitedCgroups cg("kapsel-test-notify-");
    ASSERT_EQ("", cg.error());
    auto host = system_host();
    ASSERT_TRUE(host);
    unique_fd inflight = inflight_memfd();
    Child child({.cgroups = &cg, .rounds = 2});
    unique_fd l = child.listener();
    ASSERT_TRUE(l);
    {
        Server first(*host, inflight.get());
        ASSERT_TRUE(first.give(l.get(), "c 1"));
        auto r = child.report();
        EXPECT_SET_UP(r);
        EXPECT_EQ(256 * MiB, r->total_ram);
    }
    // The first server is gone (its copy of the listener closed); the keeper's copy lives.
    Server second(*host, inflight.get());
    ASSERT_TRUE(second.give(l.get(), "c 1"));
    child.next_round();
    auto r = child.report();
    ASSERT_TRUE(r) << "no answer from the restarted server";
    EXPECT_EQ(0, r->sysinfo_rc);
    EXPECT_EQ(256 * MiB, r->total_ram);
    EXPECT_EQ(1, r->cpus);
}

TEST(ProcfsNotify, ACallReceivedByAServerThatDiedBeforeAnsweringReturns) {
    REQUIRE_ROOT();
    LimitedCgroups cg("kapsel-test-notify-");
    ASSERT_EQ("", cg.error());
    auto host = system_host();
    ASSERT_TRUE(host);
    unique_fd inflight = inflight_memfd();
    Child child({.cgroups = &cg});
    unique_fd l = child.listener();
    ASSERT_TRUE(l);

    // Play the server that dies: receive the child's sysinfo, record it, never answer.
    pollfd p{l.get(), POLLIN, 0};
    ASSERT_EQ(1, poll(&p, 1, 10000)) << "the child's sysinfo did not arrive";
    std::vector<uint64_t> buf(64, 0);
    auto* n = reinterpret_cast<seccomp_notif*>(buf.data());
    ASSERT_EQ(0, ioctl(l.get(), SECCOMP_IOCTL_NOTIF_RECV, n)) << strerror(errno);
    EXPECT_EQ(__NR_sysinfo, n->data.nr);
    ASSERT_TRUE(procfs::record_inflight(inflight.get(), {{"c", 1}, n->id}));
    EXPECT_FALSE(child.report(300ms)) << "nobody has answered yet";

    Server next(*host, inflight.get());
    ASSERT_TRUE(next.give(l.get(), "c 1"));
    auto r = child.report();
    EXPECT_SET_UP(r);
    // The new server cannot know what the caller had asked: the real syscall ran.
    EXPECT_EQ(0, r->sysinfo_rc);
    EXPECT_EQ(host_total_ram(), r->total_ram);
    EXPECT_EQ(1, r->cpus) << "the calls after it are answered";
    next.stop();  // it releases the record right after answering
    EXPECT_TRUE(procfs::read_inflight(inflight.get()).empty()) << "the record is released";
}

TEST(ProcfsNotify, ABadPointerGetsEfaultAndTheServerGoesOn) {
    REQUIRE_ROOT();
    auto host = system_host();
    ASSERT_TRUE(host);
    unique_fd inflight = inflight_memfd();
    Child unmapped({.buffer = ChildOptions::Buffer::unmapped});
    // A page whose fault nobody serves: were the server's write to wait for it, every
    // container's sysinfo would wait with it.
    Child userfault({.buffer = ChildOptions::Buffer::userfault});
    Child after({});
    unique_fd l1 = unmapped.listener(), l2 = userfault.listener(), l3 = after.listener();
    ASSERT_TRUE(l1 && l2 && l3);
    Server server(*host, inflight.get());
    ASSERT_TRUE(server.give(l1.get(), "unmapped 1"));
    auto r = unmapped.report();
    EXPECT_SET_UP(r);
    EXPECT_EQ(-1, r->sysinfo_rc);
    EXPECT_EQ(EFAULT, r->sysinfo_errno);

    ASSERT_TRUE(server.give(l2.get(), "userfault 2"));
    r = userfault.report();
    EXPECT_SET_UP(r);
    EXPECT_EQ(-1, r->sysinfo_rc);
    EXPECT_EQ(EFAULT, r->sysinfo_errno);

    ASSERT_TRUE(server.give(l3.get(), "after 3"));
    r = after.report();
    EXPECT_SET_UP(r);
    EXPECT_EQ(0, r->sysinfo_rc) << "the server still answers";
}

TEST(ProcfsNotify, BadFeedMessagesAreDroppedAndTheServerGoesOn) {
    REQUIRE_ROOT();
    auto host = system_host();
    ASSERT_TRUE(host);
    unique_fd inflight = inflight_memfd();
    Child child({});
    unique_fd l = child.listener();
    ASSERT_TRUE(l);
    Server server(*host, inflight.get());
    // A listener with a payload that is no registration, a pipe instead of a listener,
    // a message without an fd: none of them is served, nor stops the server.
    int pipefd[2];
    ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
    unique_fd pr(pipefd[0]), pw(pipefd[1]);
    ASSERT_TRUE(server.give(l.get(), "no-number"));
    ASSERT_TRUE(server.give(pr.get(), "pipe 1"));
    ASSERT_EQ(3, send(server.feed(), "x 1", 3, 0));
    std::string huge(300, 'a');
    EXPECT_TRUE(server.give(l.get(), huge.substr(0, 250) + " 1x"));
    EXPECT_FALSE(child.report(300ms)) << "the listener with a bad name is not served";
    ASSERT_TRUE(server.give(l.get(), "c 1"));
    auto r = child.report();
    EXPECT_SET_UP(r);
    EXPECT_EQ(0, r->sysinfo_rc);
}

// The same through kapsel: a container with the procfs on and 256 MiB and one CPU.
class ProcfsNotifyContainer : public KapselTest {
  protected:
    static void limit(Bundle& b) {
        b.config["annotations"]["run.kapsel.procfs"] = "true";
        b.config["linux"]["resources"]["memory"]["limit"] = 268435456;
        b.config["linux"]["resources"]["cpu"] = {{"quota", 100000}, {"period", 100000}};
    }
};

// "Mem:  256  1  254 ..." -> "256"
std::string free_total(const std::string& free_m) {
    size_t at = free_m.find("Mem:");
    if (at == std::string::npos) return "";
    size_t start = free_m.find_first_not_of(' ', at + 4);
    size_t end = free_m.find(' ', start);
    return start == std::string::npos ? "" : free_m.substr(start, end - start);
}

TEST_F(ProcfsNotifyContainer, FreeAndNprocTellTheContainersLimitsInItsInitAndInAnExec) {
    REQUIRE_ROOT();
    REQUIRE_PATH("/dev/fuse", "needs FUSE");
    // busybox free asks sysinfo(2), nproc sched_getaffinity(2): neither reads /proc.
    Bundle b("free -m; nproc");
    limit(b);
    Output o = run(b);
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_EQ("256", free_total(o.out)) << o.out;
    EXPECT_EQ("1\n", o.out.substr(o.out.rfind('\n', o.out.size() - 2) + 1)) << o.out;

    b.set_script("sleep 60");
    b.write();
    ASSERT_EQ(0, kapsel({"run", "-d", "-b", b.dir(), "c2"}).code);
    Output e = kapsel({"exec", "c2", "sh", "-c", "free -m; nproc"}, "", 20000);
    ASSERT_EQ(0, e.code) << e.err;
    EXPECT_EQ("256", free_total(e.out)) << e.out;
    EXPECT_EQ("1\n", e.out.substr(e.out.rfind('\n', e.out.size() - 2) + 1)) << e.out;
    kapsel({"delete", "-f", "c2"});
}

TEST_F(ProcfsNotifyContainer, AProfileThatForbidsSysinfoStillDoes) {
    REQUIRE_ROOT();
    REQUIRE_PATH("/dev/fuse", "needs FUSE");
    std::string probe = KAPSEL_TEST_SYSCALL_PROBE;
    Bundle b("/home/" + probe.substr(probe.rfind('/') + 1) + " sysinfo; nproc");
    limit(b);
    // Over the fixture's /home, which exists: a new mount point would change the shared rootfs.
    b.config["mounts"].push_back({{"destination", "/home"},
                                  {"type", "bind"},
                                  {"source", probe.substr(0, probe.rfind('/'))},
                                  {"options", {"bind", "ro"}}});
    b.config["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"syscalls", json::array({{{"names", {"sysinfo"}}, {"action", "SCMP_ACT_ERRNO"}}})}};
    Output o = run(b);
    ASSERT_EQ(0, o.code) << o.err;
    EXPECT_EQ("sysinfo EPERM\n1\n", o.out) << "the profile's ERRNO wins over kapsel's filter, "
                                              "which still answers what the profile allows";
}

}  // namespace
}  // namespace kapsel::test
