/* The bench's floor: the least a runtime must do to run /bin/true in a
 * container, with no config parsing, no state and no error handling beyond
 * bailing out. Built by bench/run-all with gcc -O2 -static.
 *
 *   floor ROOTFS          clone3 into new pid, mount, uts, ipc, net namespaces;
 *                         make / rslave, bind ROOTFS, pivot_root, exec /bin/true;
 *                         the parent waits and exits with the child's status
 *   floor --full ROOTFS   also: a pids cgroup (mkdir, the child's pid into
 *                         cgroup.procs, rmdir after), /proc, a tmpfs /dev with the
 *                         usual nodes and links, and a read-only root remount
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define CGROUP_PARENT "/sys/fs/cgroup/pids"

static void die(const char *what) {
    fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
    _exit(125);
}

static void write_file(const char *path, const char *s) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) die(path);
    if (write(fd, s, strlen(s)) < 0) die(path);
    close(fd);
}

static void make_dev(void) {
    static const struct { const char *name; unsigned maj, min; } nodes[] = {
        {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
        {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
    };
    static const struct { const char *target, *name; } links[] = {
        {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
        {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
    };
    if (mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k") < 0)
        die("mount tmpfs dev");
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "dev/%s", nodes[i].name);
        if (mknod(path, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) < 0) die(path);
    }
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "dev/%s", links[i].name);
        if (symlink(links[i].target, path) < 0) die(path);
    }
}

static int child(const char *rootfs, int full, int sync_fd) {
    if (full) {
        /* Hold until the parent has put us into the cgroup. */
        char c;
        if (read(sync_fd, &c, 1) != 1) die("sync read");
    }
    close(sync_fd);
    umask(0); /* device nodes 0666, as the runtimes make them */
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) die("make / rslave");
    if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) die("bind rootfs");
    if (chdir(rootfs) < 0) die("chdir rootfs");
    if (full) {
        if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
            die("mount proc");
        make_dev();
    }
    /* pivot_root(".", ".") stacks the old root under the new one; detach it. */
    if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root");
    if (umount2(".", MNT_DETACH) < 0) die("detach old root");
    if (chdir("/") < 0) die("chdir /");
    if (full && mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
        die("remount / read-only");
    char *const argv[] = {"/bin/true", NULL};
    char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    execve(argv[0], argv, envp);
    die("exec /bin/true");
    return 125;
}

int main(int argc, char **argv) {
    int full = 0;
    if (argc == 3 && strcmp(argv[1], "--full") == 0) full = 1;
    else if (argc != 2) {
        fputs("usage: floor [--full] ROOTFS\n", stderr);
        return 125;
    }
    const char *rootfs = argv[argc - 1];

    int sync[2];
    if (pipe2(sync, O_CLOEXEC) < 0) die("pipe");
    char cgroup[128] = "";
    if (full) {
        snprintf(cgroup, sizeof cgroup, CGROUP_PARENT "/kbench-floor-%d", (int)getpid());
        if (mkdir(cgroup, 0755) < 0) die(cgroup);
    }

    struct clone_args ca = {
        .flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET,
        .exit_signal = SIGCHLD,
    };
    long pid = syscall(SYS_clone3, &ca, sizeof ca);
    if (pid < 0) die("clone3");
    if (pid == 0) {
        close(sync[1]);
        _exit(child(rootfs, full, sync[0]));
    }
    close(sync[0]);
    if (full) {
        char procs[160], pidstr[24];
        snprintf(procs, sizeof procs, "%s/cgroup.procs", cgroup);
        snprintf(pidstr, sizeof pidstr, "%ld", pid);
        write_file(procs, pidstr);
        if (write(sync[1], "x", 1) != 1) die("sync write");
    }
    close(sync[1]);

    int st;
    while (waitpid((pid_t)pid, &st, 0) < 0)
        if (errno != EINTR) die("waitpid");
    if (full && rmdir(cgroup) < 0) die(cgroup);
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}
