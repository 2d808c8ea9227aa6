// exec's process: config or process.json, then the command-line overrides.
#include "plan/exec.hpp"

#include "plan/build.hpp"
#include "plan/names.hpp"

namespace kapsel::plan {

Result<Process> exec_process(const std::optional<oci::Process>& config_process,
                             const ExecRequest& r, bool in_user_ns) {
    oci::Process base;
    base.cwd = "/";
    if (r.process_file) {
        base = *r.process_file;
    } else {
        if (config_process) base = *config_process;
        if (r.args.empty()) return make_error("exec needs a command to run, or --process");
        // runc: a terminal only when asked for, whatever the config says.
        base.terminal = false;
    }
    if (!r.args.empty()) base.args = r.args;
    if (r.tty) base.terminal = true;
    if (!r.cwd.empty()) {
        if (r.cwd.front() != '/')
            return make_error("--cwd \"" + r.cwd + "\": must be an absolute path");
        base.cwd = r.cwd;
    }
    for (auto& e : r.env) {
        auto eq = e.find('=');
        if (eq == std::string::npos || eq == 0)
            return make_error("--env \"" + e + "\": expected NAME=VALUE");
        std::string_view name(e.data(), eq + 1);
        std::erase_if(base.env, [&](const std::string& have) { return have.starts_with(name); });
        base.env.push_back(e);
    }
    if (r.uid) base.user.uid = *r.uid;
    if (r.gid) base.user.gid = *r.gid;
    base.user.additional_gids.insert(base.user.additional_gids.end(), r.additional_gids.begin(),
                                     r.additional_gids.end());
    if (!r.apparmor_profile.empty()) base.apparmor_profile = r.apparmor_profile;
    if (!r.selinux_label.empty()) base.selinux_label = r.selinux_label;
    if (r.no_new_privileges) base.no_new_privileges = true;

    auto built = build_process(base, in_user_ns);
    if (!built) {
        if (r.process_file) return std::move(built).error().context(r.origin);
        return std::move(built).error();
    }
    Process p = std::move(built).take();
    for (auto& name : r.add_caps) {
        auto n = capability_number(name);
        if (!n) return make_error("--cap \"" + name + "\": unknown capability");
        if (!p.has_caps) continue;
        uint64_t bit = uint64_t{1} << *n;
        p.caps.bounding |= bit;
        p.caps.effective |= bit;
        p.caps.permitted |= bit;
        p.caps.inheritable |= bit;
        p.caps.ambient |= bit;
    }
    return p;
}

}  // namespace kapsel::plan
