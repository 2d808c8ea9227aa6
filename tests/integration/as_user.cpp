// AsUser: a test user in a private mount namespace (see as_user.hpp).
#include "as_user.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace kapsel::test {
namespace {

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

void put(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::trunc);
    f << text;
}

void own(const std::string& path, int mode) {
    if (::chown(path.c_str(), AsUser::kUid, AsUser::kGid) != 0 || ::chmod(path.c_str(), mode) != 0)
        throw std::runtime_error("chown/chmod " + path);
}

std::string quoted(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

}  // namespace

AsUser::AsUser(bool subordinate_ids) {
    own(base(), 0700);
    for (auto d : {home(), runtime_dir()}) {
        ::mkdir(d.c_str(), 0700);
        own(d, 0700);
    }
    // The files bound over the host's: root's, readable by all (as the host's are).
    std::string etc = base() + "/etc";
    ::mkdir(etc.c_str(), 0755);
    std::string name = kName, uid = std::to_string(kUid), gid = std::to_string(kGid);
    std::string range = std::to_string(kSubStart) + ":" + std::to_string(kSubCount) + "\n";
    put(etc + "/passwd", slurp("/etc/passwd") + name + ":x:" + uid + ":" + gid +
                             ":kapsel test:" + home() + ":/bin/sh\n");
    put(etc + "/group", slurp("/etc/group") + name + ":x:" + gid + ":\n");
    if (!subordinate_ids) range.clear();
    put(etc + "/subuid", slurp("/etc/subuid") + (range.empty() ? "" : name + ":" + range));
    put(etc + "/subgid", slurp("/etc/subgid") + (range.empty() ? "" : name + ":" + range));
    for (auto f : {"passwd", "group", "subuid", "subgid"}) ::chmod((etc + "/" + f).c_str(), 0644);
    // A host without one of the files (the qemu guest's /etc has only passwd and group)
    // offers nothing to bind over: a copy of its whole /etc with ours in it is bound
    // over /etc instead.
    for (auto f : {"passwd", "group", "subuid", "subgid"})
        whole_etc_ = whole_etc_ || access((std::string("/etc/") + f).c_str(), F_OK) != 0;
    if (whole_etc_) {
        std::string all = base() + "/etc-all";
        run_program({"/bin/cp", "-a", "/etc", all});
        for (auto f : {"passwd", "group", "subuid", "subgid"})
            run_program({"/bin/cp", etc + "/" + f, all + "/" + f});
    }
}

AsUser::~AsUser() {
    for (int round = 0; round < 50; ++round) {
        bool any = false;
        for (auto& e : std::filesystem::directory_iterator("/proc")) {
            std::string name = e.path().filename();
            if (name.find_first_not_of("0123456789") != std::string::npos) continue;
            std::istringstream status(slurp(e.path().string() + "/status"));
            for (std::string line; std::getline(status, line);) {
                if (line.rfind("Uid:", 0) != 0) continue;
                std::istringstream ids(line.substr(4));
                uint64_t uid = 0;
                ids >> uid;
                if (uid == kUid || (uid >= kSubStart && uid < uint64_t{kSubStart} + kSubCount)) {
                    ::kill(std::stoi(name), SIGKILL);
                    any = true;
                }
                break;
            }
        }
        if (!any) return;
        ::usleep(100000);
    }
}

std::string AsUser::make_dir(const std::string& name, int mode) const {
    std::string d = base() + "/" + name;
    ::mkdir(d.c_str(), static_cast<mode_t>(mode));
    own(d, mode);
    return d;
}

Output AsUser::run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                   const std::string& input, int timeout_ms) const {
    std::string etc = base() + "/etc";
    std::string script = "set -e\n";
    if (whole_etc_)
        script += "mount --bind " + quoted(base() + "/etc-all") + " /etc\n";
    else
        for (auto f : {"passwd", "group", "subuid", "subgid"})
            script += "mount --bind " + quoted(etc + "/" + f) + " /etc/" + f + "\n";
    if (!cgroup.empty()) script += "echo $$ > " + quoted(cgroup + "/cgroup.procs") + "\n";
    script += "exec setpriv --reuid=" + std::to_string(kUid) + " --regid=" + std::to_string(kGid) +
              " --clear-groups env -i HOME=" + quoted(home()) +
              " XDG_RUNTIME_DIR=" + quoted(runtime_dir()) + " USER=" + kName + " LOGNAME=" + kName +
              " PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
    for (auto& e : env) script += " " + quoted(e);
    script += " \"$@\"\n";
    std::vector<std::string> full{"/usr/bin/unshare", "--mount", "--propagation", "private",
                                  "/bin/sh",          "-c",      script,          "sh"};
    full.insert(full.end(), argv.begin(), argv.end());
    return run_program(full, input, timeout_ms);
}

Output AsUser::kapsel(const std::vector<std::string>& args,
                      const std::vector<std::string>& env) const {
    std::vector<std::string> argv{kapsel_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, env);
}

UserBundle::UserBundle(const AsUser& user, const std::string& script) {
    static std::atomic<int> n{0};
    dir_ = user.make_dir("bundle" + std::to_string(n++), 0755);
    Output cp = run_program({"/bin/cp", "-a", fixture_rootfs(), dir_ + "/rootfs"});
    if (cp.code != 0) throw std::runtime_error("copy rootfs: " + cp.err);
    Output ch = run_program({"/bin/chown", "-R",
                             std::to_string(AsUser::kUid) + ":" + std::to_string(AsUser::kGid),
                             dir_ + "/rootfs"});
    if (ch.code != 0) throw std::runtime_error("chown rootfs: " + ch.err);
    Output spec = user.kapsel({"spec", "--rootless", "--bundle", dir_});
    if (spec.code != 0) throw std::runtime_error("kapsel spec --rootless as the user: " + spec.err);
    config = json::parse(slurp(dir_ + "/config.json"));
    config["process"]["terminal"] = false;
    set_script(script);
}

void UserBundle::set_script(const std::string& script) {
    config["process"]["args"] = {"/bin/sh", "-c", script};
}

void UserBundle::write() const {
    put(dir_ + "/config.json", config.dump(2));
    ::chown((dir_ + "/config.json").c_str(), AsUser::kUid, AsUser::kGid);
}

void UserBundle::bind(const std::string& host, const std::string& inside) {
    config["mounts"].push_back({{"destination", inside},
                                {"type", "bind"},
                                {"source", host},
                                {"options", {"rbind", "rw"}}});
}

void UserBundle::drop_namespace(const std::string& type) {
    auto& ns = config["linux"]["namespaces"];
    for (auto it = ns.begin(); it != ns.end(); ++it)
        if ((*it)["type"] == type) {
            ns.erase(it);
            return;
        }
}

void UserBundle::map_subordinate_ids() {
    for (auto [key, own] :
         {std::pair{"uidMappings", AsUser::kUid}, std::pair{"gidMappings", AsUser::kGid}})
        config["linux"][key] = json::array({{{"containerID", 0}, {"hostID", own}, {"size", 1}},
                                            {{"containerID", 1},
                                             {"hostID", AsUser::kSubStart + 1},
                                             {"size", AsUser::kSubCount - 1}}});
}

}  // namespace kapsel::test
