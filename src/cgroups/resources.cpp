// Routing linux.resources to the drivers: each controller goes to its v1
// hierarchy where the host mounts one, else to the cgroup2 hierarchy where that
// controller is available (on a hybrid host, hugetlb lives there).
#include "cgroups/resources.hpp"


namespace kapsel::cgroups {
namespace {

struct Route {
    size_t index = 0;
    bool v2 = false;
};

std::optional<Route> route(const Layout& layout, const std::string& controller) {
    for (size_t i = 0; i < layout.hierarchies.size(); ++i) {
        auto& h = layout.hierarchies[i];
        if (h.v2) continue;
        for (auto& c : h.controllers)
            if (c == controller) return Route{i, false};
    }
    for (size_t i = 0; i < layout.hierarchies.size(); ++i) {
        auto& h = layout.hierarchies[i];
        if (!h.v2) continue;
        for (auto& c : h.controllers)
            if (c == controller) return Route{i, true};
    }
    return std::nullopt;
}

Error missing(const std::string& what, const std::string& controller) {
    return make_error("linux.resources." + what + ": the " + controller +
                      " cgroup controller is not available on this host");
}

}  // namespace

std::vector<DeviceRule> default_device_rules() {
    return {
        {true, 'c', -1, -1, "m"},  {true, 'b', -1, -1, "m"},   // mknod of anything; opening is what counts
        {true, 'c', 1, 3, "rwm"},  {true, 'c', 1, 5, "rwm"},   // null, zero
        {true, 'c', 1, 7, "rwm"},  {true, 'c', 1, 8, "rwm"},   // full, random
        {true, 'c', 1, 9, "rwm"},  {true, 'c', 5, 0, "rwm"},   // urandom, tty
        {true, 'c', 5, 1, "rwm"},  {true, 'c', 5, 2, "rwm"},   // console, ptmx
        {true, 'c', 136, -1, "rwm"},                          // /dev/pts/*
    };
}

std::vector<DeviceRule> device_rules(const std::vector<oci::DeviceCgroup>& rules) {
    std::vector<DeviceRule> out;
    for (auto& d : rules) {
        DeviceRule r;
        r.allow = d.allow;
        r.type = d.type.empty() ? 'a' : d.type[0];
        r.major = d.major.value_or(-1);
        r.minor = d.minor.value_or(-1);
        r.access = d.access.empty() ? "rwm" : d.access;
        out.push_back(r);
    }
    return out;
}

Result<std::string> hugepage_size(const std::string& page_size) {
    size_t digits = 0;
    while (digits < page_size.size() && page_size[digits] >= '0' && page_size[digits] <= '9') ++digits;
    std::string unit = page_size.substr(digits);
    bool ok = digits > 0 && (unit == "KB" || unit == "MB" || unit == "GB" || unit == "TB" || unit == "PB");
    if (!ok)
        return make_error("linux.resources.hugepageLimits: page size \"" + page_size + "\" is not like 2MB or 1GB");
    return page_size;
}

void complete_update(oci::Resources& update, const oci::Resources& before) {
    if (!update.memory || !update.memory->limit || update.memory->swap) return;
    if (!before.memory || !before.memory->swap) return;
    update.memory->swap = *update.memory->limit == -1 ? -1 : *before.memory->swap;
}

Result<ResourcePlan> plan_resources(const oci::Resources& r, const Layout& layout, PlanMode mode) {
    ResourcePlan plan;
    auto with = [&](const char* controller, const char* field, bool wanted, auto&& v1_fn, auto&& v2_fn) -> Status {
        if (!wanted) return {};
        auto rt = route(layout, controller);
        if (!rt) return missing(field, controller);
        if (rt->v2) {
            plan.v2_controllers.push_back(controller);
            return v2_fn(rt->index);
        }
        return v1_fn(rt->index);
    };

    bool mem = r.memory.has_value();
    KAPSEL_TRY(with("memory", "memory", mem, [&](size_t h) { return v1::memory(r, h, mode, plan); },
                    [&](size_t h) { return v2::memory(r, h, mode, plan); }));
    bool cpu = r.cpu && (r.cpu->shares || r.cpu->quota || r.cpu->period || r.cpu->burst || r.cpu->realtime_runtime ||
                         r.cpu->realtime_period || r.cpu->idle);
    KAPSEL_TRY(with("cpu", "cpu", cpu, [&](size_t h) { return v1::cpu(r, h, plan); },
                    [&](size_t h) { return v2::cpu(r, h, plan); }));
    bool cpuset = r.cpu && (!r.cpu->cpus.empty() || !r.cpu->mems.empty());
    KAPSEL_TRY(with("cpuset", "cpu.cpus", cpuset, [&](size_t h) { return v1::cpuset(r, h, plan); },
                    [&](size_t h) { return v2::cpuset(r, h, plan); }));
    KAPSEL_TRY(with("pids", "pids", r.has_pids && r.pids_limit.has_value(), [&](size_t h) { return v1::pids(r, h, plan); },
                    [&](size_t h) { return v2::pids(r, h, plan); }));
    if (r.block_io) {
        auto rt = route(layout, "blkio");
        auto rt2 = rt ? rt : route(layout, "io");
        if (!rt2) return missing("blockIO", "blkio/io");
        if (rt2->v2) {
            plan.v2_controllers.push_back("io");
            KAPSEL_TRY(v2::io(r, rt2->index, plan));
        } else {
            KAPSEL_TRY(v1::blkio(r, rt2->index, plan));
        }
    }
    KAPSEL_TRY(with("hugetlb", "hugepageLimits", !r.hugepage_limits.empty(),
                    [&](size_t h) { return v1::hugetlb(r, h, plan); }, [&](size_t h) { return v2::hugetlb(r, h, plan); }));
    if (r.network && r.network->class_id) {
        auto rt = route(layout, "net_cls");
        if (!rt || rt->v2) return missing("network.classID", "net_cls");
        KAPSEL_TRY(v1::net_cls(r, rt->index, plan));
    }
    if (r.network && !r.network->priorities.empty()) {
        auto rt = route(layout, "net_prio");
        if (!rt || rt->v2) return missing("network.priorities", "net_prio");
        KAPSEL_TRY(v1::net_prio(r, rt->index, plan));
    }
    if (!r.rdma.empty()) {
        auto rt = route(layout, "rdma");
        if (!rt || !rt->v2) return missing("rdma", "rdma (cgroup v2)");
        plan.v2_controllers.push_back("rdma");
        KAPSEL_TRY(v2::rdma(r, rt->index, plan));
    }
    if (!r.unified.empty()) {
        // "unified" is for a cgroup v2 host only (runtime-spec).
        std::optional<size_t> v2;
        for (size_t i = 0; i < layout.hierarchies.size(); ++i)
            if (layout.hierarchies[i].v2) v2 = i;
        if (!layout.unified || !v2)
            return make_error("linux.resources.unified: needs a cgroup v2 host (this one mounts cgroup v1)");
        KAPSEL_TRY(v2::unified(r, *v2, plan));
    }
    // Devices are always planned at create: without rules the defaults still apply.
    if (mode == PlanMode::create || !r.devices.empty()) {
        auto rt = route(layout, "devices");
        if (rt) {
            KAPSEL_TRY(v1::devices(r, rt->index, mode, plan));
        } else if (layout.unified) {
            KAPSEL_TRY(v2::devices(r, 0, mode, plan));
        } else if (!r.devices.empty()) {
            return missing("devices", "devices");
        }
    }
    return plan;
}

}  // namespace kapsel::cgroups
