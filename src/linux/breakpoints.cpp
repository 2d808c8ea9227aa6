// The hardware breakpoint probe (see breakpoints.hpp).
#include "linux/breakpoints.hpp"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>

namespace kapsel::linux {
namespace {

// Where the child is expected to trap. noinline and an asm body so that the call
// stays a call and the address is the one the breakpoint is set on.
[[gnu::noinline]] void breakpoint_target() { asm volatile("nop"); }

}  // namespace

Result<bool> hardware_breakpoints_fire() {
#if defined(__x86_64__)
    pid_t child = ::fork();
    if (child < 0) return sys_error("fork the breakpoint probe");
    if (child == 0) {
        // The probe child: stops for the parent to set the breakpoint, then calls the
        // target. Exit 0 means it ran past the breakpoint.
        if (::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) < 0) ::_exit(2);
        ::raise(SIGSTOP);
        breakpoint_target();
        ::_exit(0);
    }
    auto reap = [&](int* status) {
        while (::waitpid(child, status, 0) < 0)
            if (errno != EINTR) return false;
        return true;
    };
    int status = 0;
    if (!reap(&status) || !WIFSTOPPED(status)) {
        ::kill(child, SIGKILL);
        reap(&status);
        return make_error("breakpoint probe: the child did not stop");
    }
    // DR0 = the target's address (the same in the forked child), DR7 bit 0 = enable
    // DR0 locally, RW0/LEN0 = 0: break on instruction execution. As CRIU sets it.
    auto dr = [](int n) {
        return reinterpret_cast<void*>(offsetof(struct user, u_debugreg) + n * sizeof(long));
    };
    bool set = ::ptrace(PTRACE_POKEUSER, child, dr(0),
                        reinterpret_cast<void*>(&breakpoint_target)) == 0 &&
               ::ptrace(PTRACE_POKEUSER, child, dr(7), reinterpret_cast<void*>(1L)) == 0;
    if (!set) {
        // Registers that cannot be set fire nothing: the answer that keeps CRIU safe.
        ::kill(child, SIGKILL);
        reap(&status);
        return false;
    }
    ::ptrace(PTRACE_CONT, child, nullptr, nullptr);
    if (!reap(&status)) return sys_error("wait for the breakpoint probe");
    bool fired = WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP;
    if (WIFSTOPPED(status)) {
        ::kill(child, SIGKILL);
        reap(&status);
    }
    return fired;
#else
    return true;
#endif
}

}  // namespace kapsel::linux
