// config.json -> parse_spec -> plan::build -> the Genode deployment in XML and HID, and
// linux.resources -> the cgroup writes and the v2 device program on a v1 and a v2 host.
// A bundle's config may come from anyone who can hand kapsel a bundle (a CI job, a
// podman caller), so every path through parsing and planning ends in a value or an
// error, never a crash, and the Genode writers carry only what they can quote.
#include "cgroups/resources.hpp"
#include "cgroups/v2/devices.hpp"
#include "fuzz.hpp"
#include "genode/model.hpp"
#include "oci/spec.hpp"
#include "plan/build.hpp"
#include "util/strings.hpp"

using namespace kapsel;

namespace {

// Two hosts: every controller in cgroup v1 hierarchies (hugetlb and rdma in cgroup2
// beside them, as on a hybrid host), and pure cgroup v2.
cgroups::Layout hybrid() {
    cgroups::Layout l;
    for (const char* c : {"memory", "cpu,cpuacct", "cpuset", "pids", "blkio", "devices", "net_cls,net_prio"})
        l.hierarchies.push_back({.mount_point = std::string("/sys/fs/cgroup/") + c,
                                 .controllers = split(c, ','), .v2 = false, .name = c});
    l.hierarchies.push_back({.mount_point = "/sys/fs/cgroup/unified", .controllers = {"hugetlb", "rdma"},
                             .v2 = true, .name = "unified"});
    l.own_paths.assign(l.hierarchies.size(), "/");
    return l;
}

cgroups::Layout v2() {
    cgroups::Layout l;
    l.unified = true;
    l.hierarchies.push_back({.mount_point = "/sys/fs/cgroup",
                             .controllers = {"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"},
                             .v2 = true, .name = ""});
    l.own_paths = {"/"};
    return l;
}

void plan_cgroups(const oci::Resources& r) {
    static const cgroups::Layout layouts[] = {hybrid(), v2()};
    for (auto& layout : layouts)
        for (auto mode : {cgroups::PlanMode::create, cgroups::PlanMode::update})
            if (auto p = cgroups::plan_resources(r, layout, mode); p && p->device_hierarchy)
                (void)cgroups::v2::device_program(p->device_rules);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto spec = oci::parse_spec(fuzz::text(data, size));
    if (!spec) return 0;
    if (spec->linux_ && spec->linux_->resources) plan_cgroups(*spec->linux_->resources);
    auto plan = plan::build(*spec, {.id = "fuzz", .bundle = "/bundle"});
    if (!plan) return 0;
    auto d = genode::deploy(*plan, *spec, {.name = "fuzz", .tar = "fuzz.tar", .sockets = true});
    if (!d) return 0;
    genode::add_scratch_dirs(d->start, {"tmp", "var/tmp"});
    genode::Node node = genode::subinit_node(*d);
    fuzz::check_node(node);
    (void)genode::to_xml(node);
    (void)genode::to_hid(node);
    return 0;
}
