// The cgroup v2 device filter: rules -> eBPF program, and attaching it.
#pragma once

#include <linux/bpf.h>

#include <vector>

#include "cgroups/resources.hpp"
#include "util/fd.hpp"

namespace kapsel::cgroups::v2 {

// The program for these rules (pure; unit-tested instruction by instruction).
std::vector<bpf_insn> device_program(const std::vector<DeviceRule>& rules);

// Loads the program and attaches it to the cgroup directory `cgroup_fd`,
// replacing any device program kapsel attached before.
Status attach_device_program(int cgroup_fd, const std::vector<DeviceRule>& rules);

}  // namespace kapsel::cgroups::v2
