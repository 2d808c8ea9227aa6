// kapsel events [--stats] [--interval DURATION] ID
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/containers.hpp"
#include "runtime/manage.hpp"

namespace kapsel::cli {

int events_main(const Globals& g, const Args& args) {
    runtime::EventsOptions o;
    std::string interval = "5s";
    Flags f("events", "kapsel events [options] <container-id>",
            "Print runc's event JSON, one object per line: \"stats\" events at an interval\n"
            "(cpu, memory, pids, blkio, hugetlb) and an \"oom\" event when the OOM killer acts,\n"
            "until the container stops.");
    f.flag({"stats"}, &o.stats_once, "print one stats event and exit");
    f.option({"interval"}, &interval, "time between stats events (5s, 500ms, ...)", "duration");
    auto pos = f.parse(args);
    if (!pos) return usage_error("events", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->size() != 1) return usage_error("events", "expects exactly one container id");
    auto ms = runtime::parse_duration_ms(interval);
    if (!ms) return usage_error("events", "--interval: " + ms.error().message);
    o.interval_ms = *ms;
    auto id = runtime::runtime_id(g, (*pos)[0]);
    if (!id) return fail(id.error());
    auto st = runtime::events(g, *id, o, [](const std::string& line) {
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
    });
    return st ? 0 : fail(st.error());
}

}  // namespace kapsel::cli
