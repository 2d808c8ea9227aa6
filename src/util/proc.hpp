// Facts about a host process from /proc/PID, shared by the runtime (is this still our
// init?) and the procfs server (how old is the caller's container?).
#pragma once

#include <cstdint>

namespace kapsel {

// The start time of a process (field 22 of /proc/PID/stat, in clock ticks since boot),
// 0 if it is gone or a zombie.
uint64_t process_start_time(int pid);

}  // namespace kapsel
