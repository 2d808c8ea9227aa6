// See pasta.hpp.
#include "network/pasta.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "util/fs.hpp"
#include "util/proc.hpp"
#include "util/spawn.hpp"
#include "util/strings.hpp"

namespace kapsel::network {

std::string pasta_port_spec(const PortMapping& p) {
    auto range = [&](uint16_t first) {
        std::string s = std::to_string(first);
        if (p.range > 1) s += "-" + std::to_string(unsigned{first} + p.range - 1);
        return s;
    };
    std::string spec = range(p.host_port) + ":" + range(p.container_port);
    return p.host_ip.empty() ? spec : p.host_ip + "/" + spec;
}

std::string pasta_pid_file(const std::string& netns) {
    return netns + ".pasta.pid";
}

void stop_pasta(const std::string& netns) {
    std::string pid_file = pasta_pid_file(netns);
    auto text = fs::read_file(pid_file);
    ::unlink(pid_file.c_str());
    if (!text) return;
    pid_t pid = static_cast<pid_t>(std::atoi(text->c_str()));
    auto program = find_pasta();
    // pasta is passt, which runs on as passt.avx2 where the CPU has AVX2.
    char real[PATH_MAX];
    if (!program || !::realpath(program->c_str(), real)) return;
    for (std::string bin : {std::string(real), std::string(real) + ".avx2"}) {
        struct stat st {};
        if (::stat(bin.c_str(), &st) == 0 && process_runs(pid, st)) {
            ::kill(pid, SIGTERM);
            return;
        }
    }
}

std::vector<std::string> pasta_args(const std::string& netns, const std::vector<PortMapping>& ports,
                                    const std::string& pid_file, bool as_root) {
    std::vector<std::string> tcp, udp;
    for (auto& p : ports) (p.protocol == "udp" ? udp : tcp).push_back(pasta_port_spec(p));
    std::vector<std::string> a = {"--config-net", "--netns", netns, "--pid", pid_file, "--quiet",
                                  // Its messages go nowhere but its exit status: no syslog here.
                                  "--log-file", "/dev/null",
                                  "--dns-forward", kPastaDns, "--no-map-gw",
                                  "-T", "none", "-U", "none"};
    if (as_root) a.insert(a.end(), {"--runas", "0:0"});
    // One spec per option: pasta takes a comma list, but an address applies to a whole spec.
    if (tcp.empty()) a.insert(a.end(), {"-t", "none"});
    for (auto& s : tcp) a.insert(a.end(), {"-t", s});
    if (udp.empty()) a.insert(a.end(), {"-u", "none"});
    for (auto& s : udp) a.insert(a.end(), {"-u", s});
    return a;
}

Result<std::string> find_pasta() {
    if (const char* env = std::getenv("KAPSEL_PASTA"); env && *env) {
        if (::access(env, X_OK) != 0) return sys_error(std::string("KAPSEL_PASTA: run ") + env);
        return std::string(env);
    }
    if (::access("/usr/bin/pasta", X_OK) == 0) return std::string("/usr/bin/pasta");
    return make_error("pasta is not installed (apt install passt), which --network pasta needs");
}

Status check_tun() {
    int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return sys_error("a user-mode network (pasta, slirp4netns) needs /dev/net/tun, which this user cannot open (it is often mode "
                         "0600: make it 0666, or use --network private, none or host); open /dev/net/tun");
    ::close(fd);
    return {};
}

Status start_pasta(const std::string& program, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {program};
    argv.insert(argv.end(), args.begin(), args.end());
    // pasta goes on in the background: to init, not to a subreaper kapsel.
    Completed c = KAPSEL_TRY(run_program_unreaped(argv, "", 64 * 1024, std::chrono::seconds(30)));
    if (!c.exited_ok()) {
        std::string why(trim(c.err.empty() ? c.out : c.err));
        if (why.size() > 300) why = why.substr(0, 300) + "...";
        return make_error("pasta: " + (why.empty() ? "exit status " + std::to_string(c.status) : why));
    }
    return {};
}

}  // namespace kapsel::network
