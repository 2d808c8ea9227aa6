// See spawn.hpp.
#include "util/spawn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "util/fd.hpp"

extern char** environ;

namespace kapsel {

bool Completed::exited_ok() const {
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

namespace {

struct Pipe {
    unique_fd read, write;
};

Result<Pipe> make_pipe(const char* what) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) return sys_error(std::string("pipe for ") + what);
    return Pipe{unique_fd(p[0]), unique_fd(p[1])};
}

// The signals a program we run gets with their default action (see run_program).
void default_signals(sigset_t* set) {
    sigemptyset(set);
    for (int sig : {SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM})
        sigaddset(set, sig);
}

// In a child of kapsel's: keeps `hold` open while the program runs in a child of its own,
// then exits as the program did. Only async-signal-safe calls (kapsel may have threads).
[[noreturn]] void hold_and_exec(const char* prog, char* const* args, int in, int out, int err, int hold) {
    // The held fd goes to 3, above the program's three; nothing else stays open here.
    int high = ::fcntl(hold, F_DUPFD_CLOEXEC, 3);
    if (high < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(127);
    if (high != 3 && ::dup2(high, 3) < 0) ::_exit(127);
    ::close_range(4, ~0U, 0);
    // Ctrl-C, a hangup or a TERM for the session must not end the holder before the
    // program: the program gets them too and decides; the holder follows it.
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::signal(sig, SIG_IGN);
    ::signal(SIGCHLD, SIG_DFL);  // its end must be waitable here
    pid_t holder = ::getpid();
    pid_t child = ::fork();
    if (child < 0) ::_exit(127);
    if (child == 0) {
        // Killed with the holder (a timeout kills the holder), never left running without it.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != holder) ::_exit(127);
        sigset_t defaults;
        default_signals(&defaults);
        for (int sig = 1; sig < NSIG; ++sig)
            if (sigismember(&defaults, sig) == 1) ::signal(sig, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::close(3);
        ::execve(prog, args, environ);
        ::_exit(127);
    }
    ::close(0);
    ::close(1);
    ::close(2);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0)
        if (errno != EINTR) ::_exit(127);
    if (WIFEXITED(status)) ::_exit(WEXITSTATUS(status));
    int sig = WTERMSIG(status);
    ::signal(sig, SIG_DFL);
    ::kill(holder, sig);
    ::_exit(128 + sig);
}

}  // namespace

Result<Completed> run_program(const std::vector<std::string>& argv, std::string_view input,
                              size_t max_output, std::chrono::milliseconds timeout, int hold_fd) {
    if (argv.empty()) return make_error("run a program: no program given");
    const std::string& prog = argv[0];
    // stdin is a socket: a program that exits without reading all of it gives us EPIPE
    // from send(MSG_NOSIGNAL), not a SIGPIPE that would kill kapsel.
    int sp[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) return sys_error("socketpair for stdin");
    Pipe in{unique_fd(sp[1]), unique_fd(sp[0])};
    Pipe out = KAPSEL_TRY(make_pipe("stdout"));
    Pipe err = KAPSEL_TRY(make_pipe("stderr"));
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    if (hold_fd < 0) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in.read.get(), 0);
        posix_spawn_file_actions_adddup2(&fa, out.write.get(), 1);
        posix_spawn_file_actions_adddup2(&fa, err.write.get(), 2);
        // And nothing else: an fd kapsel was given without O_CLOEXEC (`flock LOCK kapsel run`'s
        // lock) would otherwise live on in whatever the program leaves running (netavark's
        // aardvark-dns), holding that lock for good.
        posix_spawn_file_actions_addclosefrom_np(&fa, 3);
        // And with the signals as a program expects them, not as kapsel (or whatever ran
        // kapsel: a test harness) set them: an ignored disposition and a blocked signal
        // survive exec (pasta refuses to start with SIGPIPE ignored).
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t defaults, none;
        default_signals(&defaults);
        sigemptyset(&none);
        posix_spawnattr_setsigdefault(&attr, &defaults);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
        int rc = ::posix_spawn(&pid, prog.c_str(), &fa, &attr, args.data(), environ);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) return sys_error("run " + prog, rc);
    } else {
        if (::access(prog.c_str(), X_OK) != 0) return sys_error("run " + prog);
        pid = ::fork();
        if (pid < 0) return sys_error("fork to run " + prog);
        if (pid == 0) hold_and_exec(prog.c_str(), args.data(), in.read.get(), out.write.get(), err.write.get(), hold_fd);
    }
    in.read.reset();
    out.write.reset();
    err.write.reset();

    Completed done;
    // A program that ignores its input must not block us on a full buffer: stdin is fed
    // from the same loop that reads the output.
    ::shutdown(in.write.get(), SHUT_RD);
    size_t fed = 0;
    if (input.empty()) in.write.reset();
    auto until = std::chrono::steady_clock::now() + timeout;
    bool ended = false, too_much = false;
    while (out.read || err.read) {
        pollfd fds[3];
        nfds_t n = 0;
        unique_fd* owners[3];
        for (auto* f : {&out.read, &err.read}) {
            if (*f) {
                fds[n] = {f->get(), POLLIN, 0};
                owners[n++] = f;
            }
        }
        if (in.write) {
            fds[n] = {in.write.get(), POLLOUT, 0};
            owners[n++] = &in.write;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        // Once the program has ended only what is already there is read (wait 0).
        int ready = ::poll(fds, n, ended ? 0 : static_cast<int>(std::min<long>(left.count(), 100)));
        if (ready < 0 && errno != EINTR) break;
        if (ready == 0 && ended) break;
        for (nfds_t i = 0; i < n && ready > 0; ++i) {
            if (!fds[i].revents) continue;
            unique_fd& f = *owners[i];
            if (&f == &in.write) {
                ssize_t w = ::send(f.get(), input.data() + fed, input.size() - fed,
                                   MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w > 0) fed += static_cast<size_t>(w);
                if (w < 0 && errno != EAGAIN && errno != EINTR) f.reset();
                if (fed == input.size()) f.reset();
                continue;
            }
            std::string& sink = &f == &out.read ? done.out : done.err;
            char buf[8192];
            ssize_t r = ::read(f.get(), buf, sizeof buf);
            if (r > 0) {
                if (sink.size() + static_cast<size_t>(r) > max_output) {
                    too_much = true;
                    f.reset();
                } else {
                    sink.append(buf, static_cast<size_t>(r));
                }
            } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                f.reset();
            }
        }
        if (!ended) {
            int status = 0;
            if (::waitpid(pid, &status, WNOHANG) == pid) {
                ended = true;
                done.status = status;
                in.write.reset();
            }
        }
    }
    if (!ended) {
        int status = 0;
        if (std::chrono::steady_clock::now() >= until) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            return make_error("run " + prog + ": still running after " +
                              std::to_string(timeout.count() / 1000) + " s (killed)");
        }
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        done.status = status;
    }
    if (too_much)
        return make_error("run " + prog + ": more than " + std::to_string(max_output) +
                          " bytes of output");
    return done;
}

Result<Completed> run_program_unreaped(const std::vector<std::string>& argv, std::string_view input,
                                       size_t max_output, std::chrono::milliseconds timeout, int hold_fd) {
    int subreaper = 0;
    ::prctl(PR_GET_CHILD_SUBREAPER, &subreaper);
    if (subreaper) ::prctl(PR_SET_CHILD_SUBREAPER, 0);
    auto done = run_program(argv, input, max_output, timeout, hold_fd);
    if (subreaper) ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    return done;
}

}  // namespace kapsel
