#include "runtime/bundle.hpp"

#include "plan/build.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::runtime {

Result<Bundle> load_bundle(const std::string& dir, const std::string& id) {
    Bundle b;
    b.dir = fs::absolute(dir.empty() ? "." : dir);
    // The bundle's path goes into the OCI state and the hooks' stdin, which are JSON:
    // a path JSON cannot carry is refused here, before anything is made.
    if (!valid_utf8(b.dir))
        return make_error("bundle path is not valid UTF-8 (the OCI state, JSON, cannot hold it)");
    std::string path = b.dir + "/config.json";
    auto text = fs::read_file(path);
    if (!text) {
        if (text.error().code == ENOENT)
            return make_error("bundle " + b.dir + " has no config.json");
        return std::move(text).error();
    }
    b.config_text = std::move(text).take();
    b.spec = KAPSEL_TRY(oci::parse_spec(b.config_text, path));
    b.plan = KAPSEL_TRY_CTX(plan::build(b.spec, {id, b.dir}), path);
    return b;
}

}  // namespace kapsel::runtime
