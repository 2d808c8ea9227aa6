// kapsel genode: a container as a Genode deployment. Makes the container's spec
// (from an image, as `kapsel run` would, or from a bundle's config.json), flattens
// its root file system into one tar, and writes the <start> node, or a sub-init
// config around it, as XML and/or HID. The mapping itself is genode/model.hpp.
#pragma once

#include <string>
#include <vector>

#include "plan/container_spec.hpp"
#include "runtime/context.hpp"
#include "util/result.hpp"

namespace kapsel::runtime {

struct GenodeExport {
    std::string image;         // IMAGE ...
    std::string bundle;        // ... or --bundle DIR
    plan::RunRequest request;  // with an image: the options `kapsel run` would take
    std::string user;          // -u, overrides the image's User
    std::string out_dir = ".";
    std::string name;  // the start node's name; "" = from the image or bundle
    bool subinit = false;
    bool xml = true, hid = true;
};

struct GenodeOutput {
    std::vector<std::string> dropped;  // "dropped WHAT: WHY", one line each
    std::vector<std::string> files;    // what was written
};

Result<GenodeOutput> export_genode(const Globals& g, const GenodeExport& o);

// "localhost/kapsel-busybox:latest" -> "kapsel-busybox"; a directory -> its name;
// characters a Genode name should not hold become '-'.
std::string genode_name(const std::string& image_or_dir);

}  // namespace kapsel::runtime
