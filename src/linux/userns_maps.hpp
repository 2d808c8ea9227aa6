// Id maps of a user namespace made by a user without root. The kernel lets such a
// user write one line that maps its own id (gids only once setgroups is denied);
// any other map goes through the setuid newuidmap/newgidmap (Debian's uidmap), which
// allow the ranges /etc/subuid and /etc/subgid give the user. The ranges are checked
// here first, so a map the user is not entitled to is refused before anything exists.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "plan/plan.hpp"
#include "util/result.hpp"

namespace kapsel::linux {

// The user's name in /etc/passwd (newuidmap's key into /etc/subuid), else its number.
std::string user_name(uid_t uid);

struct IdRange {
    uint64_t start = 0, count = 0;
};

// The ranges of /etc/subuid or /etc/subgid ("name:start:count" per line) that belong
// to `user` (by name, or by the number `id` as newuidmap also accepts). Malformed
// lines are skipped, as newuidmap skips them.
std::vector<IdRange> subordinate_ranges(const std::string& text, const std::string& user,
                                        uint32_t id);

// Whether the maps need the helper: anything but one line mapping `own` alone.
bool needs_helper(const std::vector<plan::IdMap>& maps, uint32_t own);

// Each line must map the user's own id alone, or lie in one of its ranges. `field`
// ("linux.uidMappings") and `file` ("/etc/subuid") name them in the error.
Status check_entitled(const std::vector<plan::IdMap>& maps, uint32_t own,
                      const std::vector<IdRange>& ranges, const std::string& field,
                      const std::string& file, const std::string& user);

// newuidmap's/newgidmap's command line: PROGRAM PID inside outside count ...
std::vector<std::string> helper_argv(const std::string& program, pid_t pid,
                                     const std::vector<plan::IdMap>& maps);

// Checks the plan's maps against the host's files, for the calling user.
Status check_rootless_maps(const plan::Plan& plan);
// Writes the maps of `pid`'s user namespace as the calling (non-root) user.
Status write_rootless_maps(pid_t pid, const plan::Plan& plan);

}  // namespace kapsel::linux
