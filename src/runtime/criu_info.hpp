// What CRIU can do on this host, for `kapsel features`: its version, whether
// `criu check` passes, and the kernel features checkpoint modes depend on.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "runtime/context.hpp"

namespace kapsel::runtime {

struct CriuInfo {
    std::string binary;
    std::string version;      // "4.1.1"; empty when CRIU does not run
    bool check = false;       // `criu check` passes
    std::string check_error;  // its first error line otherwise
    // Soft-dirty page tracking (`criu check --feature mem_dirty_track`): needed by
    // pre-dump and iterative migration.
    bool memory_tracking = false;
    // userfaultfd for non-cooperative processes (`--feature uffd-noncoop`): needed by
    // lazy (post-copy) restore.
    bool lazy_pages = false;
    // Whether hardware breakpoints fire here; where they do not, kapsel runs CRIU
    // without them (plan::criu_environment).
    bool hardware_breakpoints = false;
};

// Runs the four CRIU queries at once (about 0.15 s in all). Checks need root;
// as another user they report false.
CriuInfo criu_info(const Globals& g);

// As runtime-spec features annotations: "io.github.kapsel.criu.*" keys.
std::vector<std::pair<std::string, std::string>> criu_annotations(const CriuInfo& info);

}  // namespace kapsel::runtime
