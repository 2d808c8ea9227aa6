// seccomp through libseccomp: every action, errnoRet, argument conditions, and the
// notify listener.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "harness.hpp"

namespace kapsel::test {
namespace {

using Seccomp = KapselTest;

std::string dir_of(const std::string& path) {
    return path.substr(0, path.rfind('/'));
}
std::string base_name(const std::string& path) {
    return path.substr(path.rfind('/') + 1);
}

json allow_all_but(json rules) {
    return {{"defaultAction", "SCMP_ACT_ALLOW"},
            {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}},
            {"syscalls", rules}};
}

TEST_F(Seccomp, ErrnoWithItsOwnErrnoRet) {
    Bundle b("mkdir /dev/shm/a 2>&1; echo rc=$?");
    b.config["linux"]["seccomp"] = allow_all_but(
        {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 13}}});
    Output o = run(b);
    EXPECT_NE(std::string::npos, o.out.find("Permission denied")) << o.out << o.err;
    EXPECT_NE(std::string::npos, o.out.find("rc=1"));
}

TEST_F(Seccomp, ErrnoDefaultsToEperm) {
    Bundle b("mkdir /dev/shm/a 2>&1; echo rc=$?");
    b.config["linux"]["seccomp"] =
        allow_all_but({{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}}});
    Output o = run(b);
    EXPECT_NE(std::string::npos, o.out.find("Operation not permitted")) << o.out << o.err;
}

TEST_F(Seccomp, KillProcessAndTrapEndTheProcessWithSigsys) {
    for (std::string action : {"SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_KILL"}) {
        Bundle b("uname -s");
        b.config["process"]["args"] = {"/bin/uname", "-s"};
        b.config["linux"]["seccomp"] = allow_all_but({{{"names", {"uname"}}, {"action", action}}});
        Output o = run(b);
        EXPECT_EQ(128 + SIGSYS, o.code) << action << ": " << o.out << o.err;
        EXPECT_EQ("", o.out) << action;
    }
}

TEST_F(Seccomp, LogAndAllowLetTheCallThrough) {
    for (std::string action : {"SCMP_ACT_LOG", "SCMP_ACT_ALLOW"}) {
        Bundle b("uname -s");
        b.config["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"},
                                        {"flags", {"SECCOMP_FILTER_FLAG_LOG"}},
                                        {"syscalls", {{{"names", {"uname"}}, {"action", action}}}}};
        Output o = run(b);
        EXPECT_EQ("Linux\n", o.out) << action << o.err;
    }
}

TEST_F(Seccomp, TraceWithoutATracerFailsTheCallWithEnosys) {
    Bundle b("mkdir /dev/shm/a 2>&1; echo rc=$?");
    b.config["linux"]["seccomp"] =
        allow_all_but({{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_TRACE"}}});
    Output o = run(b);
    EXPECT_NE(std::string::npos, o.out.find("Function not implemented")) << o.out << o.err;
}

TEST_F(Seccomp, ArgumentConditions) {
    // Only kill(pid, SIGUSR1) is refused; kill(pid, 0) still works.
    Bundle b("kill -0 $$ && echo probe-ok; kill -USR1 $$ 2>&1; echo rc=$?");
    b.config["linux"]["seccomp"] =
        allow_all_but({{{"names", {"kill"}},
                        {"action", "SCMP_ACT_ERRNO"},
                        {"args", {{{"index", 1}, {"value", SIGUSR1}, {"op", "SCMP_CMP_EQ"}}}}}});
    Output o = run(b);
    EXPECT_NE(std::string::npos, o.out.find("probe-ok")) << o.out << o.err;
    EXPECT_NE(std::string::npos, o.out.find("rc=1")) << o.out;
}

TEST_F(Seccomp, DefaultErrnoRetAppliesToTheDefaultAction) {
    // An allow-list like podman's: everything else fails with ENOSYS (38).
    Bundle b("true");
    b.config["process"]["args"] = {"/bin/uname", "-s"};
    b.config["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ERRNO"},
                                    {"defaultErrnoRet", 38},
                                    {"syscalls",
                                     {{{"names",
                                        {"execve",
                                         "brk",
                                         "arch_prctl",
                                         "set_tid_address",
                                         "exit_group",
                                         "write",
                                         "read",
                                         "close",
                                         "fstat",
                                         "newfstatat",
                                         "getuid",
                                         "getgid",
                                         "geteuid",
                                         "getegid",
                                         "rt_sigaction",
                                         "rt_sigprocmask",
                                         "mmap",
                                         "munmap",
                                         "mprotect",
                                         "futex",
                                         "getpid",
                                         "prlimit64",
                                         "set_robust_list",
                                         "rseq",
                                         "ioctl",
                                         "openat",
                                         "uname"}},
                                       {"action", "SCMP_ACT_ALLOW"}}}}};
    Output o = run(b);
    EXPECT_EQ("Linux\n", o.out) << o.err;
}

TEST_F(Seccomp, UnknownSyscallNamesAreSkippedButUnknownActionsAreErrors) {
    Bundle b("echo fine");
    b.config["linux"]["seccomp"] =
        allow_all_but({{{"names", {"not_a_syscall_anywhere"}}, {"action", "SCMP_ACT_ERRNO"}}});
    EXPECT_EQ("fine\n", run(b).out);
    Bundle bad;
    bad.config["linux"]["seccomp"] =
        allow_all_but({{{"names", {"uname"}}, {"action", "SCMP_ACT_MAYBE"}}});
    bad.write();
    Output o = kapsel({"create", "--bundle", bad.dir(), "c2"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("linux.seccomp.syscalls[0].action")) << o.err;
    expect_nothing_left("c2", bad);
}

TEST_F(Seccomp, NotifySendsTheListenerFdAndStateToListenerPath) {
    FdListener agent_socket;
    std::string received;
    int received_fd = -1;
    std::thread agent([&] { received_fd = agent_socket.receive(&received); });
    Bundle b("echo ran");
    b.config["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"listenerPath", agent_socket.path()},
        {"listenerMetadata", "hello-agent"},
        {"syscalls", {{{"names", {"swapon"}}, {"action", "SCMP_ACT_NOTIFY"}}}}};
    Output o = run(b);
    agent.join();
    EXPECT_EQ("ran\n", o.out) << o.err;
    ASSERT_FALSE(received.empty());
    json msg = json::parse(received);
    EXPECT_EQ(json::array({"seccompFd"}), msg["fds"]);
    EXPECT_EQ("hello-agent", msg["metadata"]);
    EXPECT_EQ("c1", msg["state"]["id"]);
    EXPECT_GT(msg["pid"].get<int>(), 0);
    EXPECT_GE(received_fd, 0) << "the listener fd came with SCM_RIGHTS";
    if (received_fd >= 0) close(received_fd);
}

// An allow-list profile written before clone3 (435): what a static glibc program
// needs to start, print and exit, the newest being rseq (334).
json allow_list_before_clone3() {
    return {
        {"defaultAction", "SCMP_ACT_ERRNO"},
        {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}},
        {"syscalls",
         {{{"names",
            {"execve",         "brk",          "arch_prctl", "set_tid_address", "set_robust_list",
             "rseq",           "prlimit64",    "readlink",   "readlinkat",      "getrandom",
             "mprotect",       "mmap",         "munmap",     "uname",           "write",
             "writev",         "read",         "close",      "fstat",           "newfstatat",
             "ioctl",          "exit",         "exit_group", "futex",           "rt_sigaction",
             "rt_sigprocmask", "rt_sigreturn", "getpid",     "fcntl",           "openat",
             "lseek"}},
           {"action", "SCMP_ACT_ALLOW"}}}}};
}

TEST_F(Seccomp, SyscallsNewerThanTheProfileGetEnosysSoProgramsFallBack) {
    std::string probe = KAPSEL_TEST_SYSCALL_PROBE;
    Bundle b;
    // Over the fixture's /home, which exists: a new mount point would change the shared rootfs.
    b.config["process"]["args"] = {"/home/" + base_name(probe), "clone3", "beyond", "mkdirat"};
    b.config["mounts"].push_back({{"destination", "/home"},
                                  {"type", "bind"},
                                  {"source", dir_of(probe)},
                                  {"options", {"bind", "ro"}}});
    b.config["linux"]["seccomp"] = allow_list_before_clone3();
    Output o = run(b);
    // runc's -ENOSYS stub: above the newest syscall the profile names, ENOSYS (glibc
    // then uses clone); below it, an unnamed syscall keeps the default action.
    EXPECT_EQ("clone3 ENOSYS\nbeyond ENOSYS\nmkdirat EPERM\n", o.out) << o.err;

    // A permissive default or a default errno of ENOSYS needs no stub; the kernel answers.
    Bundle allow;
    allow.config["process"]["args"] = b.config["process"]["args"];
    allow.config["mounts"] = b.config["mounts"];
    allow.config["linux"]["seccomp"] =
        allow_all_but({{{"names", {"swapon"}}, {"action", "SCMP_ACT_ERRNO"}}});
    EXPECT_EQ("clone3 EINVAL\nbeyond ENOSYS\nmkdirat EFAULT\n", run(allow, "c2").out);
}

TEST_F(Seccomp, NotifyForWriteOrAsTheDefaultIsRefusedAtCreate) {
    FdListener agent_socket;
    json notify_write = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"listenerPath", agent_socket.path()},
        {"syscalls", {{{"names", {"read", "write"}}, {"action", "SCMP_ACT_NOTIFY"}}}}};
    json notify_default = {{"defaultAction", "SCMP_ACT_NOTIFY"},
                           {"listenerPath", agent_socket.path()}};
    std::pair<json, std::string> cases[] = {
        {notify_write,
         "linux.seccomp.syscalls[0]: SCMP_ACT_NOTIFY cannot be used for the write syscall"},
        {notify_default,
         "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be used as default action"},
    };
    for (auto& [profile, message] : cases) {
        Bundle b("echo ran");
        b.config["linux"]["seccomp"] = profile;
        b.write();
        Output o = kapsel({"create", "--bundle", b.dir(), "c1"});
        EXPECT_EQ(1, o.code);
        EXPECT_NE(std::string::npos, o.err.find(message)) << o.err;
        expect_nothing_left("c1", b);
    }
}

TEST_F(Seccomp, AnAgentThatCannotBeReachedFailsCreateInRuncsWords) {
    TempDir nowhere;
    Bundle b("echo ran");
    b.config["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"listenerPath", nowhere.path() + "/agent.sock"},
        {"syscalls", {{{"names", {"swapon"}}, {"action", "SCMP_ACT_NOTIFY"}}}}};
    b.write();
    Output o = kapsel({"create", "--bundle", b.dir(), "c1"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(
        std::string::npos,
        o.err.find(
            "failed to connect with seccomp agent specified in the seccomp profile: connect to " +
            nowhere.path() + "/agent.sock: "))
        << o.err;
    expect_nothing_left("c1", b);
}

}  // namespace
}  // namespace kapsel::test
