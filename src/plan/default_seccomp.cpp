// Default seccomp profile.
#include "plan/default_seccomp.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace kapsel::plan {

std::vector<std::string> default_seccomp_allow(const std::vector<std::string>& known, const std::vector<std::string>& caps) {
    // What no container gets by default, and the capability that brings it back.
    static const std::map<std::string, std::string> gated = {
        {"acct", "CAP_SYS_PACCT"},
        {"bpf", "CAP_SYS_ADMIN"},
        {"clock_adjtime", "CAP_SYS_TIME"}, {"clock_settime", "CAP_SYS_TIME"}, {"settimeofday", "CAP_SYS_TIME"},
        {"stime", "CAP_SYS_TIME"}, {"adjtimex", "CAP_SYS_TIME"},
        {"create_module", "CAP_SYS_MODULE"}, {"delete_module", "CAP_SYS_MODULE"}, {"finit_module", "CAP_SYS_MODULE"},
        {"init_module", "CAP_SYS_MODULE"}, {"get_kernel_syms", "CAP_SYS_MODULE"}, {"query_module", "CAP_SYS_MODULE"},
        {"ioperm", "CAP_SYS_RAWIO"}, {"iopl", "CAP_SYS_RAWIO"},
        {"kcmp", "CAP_SYS_PTRACE"}, {"ptrace", "CAP_SYS_PTRACE"}, {"process_vm_readv", "CAP_SYS_PTRACE"},
        {"process_vm_writev", "CAP_SYS_PTRACE"}, {"pidfd_getfd", "CAP_SYS_PTRACE"},
        {"kexec_file_load", "CAP_SYS_BOOT"}, {"kexec_load", "CAP_SYS_BOOT"}, {"reboot", "CAP_SYS_BOOT"},
        {"lookup_dcookie", "CAP_SYS_ADMIN"}, {"mount", "CAP_SYS_ADMIN"}, {"umount", "CAP_SYS_ADMIN"},
        {"umount2", "CAP_SYS_ADMIN"}, {"mount_setattr", "CAP_SYS_ADMIN"}, {"move_mount", "CAP_SYS_ADMIN"},
        {"open_tree", "CAP_SYS_ADMIN"}, {"fsopen", "CAP_SYS_ADMIN"}, {"fsconfig", "CAP_SYS_ADMIN"},
        {"fsmount", "CAP_SYS_ADMIN"}, {"fspick", "CAP_SYS_ADMIN"}, {"pivot_root", "CAP_SYS_ADMIN"},
        {"quotactl", "CAP_SYS_ADMIN"}, {"quotactl_fd", "CAP_SYS_ADMIN"}, {"setns", "CAP_SYS_ADMIN"},
        {"unshare", "CAP_SYS_ADMIN"}, {"swapon", "CAP_SYS_ADMIN"}, {"swapoff", "CAP_SYS_ADMIN"},
        {"name_to_handle_at", "CAP_DAC_READ_SEARCH"}, {"open_by_handle_at", "CAP_DAC_READ_SEARCH"},
        {"perf_event_open", "CAP_PERFMON"}, {"syslog", "CAP_SYSLOG"},
        {"get_mempolicy", "CAP_SYS_NICE"}, {"mbind", "CAP_SYS_NICE"}, {"set_mempolicy", "CAP_SYS_NICE"},
        {"move_pages", "CAP_SYS_NICE"},
    };
    // Never by default: keyrings are not namespaced, the rest is obsolete or a
    // known attack surface.
    static const std::set<std::string> denied = {
        "add_key", "keyctl", "request_key", "nfsservctl", "sysfs", "_sysctl", "uselib", "userfaultfd", "ustat",
        "vm86", "vm86old", "clone3",  // clone3 takes flags in memory seccomp cannot check: ENOSYS, glibc falls back to clone
    };
    std::set<std::string> have(caps.begin(), caps.end());
    std::vector<std::string> out;
    for (auto& name : known) {
        if (denied.count(name)) continue;
        if (auto g = gated.find(name); g != gated.end() && !have.count(g->second)) continue;
        out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

}  // namespace kapsel::plan
