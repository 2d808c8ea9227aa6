// CRIU's seccomp image (seccomp.img) as data: the filters a checkpoint restores, and
// the rewrite that takes kapsel's procfs filter out of them (issue 14). Pure functions:
// runtime/restore_seccomp.cpp reads and writes the file.
//
// Why: the procfs filter hands sysinfo and sched_getaffinity to a listener
// (SECCOMP_RET_USER_NOTIF). CRIU dumps its BPF and restores it, but the kernel gives a
// restored filter no listener, so after a restore both calls fail with ENOSYS. CRIU
// installs the image's filters itself, inside the restored tasks, so kapsel cannot get
// a new listener for them; it makes the filter allow everything instead, and the calls
// answer with the host's numbers (the /proc files stay the container's: they are bind
// mounts from the procfs service).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace kapsel::plan {

// The file is written by CRIU from a container's processes: it is read as untrusted.
// Larger than this is refused (a filter has at most 4096 instructions of 8 bytes; a
// container has at most a few thousand distinct filter chains).
inline constexpr size_t kMaxSeccompImage = 64u << 20;

struct SeccompImageRewrite {
    std::string image;     // the new file; equal to the input when nothing matched
    size_t neutralised = 0;  // how many filters were kapsel's and now allow everything
};

// Every filter of the image whose program is exactly `program` (raw sock_filter
// instructions, as kapsel generates them deterministically) gets a program of one
// instruction, SECCOMP_RET_ALLOW. The filter keeps its place, its chain link (prev)
// and its flags, because the thread cores (core-*.img) name filters by index; every
// other byte of the file is copied as it is, so a checkpoint without kapsel's filter
// (e.g. a profile with a listener of its own) is unchanged. A malformed file is an
// error naming what is wrong.
Result<SeccompImageRewrite> neutralise_seccomp_filters(std::string_view image,
                                                       std::string_view program);

}  // namespace kapsel::plan
