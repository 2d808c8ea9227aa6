/* The bench's measuring tool: times commands with one fork+exec+wait4 each, so
 * the spawn overhead is the same for every runtime, and reaps orphans for the
 * whole bench (the host's pid 1 may not). Built by bench/run-all with gcc -O2.
 *
 *   timeit [-e ERRLOG] -- CMD [ARGS...] [';;' CMD2 [ARGS...]]...
 *       Runs the commands one after another once (stdin and stdout /dev/null,
 *       stderr appended to ERRLOG or /dev/null) and prints one line:
 *       "<nanoseconds> <peak RSS KiB> <status>". The time covers all commands;
 *       the RSS is the largest ru_maxrss wait4 reports (the command and the
 *       children it reaped); status is the first non-zero exit status, or
 *       128+signal, or 127 when exec failed.
 *   timeit -p PIDFILE
 *       Waits until the process whose pid is in PIDFILE has exited (pidfd poll,
 *       so it need not be our child) and prints "<nanoseconds> 0 0".
 *   timeit -r -- CMD [ARGS...]
 *       Runs CMD as a child subreaper: orphans below it (containers whose
 *       runtime exited) are reaped as they die. Exits with CMD's status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int status_code(int st) {
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return 255;
}

static void die(const char *what) {
    fprintf(stderr, "timeit: %s: %s\n", what, strerror(errno));
    exit(125);
}

/* fork+exec argv with fixed stdio; returns the exit code, sets *rss_kib. */
static int run_one(char **argv, int devnull, int errfd, long *rss_kib) {
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(errfd, 2);
        execvp(argv[0], argv);
        dprintf(2, "timeit: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0)
        if (errno != EINTR) die("wait4");
    *rss_kib = ru.ru_maxrss;
    return status_code(st);
}

static int cmd_time(int argc, char **argv, const char *errlog) {
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) die("open /dev/null");
    int errfd = devnull;
    if (errlog) {
        errfd = open(errlog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (errfd < 0) die(errlog);
    }
    /* Split argv at ";;" in place, before the clock starts. */
    char **cmds[64];
    int ncmds = 0;
    cmds[ncmds++] = argv;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], ";;") == 0) {
            argv[i] = NULL;
            if (ncmds == 64) { fprintf(stderr, "timeit: too many commands\n"); return 125; }
            cmds[ncmds++] = &argv[i + 1];
        }
    }
    long rss = 0;
    int status = 0;
    uint64_t t0 = now_ns();
    for (int c = 0; c < ncmds; c++) {
        if (!cmds[c][0]) continue;
        long r;
        int s = run_one(cmds[c], devnull, errfd, &r);
        if (r > rss) rss = r;
        if (s && !status) status = s;
    }
    uint64_t t1 = now_ns();
    printf("%llu %ld %d\n", (unsigned long long)(t1 - t0), rss, status);
    return 0;
}

static int cmd_waitpidfile(const char *pidfile) {
    uint64_t t0 = now_ns();
    FILE *f = fopen(pidfile, "re");
    if (!f) die(pidfile);
    long pid = 0;
    if (fscanf(f, "%ld", &pid) != 1 || pid <= 0) {
        fprintf(stderr, "timeit: no pid in %s\n", pidfile);
        return 125;
    }
    fclose(f);
    int pfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
    if (pfd >= 0) {
        /* Readable once the process has exited (zombie or reaped). */
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        while (poll(&p, 1, -1) < 0)
            if (errno != EINTR) die("poll pidfd");
        close(pfd);
    } else if (errno != ESRCH) {
        die("pidfd_open");
    } /* ESRCH: already exited and reaped */
    printf("%llu 0 0\n", (unsigned long long)(now_ns() - t0));
    return 0;
}

static int cmd_reaper(char **argv) {
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) die("PR_SET_CHILD_SUBREAPER");
    pid_t main_pid = fork();
    if (main_pid < 0) die("fork");
    if (main_pid == 0) {
        prctl(PR_SET_CHILD_SUBREAPER, 0);
        execvp(argv[0], argv);
        fprintf(stderr, "timeit: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    /* Ctrl-C reaches the bench through the process group; the reaper must
     * outlive it so the bench's cleanup trap can run and its orphans are reaped. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    int main_status = -1;
    for (;;) {
        int st;
        pid_t p = wait(&st);
        if (p < 0) {
            if (errno == EINTR) continue;
            if (errno == ECHILD) break;
            die("wait");
        }
        if (p == main_pid) {
            main_status = status_code(st);
            /* Reap what is already dead; a live leftover goes to pid 1. */
            while (waitpid(-1, &st, WNOHANG) > 0) {}
            break;
        }
    }
    return main_status < 0 ? 125 : main_status;
}

static void usage(void) {
    fputs("usage: timeit [-e ERRLOG] -- CMD [ARGS...] [';;' CMD2 ...]\n"
          "       timeit -p PIDFILE\n"
          "       timeit -r -- CMD [ARGS...]\n", stderr);
    exit(125);
}

int main(int argc, char **argv) {
    const char *errlog = NULL, *pidfile = NULL;
    int reaper = 0, opt;
    while ((opt = getopt(argc, argv, "+e:p:r")) != -1) {
        switch (opt) {
        case 'e': errlog = optarg; break;
        case 'p': pidfile = optarg; break;
        case 'r': reaper = 1; break;
        default: usage();
        }
    }
    if (pidfile) return cmd_waitpidfile(pidfile);
    if (optind >= argc) usage();
    if (reaper) return cmd_reaper(argv + optind);
    return cmd_time(argc - optind, argv + optind, errlog);
}
