// kapsel images [--format table|json] [-q]
#include <time.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "image/store.hpp"

namespace kapsel::cli {

static std::string human_size(uint64_t b) {
    char buf[32];
    if (b >= 1000 * 1000 * 1000) std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
    else if (b >= 1000 * 1000) std::snprintf(buf, sizeof buf, "%.1f MB", b / 1e6);
    else std::snprintf(buf, sizeof buf, "%.1f kB", b / 1e3);
    return buf;
}

int images_main(const Globals& g, const Args& args) {
    std::string format = "table";
    bool quiet = false;
    Flags f("images", "kapsel images [options]", "List the images in the store.");
    f.option({"format"}, &format, "table or json", "table|json");
    f.flag({"quiet", "q"}, &quiet, "print only the image ids");
    auto pos = f.parse(args);
    if (!pos) return usage_error("images", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (format != "table" && format != "json") return usage_error("images", "--format must be table or json");
    auto store = image::Store::open(g.storage_root.empty() ? image::Store::default_root() : g.storage_root);
    if (!store) return fail(store.error());
    auto list = store->images();
    if (!list) return fail(list.error());
    if (quiet) {
        for (auto& r : *list) std::printf("%s\n", r.id.substr(7, 12).c_str());
        return 0;
    }
    if (format == "json") {
        nlohmann::ordered_json arr = nlohmann::ordered_json::array();
        for (auto& r : *list)
            arr.push_back({{"id", r.id}, {"names", r.names}, {"digest", r.manifest}, {"created", r.created},
                           {"size", r.size}, {"layers", r.layers}});
        std::printf("%s\n", arr.dump(2).c_str());
        return 0;
    }
    std::printf("%-45s %-12s %-14s %-22s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
    for (auto& r : *list) {
        std::vector<std::string> names = r.names.empty() ? std::vector<std::string>{"<none>:<none>"} : r.names;
        for (auto& n : names) {
            auto colon = n.rfind(':');
            std::string repo = colon == std::string::npos ? n : n.substr(0, colon);
            std::string tag = colon == std::string::npos ? "" : n.substr(colon + 1);
            std::printf("%-45s %-12s %-14s %-22s %s\n", repo.c_str(), tag.c_str(), r.id.substr(7, 12).c_str(),
                        r.created.substr(0, 19).c_str(), human_size(r.size).c_str());
        }
    }
    return 0;
}

}  // namespace kapsel::cli
