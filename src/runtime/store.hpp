// The state store under --root: one directory per container holding state.json
// (kapsel's record), config.json (the config as created), and exec.fifo while the
// container waits for `start`.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "oci/state.hpp"
#include "util/fd.hpp"
#include "util/proc.hpp"
#include "util/result.hpp"

namespace kapsel::runtime {

struct Record {
    std::string id;
    int pid = 0;
    uint64_t pid_start =
        0;  // start time of pid (/proc/PID/stat), so a reused pid is not mistaken for ours
    std::string bundle;
    std::string rootfs;
    std::string created;
    std::string owner;
    std::map<std::string, std::string> annotations;
    std::vector<std::string> cgroup_dirs;
    std::vector<std::string> cgroup_created;  // directories kapsel made (delete removes them)
    bool cgroup_v2 = false;
    bool started = false;  // `start` has run
    bool new_pid_ns =
        true;              // when false, kill --all / delete must use the cgroup to find processes
    bool mount_ns = true;  // when false, the container's mounts live in the host's namespace
};

class Store {
  public:
    explicit Store(std::string root) : root_(std::move(root)) {}
    const std::string& root() const { return root_; }
    std::string dir(const std::string& id) const { return root_ + "/" + id; }

    // Container ids are names: letters, digits, "_", "+", "-", "." (runc's rule).
    static Status validate_id(const std::string& id);

    // Creates the container's directory; an existing one means the id is taken.
    Status create_dir(const std::string& id);
    Status save(const Record& r);
    Result<Record> load(const std::string& id) const;
    bool exists(const std::string& id) const;
    Status remove(const std::string& id);
    Result<std::vector<std::string>> ids() const;

    // An exclusive lock on the container's directory for the duration of an operation.
    Result<unique_fd> lock(const std::string& id) const;

  private:
    std::string root_;
};

// process_start_time (util/proc.hpp) is the runtime's test for "still our init".
using ::kapsel::process_start_time;
// The container's status as of now: stopped, created, running or paused.
oci::Status current_status(const Store& store, const Record& r);
oci::State to_state(const Record& r, oci::Status status);
std::string now_rfc3339();

}  // namespace kapsel::runtime
