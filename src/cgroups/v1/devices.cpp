// cgroup v1 devices controller: the config's rules in their order (the
// runtime-spec requires it), then the devices every container may use.
#include "cgroups/resources.hpp"

namespace kapsel::cgroups::v1 {

static std::string rule_text(const DeviceRule& d) {
    std::string t(1, d.type);
    if (d.type == 'a') return "a";
    auto num = [](int64_t v) { return v < 0 ? std::string("*") : std::to_string(v); };
    return t + " " + num(d.major) + ":" + num(d.minor) + " " + d.access;
}

Status devices(const oci::Resources& r, size_t h, PlanMode mode, ResourcePlan& plan) {
    auto rules = device_rules(r.devices);
    for (auto& d : rules) {
        if (d.type != 'a' && d.type != 'c' && d.type != 'b')
            return make_error("linux.resources.devices: unknown device type \"" + std::string(1, d.type) + "\"");
        if (d.access.find_first_not_of("rwm") != std::string::npos)
            return make_error("linux.resources.devices: access \"" + d.access + "\" is not made of r, w and m");
    }
    for (auto& d : rules) plan.writes.push_back({h, d.allow ? "devices.allow" : "devices.deny", rule_text(d)});
    if (mode == PlanMode::create)
        for (auto& d : default_device_rules()) plan.writes.push_back({h, "devices.allow", rule_text(d)});
    return {};
}

}  // namespace kapsel::cgroups::v1
