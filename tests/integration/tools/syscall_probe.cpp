// Makes the syscalls its arguments name, with arguments the kernel refuses
// harmlessly, and prints "NAME ERRNO" for each: what a seccomp filter answers
// inside a container. Linked statically, to run in the busybox image.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        long nr;
        if (!strcmp(argv[i], "clone3"))
            nr = 435;  // clone3(NULL, 0): EINVAL from the kernel
        else if (!strcmp(argv[i], "mkdirat"))
            nr = SYS_mkdirat;  // mkdirat(0, NULL, 0): EFAULT from the kernel
        else if (!strcmp(argv[i], "beyond"))
            nr = 1000;  // no such syscall: ENOSYS from the kernel
        else if (!strcmp(argv[i], "sysinfo"))
            nr = SYS_sysinfo;  // with a buffer: 0 from the kernel
        else
            return 2;
        static long buffer[64];  // larger than struct sysinfo
        long r = syscall(nr, nr == SYS_sysinfo ? buffer : 0, 0, 0, 0, 0, 0);
        printf("%s %s\n", argv[i], r == 0 ? "0" : strerrorname_np(errno));
    }
    return 0;
}
