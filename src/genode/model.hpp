// Plan + Spec -> the Genode deployment of one container: the <start> node an init
// needs (quotas, binary, libc, VFS, arguments, environment, routes), the sub-init
// config around it, and what the spec asks for that Genode cannot give. Deciding
// only: no files are read or written here (runtime/genode.cpp does that).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "genode/node.hpp"
#include "oci/spec.hpp"
#include "plan/plan.hpp"
#include "util/result.hpp"

namespace kapsel::genode {

// Quotas. ram is linux.resources.memory.limit (Genode charges a <ram/> file system
// to the component, as Linux charges tmpfs pages to the memory cgroup), else the
// default. caps: kCapsBase for the program (ld.lib.so, libc, the VFS and its
// sessions) and kCapsPerProcess for each further process that linux.resources.pids
// allows (Genode's libc forks into children paid from the same quota), counting
// kDefaultProcesses without a limit and at most kMaxProcesses.
inline constexpr uint64_t kDefaultRam = 64ull << 20;
inline constexpr uint64_t kCapsBase = 300;
inline constexpr uint64_t kCapsPerProcess = 200;
inline constexpr int64_t kDefaultProcesses = 2;
inline constexpr int64_t kMaxProcesses = 16;

// The shared libraries every libc program loads, each routed by name.
inline constexpr const char* kRuntimeLibraries[] = {"ld.lib.so", "libc.lib.so", "libm.lib.so",
                                                    "posix.lib.so", "vfs.lib.so"};

struct Route {
    std::string service;     // "ROM", "PD", "File_system", ...
    std::string label_attr;  // "" (any label), "label" or "label_last"
    std::string label;
    bool operator==(const Route&) const = default;
};

struct Libc {
    std::string stdin_path, stdout_path, stderr_path, rtc, rng, pipe, socket, cwd;  // "" = not set
};

struct Start {
    std::string name;
    uint64_t caps = 0, ram = 0;
    std::string binary;  // ROM module: the last element of process.args[0]
    Libc libc;
    Node vfs;
    std::vector<std::string> args;                         // argv, argv[0] as given
    std::vector<std::pair<std::string, std::string>> env;  // name, value
    std::vector<Route> routes;                             // every one to the parent
};

// Something the spec asks for that has no Genode equivalent: printed "dropped what: why".
struct Dropped {
    std::string what, why;
};

struct Deployment {
    Start start;
    std::vector<std::string> parent_provides;  // what the sub-init needs from its parent
    std::vector<Route> default_route;
    std::vector<Dropped> dropped;
};

struct Options {
    std::string name;  // the start node's name
    std::string tar;   // ROM module holding the root file system
    // Sockets (lwIP on a Nic session) when the spec has a network namespace; false
    // for one that is meant to stay empty (`--network none`).
    bool sockets = true;
};

Result<Deployment> deploy(const plan::Plan& plan, const oci::Spec& spec, const Options& o);

// Gives each of `dirs` (paths in the image, such as "tmp" and "var/tmp": the world-
// writable sticky directories that programs expect to create files in) a RAM file
// system of its own: the one stacked above the tar can create files only in the
// directories it has. Not with a read-only root, and not where a mount already is.
void add_scratch_dirs(Start& s, const std::vector<std::string>& dirs);

Node start_node(const Start& s);
// The config of an init that runs only the container: parent-provides, default-route, start.
Node subinit_node(const Deployment& d);

// Bytes as Genode writes them: "64M", "1536K", or plain bytes.
std::string format_bytes(uint64_t n);

}  // namespace kapsel::genode
