// events: runc's event stream. Stats at an interval, and an "oom" event the
// moment the kernel's OOM killer acts in the container's memory cgroup.
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "cgroups/cgroup.hpp"
#include "runtime/manage.hpp"
#include "runtime/process.hpp"
#include "runtime/store.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::runtime {

Result<int> parse_duration_ms(const std::string& text) {
    // Go's time.ParseDuration for what people pass here: "5s", "250ms", "1m30s", "1h".
    std::string t(trim(text));
    if (t.empty()) return make_error("empty duration");
    double total = 0;
    size_t i = 0;
    while (i < t.size()) {
        size_t start = i;
        while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
        if (start == i) return make_error("\"" + text + "\" is not a duration (like 5s or 500ms)");
        auto parsed = parse_decimal(t.substr(start, i - start));
        if (!parsed) return make_error("\"" + text + "\" is not a duration (like 5s or 500ms)");
        double n = *parsed;
        size_t ustart = i;
        while (i < t.size() && std::isalpha(static_cast<unsigned char>(t[i]))) ++i;
        std::string unit = t.substr(ustart, i - ustart);
        if (unit == "ms") total += n;
        else if (unit == "s") total += n * 1000;
        else if (unit == "m") total += n * 60000;
        else if (unit == "h") total += n * 3600000;
        else if (unit == "us" || unit == "µs") total += n / 1000;
        else return make_error("\"" + text + "\" has an unknown unit (ms, s, m or h)");
    }
    if (total < 1) return make_error("duration \"" + text + "\" is too short");
    if (total > 86400000.0 * 365) return make_error("duration \"" + text + "\" is too long");
    return static_cast<int>(total);
}

namespace {

// An fd that becomes readable when the OOM killer acts: v2 inotify on
// memory.events; v1 the cgroup.event_control eventfd on memory.oom_control.
struct OomWatch {
    unique_fd fd;
    bool v2 = false;
};

Result<OomWatch> watch_oom(const cgroups::Cgroup& cg) {
    std::string dir = cg.memory_dir();
    OomWatch w;
    if (dir.empty()) return w;
    if (fs::exists(dir + "/memory.events") && !fs::exists(dir + "/memory.oom_control")) {
        w.v2 = true;
        w.fd.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
        if (!w.fd || ::inotify_add_watch(w.fd.get(), (dir + "/memory.events").c_str(), IN_MODIFY) < 0)
            return sys_error("watch " + dir + "/memory.events");
        return w;
    }
    unique_fd control(::open((dir + "/memory.oom_control").c_str(), O_RDONLY | O_CLOEXEC));
    if (!control) return sys_error("open " + dir + "/memory.oom_control");
    w.fd.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!w.fd) return sys_error("eventfd");
    std::string reg = std::to_string(w.fd.get()) + " " + std::to_string(control.get());
    KAPSEL_TRY(fs::write_file(dir + "/cgroup.event_control", reg));
    return w;
}

}  // namespace

Status events(const Globals& g, const std::string& id, const EventsOptions& o,
              const std::function<void(const std::string&)>& emit) {
    Store store(g.root);
    Record rec = KAPSEL_TRY(store.load(id));
    oci::Status status = current_status(store, rec);
    if (status == oci::Status::stopped) return make_error("container \"" + id + "\" is stopped");
    auto layout = KAPSEL_TRY(cgroups::detect());
    auto cg = cgroups::open(layout, rec.cgroup_dirs);
    auto stats_event = [&]() -> Status {
        nlohmann::json data = KAPSEL_TRY(cg->stats());
        // runc's key order (type, id, data): tools match these lines literally.
        nlohmann::ordered_json ev = {{"type", "stats"}, {"id", id}, {"data", data}};
        emit(ev.dump());
        return {};
    };
    if (o.stats_once) return stats_event();

    OomWatch oom = KAPSEL_TRY(watch_oom(*cg));
    uint64_t oom_seen = cg->oom_kills();
    unique_fd init = open_init(rec);
    if (!init) return make_error("container \"" + id + "\" is stopped");

    timespec next{};
    clock_gettime(CLOCK_MONOTONIC, &next);
    KAPSEL_TRY(stats_event());
    auto now_ms = [] {
        timespec t{};
        clock_gettime(CLOCK_MONOTONIC, &t);
        return static_cast<int64_t>(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
    };
    int64_t due = now_ms() + o.interval_ms;
    while (true) {
        pollfd fds[2] = {{init.get(), POLLIN, 0}, {oom.fd ? oom.fd.get() : -1, POLLIN, 0}};
        int wait = static_cast<int>(std::max<int64_t>(0, due - now_ms()));
        int n = ::poll(fds, 2, wait);
        if (n < 0 && errno != EINTR) return sys_error("poll");
        if (n > 0 && (fds[1].revents & POLLIN)) {
            char buf[4096];
            while (::read(oom.fd.get(), buf, sizeof buf) > 0) {
            }
            // v2 memory.events changes for other counters too: report real kills only.
            uint64_t kills = cg->oom_kills();
            if (!oom.v2 || kills > oom_seen) emit(nlohmann::ordered_json({{"type", "oom"}, {"id", id}}).dump());
            oom_seen = kills;
        }
        if (n > 0 && (fds[0].revents & POLLIN)) {
            // The container stopped; an OOM kill that ended it may not have
            // reached the watch yet.
            if (cg->oom_kills() > oom_seen) emit(nlohmann::ordered_json({{"type", "oom"}, {"id", id}}).dump());
            return {};
        }
        if (now_ms() >= due) {
            KAPSEL_TRY(stats_event());
            due = now_ms() + o.interval_ms;
        }
    }
}

}  // namespace kapsel::runtime
