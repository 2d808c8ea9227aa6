// Managing a running container through its cgroup: pause, resume, update, ps,
// events. cli/ parses the flags; the work is here.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "oci/spec.hpp"
#include "runtime/context.hpp"
#include "util/result.hpp"

namespace kapsel::runtime {

Status pause(const Globals& g, const std::string& id);
Status resume(const Globals& g, const std::string& id);

// Applies new resources to a container that has not stopped, and records them in
// its stored config. `given` is the JSON of the fields to change (runc's
// update --resources, or built from the flags).
Status update(const Globals& g, const std::string& id, const nlohmann::json& given);

// The pids (as the host sees them) of every process in the container.
Result<std::vector<pid_t>> pids(const Globals& g, const std::string& id);

struct EventsOptions {
    bool stats_once = false;  // --stats: one stats event, then exit
    int interval_ms = 5000;   // --interval
};
// Writes runc's event JSON lines ({"type":"stats"|"oom","id":..,"data":..}) to
// `emit` until the container stops (or once, with stats_once).
Status events(const Globals& g, const std::string& id, const EventsOptions& o,
              const std::function<void(const std::string&)>& emit);

// "100m", "1g", "512k", "1024", "-1" -> bytes (runc's units.RAMInBytes).
Result<int64_t> parse_bytes(const std::string& text);
// Go durations as runc's --interval takes them: "5s", "500ms", "1m", "1m30s".
Result<int> parse_duration_ms(const std::string& text);

}  // namespace kapsel::runtime
