// The process's identity inside the container: user and groups, capabilities,
// and the process attributes set just before exec (personality, scheduler, ...).
#pragma once

#include "plan/plan.hpp"
#include "util/result.hpp"

namespace kapsel::linux {

// The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap).
int kernel_last_cap();
// The capabilities in kapsel's own bounding set: what it can hand to a container.
uint64_t own_bounding_set();

// What the plan alone cannot check about a process: that kapsel holds every
// capability it asks for, and that the host enables the LSM its label needs.
Status check_process_on_host(const plan::Process& p);

// The process's rlimits and OOM score, set from outside (prlimit, /proc/PID):
// inside a user namespace the process could not raise them itself.
Status apply_limits_from_outside(pid_t pid, const plan::Process& p);

// Drops the bounding set, switches to the container user and group (keeping the
// capabilities across setuid), then sets the permitted/effective/inheritable and
// ambient sets. Order matters: dropping the bounding set needs CAP_SETPCAP.
Status apply_user_and_caps(const plan::Process& p);

// personality, scheduler, I/O priority, NUMA memory policy.
Status apply_process_attributes(const plan::Plan& plan, const plan::Process& p);

// Makes the stdio fds usable by a non-root container user (as runc does).
void fix_stdio_owner(uid_t uid, gid_t gid);

}  // namespace kapsel::linux
