// Per-read latency of /proc-like files: open + read to the end + close, N times per file,
// the files interleaved so that each sees the same machine state. Prints one line per
// file: "FILE median_us p90_us min_us". For bench/procfs.
// usage: procfs_read N FILE...
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: procfs_read N FILE...\n");
        return 2;
    }
    long n = strtol(argv[1], NULL, 10);
    if (n < 1 || n > 10000000) {
        fprintf(stderr, "procfs_read: N must be between 1 and 10000000\n");
        return 2;
    }
    int files = argc - 2;
    double* t = calloc((size_t)n * files, sizeof *t);
    static char buf[1 << 16];
    if (!t) return 1;
    for (long i = 0; i < n; ++i) {
        for (int f = 0; f < files; ++f) {
            double start = now_us();
            int fd = open(argv[2 + f], O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                fprintf(stderr, "procfs_read: open %s: %s\n", argv[2 + f], strerror(errno));
                return 1;
            }
            ssize_t r;
            while ((r = read(fd, buf, sizeof buf)) > 0) {
            }
            if (r < 0) {
                fprintf(stderr, "procfs_read: read %s: %s\n", argv[2 + f], strerror(errno));
                return 1;
            }
            close(fd);
            t[f * n + i] = now_us() - start;
        }
    }
    for (int f = 0; f < files; ++f) {
        double* s = t + f * n;
        qsort(s, n, sizeof *s, cmp);
        printf("%s %.1f %.1f %.1f\n", argv[2 + f], s[n / 2], s[n * 9 / 10], s[0]);
    }
    return 0;
}
