// The OCI state of a container, as `kapsel state` prints it and as hooks read it
// on stdin, plus the fields runc adds that containerd and podman read (rootfs,
// created, owner).
#pragma once

#include <map>
#include <string>

#include "util/result.hpp"

namespace kapsel::oci {

enum class Status { creating, created, running, paused, stopped };
const char* status_name(Status s);

struct State {
    std::string oci_version;
    std::string id;
    Status status = Status::creating;
    int pid = 0;
    std::string bundle;
    std::string rootfs;
    std::string created;  // RFC 3339 with nanoseconds
    std::string owner;
    std::map<std::string, std::string> annotations;
};

// The JSON text: `kapsel state` output (indented) or a hook's stdin (compact).
std::string state_json(const State& s, bool pretty);

}  // namespace kapsel::oci
