// A container's record in the store (see container_meta.hpp).
#include "runtime/container_meta.hpp"

#include "util/fs.hpp"

namespace kapsel::runtime {

std::string meta_path(const image::Store& s, const std::string& id) {
    return s.container_dir(id) + "/container.json";
}

Result<nlohmann::json> read_meta(const image::Store& s, const std::string& id) {
    std::string text = KAPSEL_TRY(fs::read_file(meta_path(s, id)));
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return make_error("container " + id + ": container.json is corrupt");
    return j;
}

Status write_meta(const image::Store& s, const std::string& id, const nlohmann::json& j) {
    return fs::write_file_atomic(meta_path(s, id), j.dump(1), 0600);
}

}  // namespace kapsel::runtime
