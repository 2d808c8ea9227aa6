// Hook runner: fork, exec with the state on stdin, wait with a timeout.
#include "linux/hooks.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "util/fd.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

namespace kapsel::linux {

static int64_t now_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Error texts are runc's ("error running hook #0: error running hook: exit
// status 1, stdout: ..., stderr: ..."): callers and their users search for them.
Status run_hook(const oci::Hook& hook, const std::string& state_json, const std::string& cwd) {
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) < 0) return sys_error("pipe for hook");
    unique_fd in_r(in[0]), in_w(in[1]);
    if (::pipe2(out, O_CLOEXEC) < 0) return sys_error("pipe for hook");
    unique_fd out_r(out[0]), out_w(out[1]);
    if (::pipe2(err, O_CLOEXEC) < 0) return sys_error("pipe for hook");
    unique_fd err_r(err[0]), err_w(err[1]);
    std::vector<std::string> args =
        hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : hook.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    log::debug("hook: run " + hook.path +
               (hook.timeout ? " (timeout " + std::to_string(*hook.timeout) + "s)" : ""));
    pid_t pid = ::fork();
    if (pid < 0) return sys_error("fork hook " + hook.path);
    if (pid == 0) {
        ::dup2(in_r.get(), 0);
        ::dup2(out_w.get(), 1);
        ::dup2(err_w.get(), 2);
        ::syscall(SYS_close_range, 3, ~0u, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        if (!cwd.empty() && ::chdir(cwd.c_str()) < 0) {
            dprintf(2, "chdir %s: %s", cwd.c_str(), errno_text(errno).c_str());
            ::_exit(127);
        }
        ::execve(hook.path.c_str(), argv.data(), envp.data());
        dprintf(2, "exec %s: %s", hook.path.c_str(), errno_text(errno).c_str());
        ::_exit(127);
    }
    in_r.reset();
    out_w.reset();
    err_w.reset();
    // A hook that does not read its stdin must not block us: ignore EPIPE.
    signal(SIGPIPE, SIG_IGN);
    (void)!::write(in_w.get(), state_json.data(), state_json.size());
    in_w.reset();

    // Both outputs until both close (the hook and whatever it left running
    // exited), each kept up to 64 KiB.
    std::string output[2];
    unique_fd* fds[2] = {&out_r, &err_r};
    int64_t deadline = hook.timeout ? now_ms() + *hook.timeout * 1000LL : -1;
    bool timed_out = false;
    while (*fds[0] || *fds[1]) {
        int wait_ms = -1;
        if (deadline >= 0) {
            wait_ms = static_cast<int>(deadline - now_ms());
            if (wait_ms <= 0) {
                timed_out = true;
                break;
            }
        }
        pollfd p[2] = {{fds[0]->get(), POLLIN, 0}, {fds[1]->get(), POLLIN, 0}};
        int r = ::poll(p, 2, wait_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) {
            timed_out = true;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (p[i].fd < 0 || p[i].revents == 0) continue;
            char buf[4096];
            ssize_t n = ::read(p[i].fd, buf, sizeof buf);
            if (n <= 0) {
                fds[i]->reset();
                continue;
            }
            if (output[i].size() < 65536) output[i].append(buf, static_cast<size_t>(n));
        }
    }
    if (timed_out) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        char secs[32];
        std::snprintf(secs, sizeof secs, "%.1f", static_cast<double>(*hook.timeout));
        return make_error(std::string("hook ran past specified timeout of ") + secs + "s");
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    auto shown = [](const std::string& text) {
        std::string one(trim(text));
        for (auto& c : one)
            if (c == '\n') c = ' ';
        return one;
    };
    std::string why = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                        : "signal: " + to_lower(strsignal(WTERMSIG(status)));
    return make_error("error running hook: " + why + ", stdout: " + shown(output[0]) +
                      ", stderr: " + shown(output[1]));
}

namespace {

// "prestart hook /path: error running hook #0: ..." - runc's text after the
// kind and the path it does not name.
Error hook_error(const std::string& kind, size_t i, const oci::Hook& hook, const Error& e) {
    return Error{e.code, kind + " hook " + hook.path + ": error running hook #" +
                             std::to_string(i) + ": " + e.message};
}

}  // namespace

Status run_hooks(const std::vector<oci::Hook>& hooks, const std::string& kind,
                 const std::string& state_json, const std::string& cwd) {
    for (size_t i = 0; i < hooks.size(); ++i) {
        auto st = run_hook(hooks[i], state_json, cwd);
        if (!st) return hook_error(kind, i, hooks[i], st.error());
    }
    return {};
}

void run_hooks_warn(const std::vector<oci::Hook>& hooks, const std::string& kind,
                    const std::string& state_json) {
    for (size_t i = 0; i < hooks.size(); ++i) {
        auto st = run_hook(hooks[i], state_json);
        if (!st) log::warn(hook_error(kind, i, hooks[i], st.error()).message);
    }
}

}  // namespace kapsel::linux
