// linux.resources.unified: cgroup v2 files set by name, after everything else so
// they win over the values derived from the typed fields.
#include "cgroups/resources.hpp"

namespace kapsel::cgroups::v2 {

Status unified(const oci::Resources& r, size_t h, ResourcePlan& plan) {
    for (auto& [key, value] : r.unified) {
        // Only a file of this cgroup: "memory.high", never a path.
        if (key.empty() || key.find('/') != std::string::npos || key.find('.') == std::string::npos || key[0] == '.')
            return make_error("linux.resources.unified: \"" + key + "\" is not a cgroup file name");
        if (key.rfind("cgroup.", 0) == 0 && key != "cgroup.max.depth" && key != "cgroup.max.descendants")
            return make_error("linux.resources.unified: \"" + key + "\" is the runtime's to manage");
        std::string controller = key.substr(0, key.find('.'));
        if (controller != "cgroup") plan.v2_controllers.push_back(controller);
        plan.writes.push_back({h, key, value});
    }
    return {};
}

}  // namespace kapsel::cgroups::v2
