// The user namespace an ordinary user's image verbs run in, mapped as podman maps it:
// 0 is the user, 1..N its subordinate ids. There a layer's files get their real owners
// (chown to 33 is chown to the user's subordinate id for 33) and the user's store, whose
// files belong to those ids, can be read, changed and removed without root.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "linux/userns_maps.hpp"
#include "plan/plan.hpp"
#include "util/result.hpp"

namespace kapsel::linux {

struct SessionMaps {
    std::vector<plan::IdMap> uid_map, gid_map;
    // Set when a file gives the user no range: only its own id is mapped.
    std::string warning;
};

// podman's mapping: 0 -> own id, then each range in order from 1 on. Without ranges
// (in either file) the single-id mapping and a warning naming what is missing.
SessionMaps session_maps(uid_t uid, gid_t gid, const std::vector<IdRange>& uid_ranges,
                         const std::vector<IdRange>& gid_ranges, const std::string& user);

// Moves the calling process (single-threaded, not root) into a new user namespace
// with session_maps() of its ranges and a mount namespace of its own, as uid and gid 0
// there. The maps are written by a child that stays outside (newuidmap must run in the
// parent namespace). Prints the warning, if any, on stderr.
Status enter_user_session();

}  // namespace kapsel::linux
