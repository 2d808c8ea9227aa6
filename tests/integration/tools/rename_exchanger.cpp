// Swaps two paths back and forth with renameat2(RENAME_EXCHANGE) until killed: a
// container process that races a host-side reader of its files (run_image_test.cpp),
// as fast as the kernel allows. Linked statically, to run in the busybox image.
#include <fcntl.h>
#include <stdio.h>

int main(int argc, char** argv) {
    if (argc != 3) return 2;
    for (;;)
        if (renameat2(AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE) != 0) return 1;
}
