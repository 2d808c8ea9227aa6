// The global options every runtime operation sees (runc's global flags).
#pragma once

#include <string>

namespace kapsel::runtime {

struct Globals {
    std::string root = "/run/kapsel";  // state directory (--root)
    std::string criu;                  // --criu PATH
    std::string storage_root;          // --storage-root (images, containers' layers); "": KAPSEL_STORAGE or /var/lib/kapsel
    bool systemd_cgroup = false;       // --systemd-cgroup
    bool debug = false;
};

}  // namespace kapsel::runtime
