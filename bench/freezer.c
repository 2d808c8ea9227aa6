/* The floor for pause/resume: a raw cgroup v1 freezer write, what every runtime
 * must do at least. Writes FROZEN or THAWED to DIR/freezer.state and re-reads
 * the file until the kernel reports that state (a write of FROZEN may leave the
 * cgroup FREEZING while tasks are still on their way to the fridge; runtimes
 * wait for FROZEN too). Run as its own process by bench/run-all so its spawn
 * cost is the same as the runtimes'. Built statically with gcc -O2.
 *
 *   freezer DIR FROZEN|THAWED      exit 0 once freezer.state says so, 1 on error
 *                                  or after 2 s without reaching it
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[2], "FROZEN") != 0 && strcmp(argv[2], "THAWED") != 0)) {
        fputs("usage: freezer CGROUP_DIR FROZEN|THAWED\n", stderr);
        return 2;
    }
    char path[4096];
    if (snprintf(path, sizeof path, "%s/freezer.state", argv[1]) >= (int)sizeof path) {
        fputs("freezer: path too long\n", stderr);
        return 1;
    }
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "freezer: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t want = strlen(argv[2]);
    if (write(fd, argv[2], want) != (ssize_t)want) {
        fprintf(stderr, "freezer: write %s to %s: %s\n", argv[2], path, strerror(errno));
        return 1;
    }
    double deadline = now_s() + 2.0;
    for (;;) {
        char buf[32];
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        if (n < 0) {
            fprintf(stderr, "freezer: read %s: %s\n", path, strerror(errno));
            return 1;
        }
        buf[n] = 0;
        if (strncmp(buf, argv[2], want) == 0 && (buf[want] == '\n' || buf[want] == 0)) return 0;
        if (now_s() > deadline) {
            fprintf(stderr, "freezer: %s still says %s after 2 s\n", path, buf);
            return 1;
        }
        /* FREEZING: the kernel retries the freeze on the next write. */
        if (strcmp(argv[2], "FROZEN") == 0 && write(fd, argv[2], want) < 0 && errno != EBUSY) {
            fprintf(stderr, "freezer: write %s to %s: %s\n", argv[2], path, strerror(errno));
            return 1;
        }
    }
}
