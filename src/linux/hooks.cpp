// Hook runner: fork, exec with the state on stdin, wait with a timeout.
#include "linux/hooks.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/fd.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

namespace kapsel::linux {

static int64_t now_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

Status run_hook(const oci::Hook& hook, const std::string& state_json) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) < 0 || ::pipe2(out, O_CLOEXEC) < 0)
        return sys_error("pipe for hook");
    unique_fd in_r(in[0]), in_w(in[1]), out_r(out[0]), out_w(out[1]);
    std::vector<std::string> args =
        hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : hook.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    pid_t pid = ::fork();
    if (pid < 0) return sys_error("fork hook " + hook.path);
    if (pid == 0) {
        ::dup2(in_r.get(), 0);
        ::dup2(out_w.get(), 1);
        ::dup2(out_w.get(), 2);
        ::syscall(SYS_close_range, 3, ~0u, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execve(hook.path.c_str(), argv.data(), envp.data());
        dprintf(2, "exec %s: %s", hook.path.c_str(), errno_text(errno).c_str());
        ::_exit(127);
    }
    in_r.reset();
    out_w.reset();
    // A hook that does not read its stdin must not block us: ignore EPIPE.
    signal(SIGPIPE, SIG_IGN);
    (void)!::write(in_w.get(), state_json.data(), state_json.size());
    in_w.reset();

    std::string output;
    int64_t deadline = hook.timeout ? now_ms() + *hook.timeout * 1000LL : -1;
    bool timed_out = false;
    while (true) {
        int wait_ms = -1;
        if (deadline >= 0) {
            wait_ms = static_cast<int>(deadline - now_ms());
            if (wait_ms <= 0) {
                timed_out = true;
                break;
            }
        }
        pollfd p{out_r.get(), POLLIN, 0};
        int r = ::poll(&p, 1, wait_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) {
            timed_out = true;
            break;
        }
        char buf[4096];
        ssize_t n = ::read(out_r.get(), buf, sizeof buf);
        if (n <= 0) break;
        if (output.size() < 65536) output.append(buf, static_cast<size_t>(n));
    }
    if (timed_out) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        return make_error("hook " + hook.path + " timed out after " +
                          std::to_string(*hook.timeout) + "s");
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::string shown(trim(output));
    for (auto& c : shown)
        if (c == '\n') c = ' ';
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    std::string why = WIFEXITED(status)
                          ? "exited with status " + std::to_string(WEXITSTATUS(status))
                          : "was killed by signal " + std::to_string(WTERMSIG(status));
    return make_error("hook " + hook.path + " " + why + (shown.empty() ? "" : ": " + shown));
}

Status run_hooks(const std::vector<oci::Hook>& hooks, const std::string& kind,
                 const std::string& state_json) {
    for (auto& h : hooks) KAPSEL_TRY_CTX(run_hook(h, state_json), kind + " hook");
    return {};
}

void run_hooks_warn(const std::vector<oci::Hook>& hooks, const std::string& kind,
                    const std::string& state_json) {
    for (auto& h : hooks) {
        auto st = run_hook(h, state_json);
        if (!st) log::warn(kind + " hook: " + st.error().message);
    }
}

}  // namespace kapsel::linux
