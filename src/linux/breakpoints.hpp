// Whether hardware breakpoints set through ptrace fire on this machine. CRIU sets
// one where a process leaves its parasite code and waits for the trap; under some
// hypervisors the debug registers are accepted but never trigger, and CRIU then
// waits forever (issue seen on kernel 6.18 guests).
#pragma once

#include "util/result.hpp"

namespace kapsel::linux {

// Runs a child under ptrace with an execution breakpoint on a function it calls:
// true when the child stops there, false when it runs past. On machines without
// x86 debug registers (CRIU uses none there) the answer is true. About a
// millisecond: one fork and a few ptrace calls.
Result<bool> hardware_breakpoints_fire();

}  // namespace kapsel::linux
