// linux.resources as data: which file gets which value in which hierarchy, and
// (cgroup v2) the device rules to compile into an eBPF program. Planned without
// touching the system, one function per controller and driver (v1/, v2/), then
// applied by cgroup.cpp, so a refused value names its file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cgroups/layout.hpp"
#include "oci/spec.hpp"
#include "util/result.hpp"

namespace kapsel::cgroups {

struct Write {
    size_t hierarchy = 0;  // index into Layout::hierarchies
    std::string file;      // "memory.limit_in_bytes"
    std::string value;
    // The kernel may refuse this write (EINVAL) until a later write of the plan
    // is done, and the plan writes it again after that one: not an error here.
    bool again_later = false;
};

struct DeviceRule {
    bool allow = false;
    char type = 'a';  // a, c, b
    int64_t major = -1, minor = -1;  // -1: any
    std::string access = "rwm";
};

struct ResourcePlan {
    std::vector<Write> writes;
    // cgroup v2 has no device files: the rules become an eBPF program.
    std::optional<size_t> device_hierarchy;
    std::vector<DeviceRule> device_rules;
    // v2 controllers that must be enabled in the ancestors' cgroup.subtree_control.
    std::vector<std::string> v2_controllers;
    // Settings the runtime-spec lets a runtime ignore and this host cannot apply.
    std::vector<std::string> warnings;
};

enum class PlanMode { create, update };

// The devices every container may use whatever its config says (as runc and crun
// allow them): the default nodes, mknod of anything, /dev/pts and /dev/console.
std::vector<DeviceRule> default_device_rules();
std::vector<DeviceRule> device_rules(const std::vector<oci::DeviceCgroup>& rules);

Result<ResourcePlan> plan_resources(const oci::Resources& r, const Layout& layout, PlanMode mode);

// What `update` applies besides what it was given, from the container's
// resources before it (runc's rules): a new memory limit keeps the old swap
// limit, and lifting the memory limit (-1) lifts a swap limit too, since
// memory+swap below an unlimited memory limit is refused.
void complete_update(oci::Resources& update, const oci::Resources& before);

// One function per controller and driver. Each appends to the plan; an error
// names the config field or the controller the host lacks.
namespace v1 {
Status memory(const oci::Resources& r, size_t h, PlanMode mode, ResourcePlan& plan);
Status cpu(const oci::Resources& r, size_t h, ResourcePlan& plan);
Status cpuset(const oci::Resources& r, size_t h, ResourcePlan& plan);
Status pids(const oci::Resources& r, size_t h, ResourcePlan& plan);
Status blkio(const oci::Resources& r, size_t h, ResourcePlan& plan);
Status hugetlb(const oci::Resources& r, size_t h, ResourcePlan& plan);
Status devices(const oci::Resources& r, size_t h, PlanMode mode, ResourcePlan& plan);
Status net_cls(const oci::Resources& r, size_t h, ResourcePlan& plan);
Status net_prio(const oci::Resources& r, size_t h, ResourcePlan& plan);
}  // namespace v1

namespace v2 {
Status memory(const oci::Resources& r, size_t h, PlanMode mode, ResourcePlan& plan);
Status cpu(const oci::Resources& r, size_t h, ResourcePlan& plan);
Status cpuset(const oci::Resources& r, size_t h, ResourcePlan& plan);
Status pids(const oci::Resources& r, size_t h, ResourcePlan& plan);
Status io(const oci::Resources& r, size_t h, ResourcePlan& plan);
Status hugetlb(const oci::Resources& r, size_t h, ResourcePlan& plan);
Status devices(const oci::Resources& r, size_t h, PlanMode mode, ResourcePlan& plan);
Status rdma(const oci::Resources& r, size_t h, ResourcePlan& plan);
Status unified(const oci::Resources& r, size_t h, ResourcePlan& plan);

// runtime-spec conversions from v1 units (the spec's fields) to v2 files.
uint64_t cpu_weight_from_shares(uint64_t shares);
uint64_t io_weight_from_blkio(uint64_t weight);
}  // namespace v2

// "2MB" -> the file name part the kernel uses ("2MB"); checks the format.
Result<std::string> hugepage_size(const std::string& page_size);

}  // namespace kapsel::cgroups
