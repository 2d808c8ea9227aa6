// Doing what a ResourcePlan says, and reading a cgroup's statistics. Shared by
// the cgroup drivers; the deciding is in resources.cpp and v1/, v2/.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cgroups/layout.hpp"
#include "cgroups/resources.hpp"
#include "util/result.hpp"

namespace kapsel::cgroups {

// Enables the plan's v2 controllers in the ancestors, writes each file in
// order, attaches the v2 device program. `dirs` are the container's directories
// in layout order.
Status apply_plan(const Layout& layout, const std::vector<std::string>& dirs, const ResourcePlan& plan);

// runc's stats event data ("cpu", "memory", "pids", "blkio", "hugetlb").
Result<nlohmann::json> read_stats(const Layout& layout, const std::vector<std::string>& dirs);
uint64_t read_oom_kills(const Layout& layout, const std::vector<std::string>& dirs);

}  // namespace kapsel::cgroups
