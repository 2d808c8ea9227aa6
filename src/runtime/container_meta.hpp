// A container-from-an-image's record in the store: containers/ID/container.json (its
// name, image, layers, monitor, options), read and written whole.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "image/store.hpp"
#include "util/result.hpp"

namespace kapsel::runtime {

// Where the record is: containers/ID/container.json.
std::string meta_path(const image::Store& s, const std::string& id);
// The record; an error naming the container if it is missing or not JSON.
Result<nlohmann::json> read_meta(const image::Store& s, const std::string& id);
// Replaces the record atomically (0600).
Status write_meta(const image::Store& s, const std::string& id, const nlohmann::json& j);

}  // namespace kapsel::runtime
