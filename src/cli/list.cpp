// kapsel list [--format table|json] [-q]
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/lifecycle.hpp"

namespace kapsel::cli {

int list_main(const Globals& g, const Args& args) {
    std::string format = "table";
    bool quiet = false;
    Flags f("list", "kapsel list [options]", "List the containers under --root.");
    f.option({"format", "f"}, &format, "table or json", "table|json");
    f.flag({"quiet", "q"}, &quiet, "print only the container ids");
    auto pos = f.parse(args);
    if (!pos) return usage_error("list", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (format != "table" && format != "json")
        return usage_error("list", "--format must be table or json");
    auto states = runtime::list(g);
    if (!states) return fail(states.error());
    if (quiet) {
        for (auto& s : *states) std::printf("%s\n", s.id.c_str());
        return 0;
    }
    if (format == "json") {
        nlohmann::ordered_json arr = nlohmann::ordered_json::array();
        for (auto& s : *states)
            arr.push_back(nlohmann::ordered_json::parse(oci::state_json(s, false)));
        std::printf("%s\n", arr.dump().c_str());
        return 0;
    }
    std::printf("%-20s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED",
                "OWNER");
    for (auto& s : *states)
        std::printf("%-20s %-8d %-10s %-40s %-30s %s\n", s.id.c_str(),
                    s.status == oci::Status::stopped ? 0 : s.pid, oci::status_name(s.status),
                    s.bundle.c_str(), s.created.c_str(),
                    s.owner.c_str());
    return 0;
}

}  // namespace kapsel::cli
