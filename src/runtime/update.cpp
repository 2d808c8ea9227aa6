// update: new linux.resources for a live container, applied to its cgroup and
// kept in its stored config.
#include <cctype>

#include "cgroups/cgroup.hpp"
#include "runtime/manage.hpp"
#include "runtime/store.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::runtime {

Result<int64_t> parse_bytes(const std::string& text) {
    std::string t = to_lower(trim(text));
    if (t == "-1") return -1;
    size_t i = 0;
    while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
    if (i == 0) return make_error("\"" + text + "\" is not a size (like 512m or 1g)");
    auto parsed = parse_decimal(t.substr(0, i));
    if (!parsed) return make_error("\"" + text + "\" is not a size (like 512m or 1g)");
    double num = *parsed;
    std::string unit = std::string(trim(t.substr(i)));
    if (unit.size() > 1 && unit.back() == 'b') unit.pop_back();   // "mb", "kib" -> "m", "ki"
    if (unit.size() > 1 && unit.back() == 'i') unit.pop_back();
    double mult = 1;
    if (unit.empty()) mult = 1;
    else if (unit == "k") mult = 1024.0;
    else if (unit == "m") mult = 1024.0 * 1024;
    else if (unit == "g") mult = 1024.0 * 1024 * 1024;
    else if (unit == "t") mult = 1024.0 * 1024 * 1024 * 1024;
    else if (unit == "p") mult = 1024.0 * 1024 * 1024 * 1024 * 1024;
    else return make_error("\"" + text + "\" has an unknown unit (k, m, g, t or p)");
    // Past 2^63 the conversion below would be undefined, and no limit is that large.
    if (num * mult >= 9.2e18) return make_error("\"" + text + "\" is too large a size");
    return static_cast<int64_t>(num * mult);
}

Status update(const Globals& g, const std::string& id, const nlohmann::json& given) {
    Store store(g.root);
    Record rec = KAPSEL_TRY(store.load(id));
    unique_fd lock = KAPSEL_TRY(store.lock(id));
    oci::Status s = current_status(store, rec);
    if (s == oci::Status::stopped) return make_error("cannot update container \"" + id + "\": it is stopped");
    if (rec.cgroup_dirs.empty())
        return make_error("cannot update container \"" + id +
                          "\": it has no cgroup of its own (rootless, without a delegated cgroup v2 subtree)");
    oci::Resources r = KAPSEL_TRY(oci::parse_resources(given.dump(), "resources"));
    auto layout = KAPSEL_TRY(cgroups::detect());
    auto cg = cgroups::open(layout, rec.cgroup_dirs);

    // Merged with what the container had, so checkBeforeUpdate and the stored
    // config see the whole picture.
    std::string config_path = store.dir(id) + "/config.json";
    auto config = nlohmann::json::parse(KAPSEL_TRY(fs::read_file(config_path)), nullptr, false);
    if (config.is_discarded()) return make_error("stored config of container \"" + id + "\" is corrupt");
    nlohmann::json& current = config["linux"]["resources"];
    if (!current.is_object()) current = nlohmann::json::object();
    oci::Resources before =
        KAPSEL_TRY(oci::parse_resources(current.dump(), "stored linux.resources"));
    cgroups::complete_update(r, before);
    // The stored config records what was applied, the completed swap included.
    nlohmann::json applied = given;
    if (r.memory && r.memory->swap) applied["memory"]["swap"] = *r.memory->swap;
    nlohmann::json merged = current;
    merged.update(applied, /*merge_objects=*/true);
    oci::Resources all = KAPSEL_TRY(oci::parse_resources(merged.dump(), "resources"));

    if (r.memory && r.memory->limit && *r.memory->limit > 0 && all.memory &&
        all.memory->check_before_update.value_or(false)) {
        auto st = cg->stats();
        if (st) {
            uint64_t usage = (*st)["memory"]["usage"].value("usage", uint64_t{0});
            if (usage > static_cast<uint64_t>(*r.memory->limit))
                return make_error("memory limit " + std::to_string(*r.memory->limit) + " is below the current usage " +
                                  std::to_string(usage) + " (memory.checkBeforeUpdate)");
        }
    }
    KAPSEL_TRY(cg->apply(r, cgroups::PlanMode::update));
    current = merged;
    return fs::write_file_atomic(config_path, config.dump(), 0600);
}

}  // namespace kapsel::runtime
