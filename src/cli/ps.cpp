// kapsel ps [--format table|json] ID [ps options]
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/containers.hpp"
#include "runtime/manage.hpp"
#include "util/strings.hpp"

namespace kapsel::cli {

// Runs ps(1) with the caller's arguments and keeps the header and the lines of
// the container's processes, found by the PID column (as runc does).
static int ps_table(const std::vector<pid_t>& pids, std::vector<std::string> ps_args) {
    if (ps_args.empty()) ps_args = {"-ef"};
    int out[2];
    if (::pipe2(out, O_CLOEXEC) < 0) return fail(sys_error("pipe"));
    pid_t child = ::fork();
    if (child == 0) {
        ::dup2(out[1], 1);
        std::vector<char*> argv = {const_cast<char*>("ps")};
        for (auto& a : ps_args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execvp("ps", argv.data());
        std::fprintf(stderr, "kapsel: ps: exec ps: %s\n", errno_text(errno).c_str());
        ::_exit(127);
    }
    ::close(out[1]);
    std::string text;
    char buf[8192];
    ssize_t n;
    while ((n = ::read(out[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
    ::close(out[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return fail(make_error("ps: ps(1) failed"));
    auto lines = split(text, '\n');
    if (lines.empty()) return 0;
    // Which column is PID.
    auto header = split(std::string(trim(lines[0])), ' ');
    std::vector<std::string> cols;
    for (auto& c : header)
        if (!c.empty()) cols.push_back(c);
    size_t pid_col = cols.size();
    for (size_t i = 0; i < cols.size(); ++i)
        if (cols[i] == "PID") pid_col = i;
    if (pid_col == cols.size())
        return fail(make_error("ps: no PID column in the ps output; add -o pid"));
    std::set<pid_t> mine(pids.begin(), pids.end());
    std::printf("%s\n", lines[0].c_str());
    for (size_t l = 1; l < lines.size(); ++l) {
        std::vector<std::string> fields;
        for (auto& c : split(std::string(trim(lines[l])), ' '))
            if (!c.empty()) fields.push_back(c);
        if (fields.size() <= pid_col) continue;
        if (auto p = parse_int(fields[pid_col]); p && mine.count(static_cast<pid_t>(*p)))
            std::printf("%s\n", lines[l].c_str());
    }
    return 0;
}

// Without a container: the containers made from images (podman's ps).
static int list_containers(const Globals& g, bool all, bool quiet, const std::string& format) {
    auto list = runtime::list_containers(g, all);
    if (!list) return fail(list.error());
    if (quiet) {
        for (auto& c : *list) std::printf("%s\n", c.id.substr(0, 12).c_str());
        return 0;
    }
    if (format == "json") {
        nlohmann::ordered_json arr = nlohmann::ordered_json::array();
        for (auto& c : *list) {
            nlohmann::ordered_json j = {{"Id", c.id},           {"Names", {c.name}},
                                        {"Image", c.image},     {"ImageID", c.image_id},
                                        {"Command", c.command}, {"Created", c.created},
                                        {"State", c.status},    {"Pid", c.pid}};
            if (c.exit_code) j["ExitCode"] = *c.exit_code;
            arr.push_back(j);
        }
        std::printf("%s\n", arr.dump(2).c_str());
        return 0;
    }
    std::printf("%-14s %-36s %-24s %-22s %-16s %s\n", "CONTAINER ID", "IMAGE", "COMMAND", "CREATED",
                "STATUS", "NAMES");
    for (auto& c : *list) {
        std::string cmd = join(c.command, " ");
        if (cmd.size() > 22) cmd = cmd.substr(0, 21) + "~";
        std::string status = c.status;
        if (c.exit_code && status == "exited")
            status = "exited (" + std::to_string(*c.exit_code) + ")";
        std::printf("%-14s %-36s %-24s %-22s %-16s %s\n", c.id.substr(0, 12).c_str(),
                    c.image.c_str(), cmd.c_str(), c.created.substr(0, 19).c_str(), status.c_str(),
                    c.name.c_str());
    }
    return 0;
}

int ps_main(const Globals& g, const Args& args) {
    std::string format = "table";
    bool all = false, quiet = false;
    Flags f(
        "ps", "kapsel ps [options] [<container-id> [ps options]]",
        "With a container: its processes (runc's ps), as ps(1) filtered to them or as JSON pids.\n"
        "Without: the containers made from images (podman's ps), running ones unless -a.");
    f.option({"format", "f"}, &format, "table or json", "table|json");
    f.flag({"all", "a"}, &all, "also stopped containers (without a container argument)");
    f.flag({"quiet", "q"}, &quiet, "only ids (without a container argument)");
    bool all_quiet = false;
    f.flag({"aq", "qa"}, &all_quiet, "-a and -q, as podman users type them");
    auto pos = f.parse(args, /*stop_at_positional=*/true);
    if (!pos) return usage_error("ps", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (format != "table" && format != "json")
        return usage_error("ps", "--format must be table or json");
    if (all_quiet) all = quiet = true;
    if (pos->empty()) return list_containers(g, all, quiet, format);
    auto id = runtime::resolve_container(g, (*pos)[0]);
    if (!id) return fail(id.error());
    auto list = runtime::pids(g, *id);
    if (!list) return fail(list.error());
    if (format == "json") {
        std::printf("%s\n", nlohmann::json(*list).dump().c_str());
        return 0;
    }
    return ps_table(*list, Args(pos->begin() + 1, pos->end()));
}

}  // namespace kapsel::cli
