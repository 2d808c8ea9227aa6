// What kapsel-procfs answers to sysinfo(2) and sched_getaffinity(2) through seccomp
// user notification (procfs/notify.hpp), decided without a kernel; and the feed's
// payloads it accepts.
#include <gtest/gtest.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "linux/seccomp.hpp"
#include "procfs/notify.hpp"

namespace kapsel::procfs {
namespace {

constexpr uint64_t MiB = 1024 * 1024;

seccomp_data call(int nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0) {
    seccomp_data d{};
    d.nr = nr;
    d.arch = seccomp_arch_native();
    d.args[0] = a0;
    d.args[1] = a1;
    d.args[2] = a2;
    return d;
}

struct sysinfo host_sysinfo() {
    struct sysinfo s {};
    s.uptime = 100000;
    s.loads[0] = 12345;
    s.totalram = 16 * 1024 * MiB / 4096;
    s.freeram = 8 * 1024 * MiB / 4096;
    s.totalswap = 0;
    s.procs = 321;
    s.mem_unit = 4096;
    return s;
}

struct sysinfo written(const Reply& r) {
    struct sysinfo out {};
    EXPECT_EQ(sizeof out, r.bytes.size());
    if (r.bytes.size() == sizeof out) std::memcpy(&out, r.bytes.data(), sizeof out);
    return out;
}

TEST(ProcfsNotifyReplies, OnlyTheNativeSysinfoAndTheCallersOwnAffinityAreAnswered) {
    EXPECT_EQ(Call::sysinfo, classify(call(__NR_sysinfo, 0x1000)));
    EXPECT_EQ(Call::affinity_of_caller, classify(call(__NR_sched_getaffinity, 0, 128, 0x1000)));
    // The kernel reads a pid_t: the upper half of the register does not make it another pid.
    EXPECT_EQ(Call::affinity_of_caller,
              classify(call(__NR_sched_getaffinity, 0xffffffff00000000ull, 128, 0x1000)));
    EXPECT_EQ(Call::other, classify(call(__NR_sched_getaffinity, 42, 128, 0x1000)))
        << "another thread or process: the real syscall runs";
    EXPECT_EQ(Call::other, classify(call(__NR_getpid)));
    seccomp_data compat = call(__NR_sysinfo, 0x1000);
    compat.arch = 0x40000003;  // AUDIT_ARCH_I386: another struct layout
    EXPECT_EQ(Call::other, classify(compat));
}

TEST(ProcfsNotifyReplies, SysinfoTellsTheContainersMemoryAndAgeAtTheCallersPointer) {
    Limits l;
    l.memory_limit = 256 * MiB;
    l.memory_usage = 56 * MiB;
    Reply r = sysinfo_reply(call(__NR_sysinfo, 0x7ffd1000), host_sysinfo(), l, 42.7);
    EXPECT_FALSE(r.continue_syscall);
    EXPECT_EQ(0, r.val);
    EXPECT_EQ(0, r.error);
    EXPECT_EQ(0x7ffd1000u, r.write_at);
    struct sysinfo s = written(r);
    EXPECT_EQ(256 * MiB, uint64_t(s.totalram) * s.mem_unit);
    EXPECT_EQ(200 * MiB, uint64_t(s.freeram) * s.mem_unit);
    EXPECT_EQ(42, s.uptime);
    EXPECT_EQ(321, s.procs) << "the host's process count";
    EXPECT_EQ(12345u, s.loads[0]) << "the host's loads";
}

TEST(ProcfsNotifyReplies, SysinfoWithoutAMemoryLimitTellsTheHostsMemory) {
    Reply r = sysinfo_reply(call(__NR_sysinfo, 0x1000), host_sysinfo(), Limits{}, 3);
    struct sysinfo s = written(r);
    EXPECT_EQ(host_sysinfo().totalram, s.totalram);
    EXPECT_EQ(host_sysinfo().freeram, s.freeram);
    EXPECT_EQ(3, s.uptime) << "the container's age all the same";
}

std::vector<uint8_t> mask_of(std::initializer_list<unsigned> cpus, size_t bytes) {
    std::vector<unsigned long> words(bytes / sizeof(unsigned long), 0);
    for (unsigned c : cpus)
        words[c / (8 * sizeof(unsigned long))] |= 1UL << (c % (8 * sizeof(unsigned long)));
    std::vector<uint8_t> out(bytes);
    std::memcpy(out.data(), words.data(), bytes);
    return out;
}

TEST(ProcfsNotifyReplies, AffinityKeepsAsManyCpusAsTheQuotaAllows) {
    Limits l;
    l.cpu_quota = 1.0;
    auto real = mask_of({0, 1, 2, 3}, 8);
    Reply r =
        affinity_reply(call(__NR_sched_getaffinity, 0, 128, 0x5000), 8, real, l, {0, 1, 2, 3});
    EXPECT_FALSE(r.continue_syscall);
    EXPECT_EQ(8, r.val) << "the bytes the kernel wrote";
    EXPECT_EQ(0x5000u, r.write_at);
    EXPECT_EQ(mask_of({0}, 8), r.bytes);

    l.cpu_quota = 2.5;
    r = affinity_reply(call(__NR_sched_getaffinity, 0, 8, 0x5000), 8, real, l, {0, 1, 2, 3});
    EXPECT_EQ(mask_of({0, 1, 2}, 8), r.bytes) << "ceil(2.5)";
}

TEST(ProcfsNotifyReplies, AffinityIsTheCpusetsWhenItIsNarrowerThanTheQuota) {
    Limits l;
    l.cpuset = {2, 3};
    l.cpu_quota = 4.0;
    // The kernel already keeps the process's affinity within its cpuset.
    auto real = mask_of({2, 3}, 8);
    Reply r = affinity_reply(call(__NR_sched_getaffinity, 0, 8, 0x5000), 8, real, l, {0, 1, 2, 3});
    EXPECT_EQ(mask_of({2, 3}, 8), r.bytes);
}

TEST(ProcfsNotifyReplies, AffinityOfAProcessThatNarrowedItselfKeepsCpusItMayRunOn) {
    Limits l;
    l.cpu_quota = 1.0;            // the container sees CPU 0
    auto real = mask_of({3}, 8);  // taskset -c 3
    Reply r = affinity_reply(call(__NR_sched_getaffinity, 0, 8, 0x5000), 8, real, l, {0, 1, 2, 3});
    EXPECT_EQ(mask_of({3}, 8), r.bytes) << "never an empty mask";
}

TEST(ProcfsNotifyReplies, AffinityWithoutLimitsIsTheRealOne) {
    auto real = mask_of({0, 1, 5, 70}, 16);
    Reply r = affinity_reply(call(__NR_sched_getaffinity, 0, 4096, 0x5000), 16, real, Limits{},
                             {0, 1, 2, 3, 4, 5, 70});
    EXPECT_EQ(16, r.val);
    EXPECT_EQ(real, r.bytes);
}

TEST(ProcfsNotifyReplies, AffinityLengthsAreCheckedAsTheKernelDoes) {
    Limits l;
    l.cpu_quota = 1.0;
    auto real = mask_of({0, 1}, 8);
    // Too short for the kernel's CPUs: the real call said EINVAL.
    Reply r = affinity_reply(call(__NR_sched_getaffinity, 0, 0, 0x5000), -EINVAL, {}, l, {0, 1});
    EXPECT_FALSE(r.continue_syscall);
    EXPECT_EQ(-EINVAL, r.error);
    EXPECT_TRUE(r.bytes.empty());
    // Longer than the server asks with, and not a multiple of a long.
    r = affinity_reply(call(__NR_sched_getaffinity, 0, kMaxAffinityBytes + 3, 0x5000), 8, real, l,
                       {0, 1});
    EXPECT_EQ(-EINVAL, r.error);
    // A huge buffer: the server asks with a bounded one and writes what the kernel wrote.
    EXPECT_EQ(kMaxAffinityBytes, affinity_query_len(call(__NR_sched_getaffinity, 0, 1u << 30, 0)));
    EXPECT_EQ(64u, affinity_query_len(call(__NR_sched_getaffinity, 0, 64, 0)));
    EXPECT_EQ(16u, affinity_query_len(call(__NR_sched_getaffinity, 0, (1ull << 40) | 16, 0)))
        << "only the low 32 bits are the length";
}

TEST(ProcfsNotifyReplies, AffinityNeverWritesMoreThanTheCallersLength) {
    Limits l;
    l.cpu_quota = 1.0;
    auto real = mask_of({0, 1}, 16);
    // A real answer longer than the caller's buffer cannot be: the host's numbers then.
    Reply r = affinity_reply(call(__NR_sched_getaffinity, 0, 8, 0x5000), 16, real, l, {0, 1});
    EXPECT_TRUE(r.continue_syscall);
    EXPECT_TRUE(r.bytes.empty());
    // Nor longer than the bytes there are.
    r = affinity_reply(call(__NR_sched_getaffinity, 0, 64, 0x5000), 32, real, l, {0, 1});
    EXPECT_TRUE(r.continue_syscall);
}

TEST(ProcfsNotifyReplies, AnUnexpectedErrorOfTheRealCallLetsTheSyscallRun) {
    Reply r = affinity_reply(call(__NR_sched_getaffinity, 0, 8, 0x5000), -ESRCH, {}, Limits{}, {0});
    EXPECT_TRUE(r.continue_syscall);
}

TEST(ProcfsNotifyReplies, FeedPayloadsAreAContainerIdAndARegistrationNumber) {
    auto r = parse_registration("web-1 42");
    ASSERT_TRUE(r);
    EXPECT_EQ("web-1", r->container_id);
    EXPECT_EQ(42u, r->number);
    EXPECT_TRUE(parse_registration("c 18446744073709551615"));
    for (std::string_view bad : std::initializer_list<std::string_view>{
             "", "c", "c ", " 1", "c 1 2", "c  1", "c -1", "c 1x", "c\t1", "c 18446744073709551616",
             std::string_view("c\0d 1", 5), "c\n 1", "ü 1"})
        EXPECT_FALSE(parse_registration(bad)) << "\"" << bad << "\"";
    std::string longest(kMaxFeedPayload - 2, 'a');
    EXPECT_TRUE(parse_registration(longest + " 1"));
    EXPECT_FALSE(parse_registration(longest + "a 1")) << "longer than " << kMaxFeedPayload;
}

TEST(ProcfsNotifyReplies, TheInflightRecordKeepsWhatAKilledServerDidNotAnswer) {
    int fd = memfd_create("inflight", MFD_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(0, ftruncate(fd, 4096));
    EXPECT_TRUE(read_inflight(fd).empty()) << "a zero-filled page is empty";
    Inflight what{{"c1", 7}, 0x1234567890ull};
    ASSERT_TRUE(record_inflight(fd, what));
    EXPECT_EQ(std::vector<Inflight>{what}, read_inflight(fd));

    // A writer killed half-way leaves an odd sequence number: the slot is ignored.
    uint64_t seq = 0;
    ASSERT_EQ(8, pread(fd, &seq, 8, 0));
    seq |= 1;
    ASSERT_EQ(8, pwrite(fd, &seq, 8, 0));
    EXPECT_TRUE(read_inflight(fd).empty());
    close(fd);

    int small = memfd_create("inflight", MFD_CLOEXEC);
    ASSERT_EQ(0, ftruncate(small, 100));
    EXPECT_FALSE(record_inflight(small, what)) << "shorter than a page: not mapped (SIGBUS)";
    EXPECT_TRUE(read_inflight(small).empty());
    close(small);
}

TEST(ProcfsNotifyReplies, TheProcfsFilterSendsOnlySysinfoAndSchedGetaffinity) {
    linux::SeccompProgram p = linux::procfs_filter();
    EXPECT_TRUE(p.notify);
    EXPECT_TRUE(p.flags & SECCOMP_FILTER_FLAG_NEW_LISTENER);
    // Run the program on a few calls with a tiny interpreter of the instructions it uses.
    auto run = [&](const seccomp_data& d) -> uint32_t {
        uint32_t acc = 0;
        for (size_t pc = 0; pc < p.filter.size(); ++pc) {
            const sock_filter& ins = p.filter[pc];
            switch (ins.code) {
                case BPF_LD | BPF_W | BPF_ABS:
                    std::memcpy(&acc, reinterpret_cast<const char*>(&d) + ins.k, 4);
                    break;
                case BPF_JMP | BPF_JEQ | BPF_K:
                    pc += acc == ins.k ? ins.jt : ins.jf;
                    break;
                case BPF_RET | BPF_K:
                    return ins.k;
                default:
                    ADD_FAILURE() << "unexpected instruction " << ins.code;
                    return 0;
            }
        }
        ADD_FAILURE() << "fell off the end";
        return 0;
    };
    EXPECT_EQ(uint32_t(SECCOMP_RET_USER_NOTIF), run(call(__NR_sysinfo, 0x1000)));
    EXPECT_EQ(uint32_t(SECCOMP_RET_USER_NOTIF), run(call(__NR_sched_getaffinity, 0, 8, 0x1000)));
    EXPECT_EQ(uint32_t(SECCOMP_RET_ALLOW), run(call(__NR_getpid)));
    EXPECT_EQ(uint32_t(SECCOMP_RET_ALLOW), run(call(__NR_sched_setaffinity, 0, 8, 0x1000)));
    seccomp_data compat = call(__NR_sysinfo, 0x1000);
    compat.arch = 0x40000003;
    EXPECT_EQ(uint32_t(SECCOMP_RET_ALLOW), run(compat));
}

TEST(ProcfsNotifyReplies, TheProcfsFilterYieldsToAProfileWithAListenerOfItsOwn) {
    plan::Plan p;
    EXPECT_FALSE(linux::wants_procfs_filter(p)) << "procfs off";
    p.procfs = plan::Plan::Procfs{.mount = "/run/kapsel/procfs/mnt", .control = "/c.sock"};
    EXPECT_TRUE(linux::wants_procfs_filter(p));
    p.seccomp = plan::Seccomp{};
    p.seccomp->default_action = plan::SeccompAction::errno_ret;
    EXPECT_TRUE(linux::wants_procfs_filter(p)) << "a profile without a listener";
    p.seccomp->rules.push_back({.names = {"mkdir"}, .action = plan::SeccompAction::notify});
    p.seccomp->listener_path = "/agent.sock";
    EXPECT_FALSE(linux::wants_procfs_filter(p));
    p.seccomp.reset();
    p.procfs->notify = false;
    EXPECT_FALSE(linux::wants_procfs_filter(p));
}

}  // namespace
}  // namespace kapsel::procfs
