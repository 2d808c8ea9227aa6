// kapsel ps [--format table|json] ID [ps options]
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

#include "cli/args.hpp"
#include "cli/commands.hpp"
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
    if (pid_col == cols.size()) return fail(make_error("ps: no PID column in the ps output; add -o pid"));
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

int ps_main(const Globals& g, const Args& args) {
    std::string format = "table";
    Flags f("ps", "kapsel ps [options] <container-id> [ps options]",
            "Show the container's processes: ps(1) filtered to them, or their pids as JSON.");
    f.option({"format", "f"}, &format, "table or json", "table|json");
    auto pos = f.parse(args, /*stop_at_positional=*/true);
    if (!pos) return usage_error("ps", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->empty()) return usage_error("ps", "expects a container id");
    if (format != "table" && format != "json") return usage_error("ps", "--format must be table or json");
    auto list = runtime::pids(g, (*pos)[0]);
    if (!list) return fail(list.error());
    if (format == "json") {
        std::printf("%s\n", nlohmann::json(*list).dump().c_str());
        return 0;
    }
    return ps_table(*list, Args(pos->begin() + 1, pos->end()));
}

}  // namespace kapsel::cli
