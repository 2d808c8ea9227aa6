// Applying a resource plan: the writes in order, each failure naming its file.
#include "cgroups/apply.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "cgroups/v2/devices.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

namespace kapsel::cgroups {
namespace {

Status write_value(const std::string& path, const std::string& value) {
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT)
            return Error{ENOENT, path + " does not exist: this kernel or cgroup setup has no such setting"};
        return sys_error("open " + path);
    }
    if (::write(fd.get(), value.data(), value.size()) < 0) return sys_error("write \"" + value + "\" to " + path);
    return {};
}

// v2: a controller works in a cgroup only when every ancestor enables it for
// its children (cgroup.subtree_control), from the hierarchy's root down.
Status enable_controllers(const std::string& mount, const std::string& dir, const std::vector<std::string>& wanted) {
    std::vector<std::string> ancestors;
    for (std::string d = fs::dirname(dir); d.size() >= mount.size(); d = fs::dirname(d)) {
        ancestors.push_back(d);
        if (d == mount || d == "/") break;
    }
    std::reverse(ancestors.begin(), ancestors.end());
    for (auto& a : ancestors) {
        auto available_r = fs::read_file(a + "/cgroup.controllers");
        auto enabled_r = fs::read_file(a + "/cgroup.subtree_control");
        std::string available = available_r ? *available_r : "";
        std::string enabled = enabled_r ? *enabled_r : "";
        auto has = [](const std::string& list, const std::string& c) {
            for (auto& x : split(std::string(trim(list)), ' '))
                if (x == c) return true;
            return false;
        };
        for (auto& c : wanted) {
            if (has(enabled, c)) continue;
            if (!has(available, c))
                return make_error("the " + c + " cgroup controller is not available in " + a +
                                  " (it is not enabled in its parent's cgroup.subtree_control)");
            auto st = write_value(a + "/cgroup.subtree_control", "+" + c);
            if (!st && st.error().code == EBUSY)
                return make_error("enable the " + c + " controller in " + a +
                                  ": the cgroup has processes of its own (cgroup v2 allows controllers only "
                                  "for cgroups without processes; give the container an absolute cgroupsPath)");
            KAPSEL_TRY(std::move(st));
        }
    }
    return {};
}

}  // namespace

Status apply_plan(const Layout& layout, const std::vector<std::string>& dirs, const ResourcePlan& plan) {
    for (auto& w : plan.warnings) log::warn(w);
    if (!plan.v2_controllers.empty()) {
        std::vector<std::string> wanted = plan.v2_controllers;
        std::sort(wanted.begin(), wanted.end());
        wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
        for (size_t i = 0; i < layout.hierarchies.size(); ++i)
            if (layout.hierarchies[i].v2) KAPSEL_TRY(enable_controllers(layout.hierarchies[i].mount_point, dirs[i], wanted));
    }
    for (auto& w : plan.writes) {
        std::string path = dirs[w.hierarchy] + "/" + w.file;
        std::string value = w.value;
        if (value.rfind("$keep", 0) == 0) {
            // cpu.max with a new period only: keep the current quota.
            auto cur = fs::read_file(path);
            std::string quota = cur ? split(std::string(trim(*cur)), ' ')[0] : "max";
            value = quota + value.substr(5);
        }
        log::debug("cgroup: write \"" + value + "\" to " + path);
        auto st = write_value(path, value);
        if (!st && st.error().code == EINVAL && w.again_later) continue;
        KAPSEL_TRY(std::move(st));
    }
    if (plan.device_hierarchy) {
        unique_fd dir(::open(dirs[*plan.device_hierarchy].c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir) return sys_error("open " + dirs[*plan.device_hierarchy]);
        KAPSEL_TRY(v2::attach_device_program(dir.get(), plan.device_rules));
    }
    return {};
}

}  // namespace kapsel::cgroups
