// A stand-in for CRIU that fails the way a real one can, for the tests of what
// kapsel does when CRIU hangs or dies (checkpoint_test.cpp). Called as
//   criu_standin hang|die <criu arguments>
// dump/pre-dump: freezes the container's cgroup (--freeze-cgroup) and seizes
// every process in it with ptrace, as CRIU does before it injects its parasite;
// then hangs forever (as CRIU 4.1.1 does when hardware breakpoints never fire) or
// dies by SIGKILL, leaving the cgroup frozen. restore: forks a "restored" process
// (in the cgroup it was started in) and hangs, or exits 1 with an error logged.
// Each step is logged to --work-dir/--log-file, as CRIU logs.
#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string arg(int argc, char** argv, const std::string& name) {
    for (int i = 1; i + 1 < argc; ++i)
        if (name == argv[i]) return argv[i + 1];
    return "";
}

std::ofstream logf;

void say(const std::string& line) {
    logf << "(00.000000) " << line << "\n";
    logf.flush();
}

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    out.flush();
    return bool(out);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void freeze(const std::string& dir) {
    bool v1 = access((dir + "/freezer.state").c_str(), F_OK) == 0;
    if (v1)
        write_file(dir + "/freezer.state", "FROZEN");
    else
        write_file(dir + "/cgroup.freeze", "1");
    for (int i = 0; i < 200; ++i) {
        std::string state =
            v1 ? read_file(dir + "/freezer.state") : read_file(dir + "/cgroup.events");
        if (v1 ? state.rfind("FROZEN", 0) == 0 : state.find("frozen 1") != std::string::npos)
            return;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

[[noreturn]] void fail_as(const std::string& mode) {
    if (mode == "die") {
        say("Error (stand-in): the parasite died");
        raise(SIGKILL);
    }
    say("stand-in: waiting for a trap that never comes");
    for (;;) pause();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) return 2;
    std::string mode = argv[1], verb = argv[2];
    std::string work = arg(argc, argv, "--work-dir");
    logf.open(work + "/" + arg(argc, argv, "--log-file"));
    if (verb == "dump" || verb == "pre-dump") {
        std::string cg = arg(argc, argv, "--freeze-cgroup");
        say("stand-in: freezing " + cg);
        freeze(cg);
        std::ifstream procs(cg + "/cgroup.procs");
        for (pid_t pid; procs >> pid;) {
            if (ptrace(PTRACE_SEIZE, pid, nullptr, nullptr) == 0)
                say("stand-in: seized " + std::to_string(pid));
            else
                say("Error (stand-in): cannot seize " + std::to_string(pid));
        }
        fail_as(mode);
    }
    if (verb == "restore") {
        pid_t child = fork();
        if (child == 0) {
            for (;;) pause();
        }
        say("stand-in: restored pid " + std::to_string(child));
        if (mode == "die") {
            say("Error (stand-in): restore failed midway");
            return 1;
        }
        fail_as(mode);
    }
    say("Error (stand-in): unknown verb " + verb);
    return 1;
}
