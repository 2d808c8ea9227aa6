// OCI state JSON.
#include "oci/state.hpp"

#include <nlohmann/json.hpp>

#include "oci/spec.hpp"

namespace kapsel::oci {

const char* status_name(Status s) {
    switch (s) {
        case Status::creating:
            return "creating";
        case Status::created:
            return "created";
        case Status::running:
            return "running";
        case Status::paused:
            return "paused";
        case Status::stopped:
            return "stopped";
    }
    return "unknown";
}

std::string state_json(const State& s, bool pretty) {
    nlohmann::ordered_json j;
    j["ociVersion"] = s.oci_version.empty() ? kSpecVersion : s.oci_version;
    j["id"] = s.id;
    j["pid"] = s.status == Status::stopped ? 0 : s.pid;
    j["status"] = status_name(s.status);
    j["bundle"] = s.bundle;
    if (!s.rootfs.empty()) j["rootfs"] = s.rootfs;
    if (!s.created.empty()) j["created"] = s.created;
    if (!s.owner.empty()) j["owner"] = s.owner;
    if (!s.annotations.empty()) j["annotations"] = s.annotations;
    return pretty ? j.dump(2) : j.dump();
}

}  // namespace kapsel::oci
