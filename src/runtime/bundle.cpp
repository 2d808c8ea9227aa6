#include "runtime/bundle.hpp"

#include "plan/build.hpp"
#include "util/fs.hpp"

namespace kapsel::runtime {

Result<Bundle> load_bundle(const std::string& dir, const std::string& id) {
    Bundle b;
    b.dir = fs::absolute(dir.empty() ? "." : dir);
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
