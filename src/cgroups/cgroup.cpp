// cgroup drivers: v1 (a directory per hierarchy) and v2 (one directory).
#include "cgroups/cgroup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "cgroups/apply.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/proc.hpp"
#include "util/strings.hpp"

namespace kapsel::cgroups {
namespace {

// The processes in a cgroup and in every cgroup below it (a container may make
// its own sub-cgroups; their processes are the container's too).
Result<std::vector<pid_t>> read_pids(const std::string& dir) {
    std::string text = KAPSEL_TRY(fs::read_file(dir + "/cgroup.procs"));
    std::vector<pid_t> out;
    for (auto& line : split(text, '\n'))
        if (auto n = parse_int(trim(line))) out.push_back(static_cast<pid_t>(*n));
    if (DIR* d = ::opendir(dir.c_str())) {
        std::vector<std::string> subs;
        while (dirent* e = ::readdir(d))
            if (e->d_type == DT_DIR && e->d_name[0] != '.') subs.push_back(dir + "/" + e->d_name);
        ::closedir(d);
        for (auto& sub : subs) {
            auto more = read_pids(sub);
            if (more) out.insert(out.end(), more->begin(), more->end());
        }
    }
    return out;
}

// rmdir, retrying briefly: the kernel releases a cgroup a moment after its last task
// exits, usually within a few hundred microseconds (`run` deletes right after the
// exit): so the waits start short and double, up to 5 ms, for about a second in all.
Status remove_dir(const std::string& dir) {
    auto wait = std::chrono::microseconds(100);
    for (auto waited = std::chrono::microseconds(0); waited < std::chrono::seconds(1); waited += wait) {
        if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return {};
        if (errno != EBUSY) return sys_error("remove cgroup " + dir);
        std::this_thread::sleep_for(wait);
        wait = std::min(wait * 2, std::chrono::microseconds(5000));
    }
    return sys_error("remove cgroup " + dir, EBUSY);
}

// Removes a cgroup directory and its sub-cgroups, deepest first.
Status remove_recursive(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return errno == ENOENT ? Status{} : sys_error("open cgroup " + dir);
    std::vector<std::string> subs;
    while (dirent* e = ::readdir(d))
        if (e->d_type == DT_DIR && std::string_view(e->d_name) != "." &&
            std::string_view(e->d_name) != "..")
            subs.push_back(dir + "/" + e->d_name);
    ::closedir(d);
    for (auto& s : subs) KAPSEL_TRY(remove_recursive(s));
    return remove_dir(dir);
}

class CgroupImpl final : public Cgroup {
  public:
    CgroupImpl(const Layout& layout, std::vector<std::string> dirs,
               std::vector<std::string> created)
        : layout_(layout), dirs_(std::move(dirs)), created_(std::move(created)) {
        // No directories: a rootless container without a cgroup of its own (rootless.hpp);
        // it then has no hierarchy for any loop below to index.
        if (dirs_.empty()) layout_ = Layout{};
        for (size_t i = 0; i < layout_.hierarchies.size() && i < dirs_.size(); ++i)
            if (layout_.hierarchies[i].v2) {
                v2fd_.reset(::open(dirs_[i].c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
                break;
            }
    }

    const std::vector<std::string>& dirs() const override { return dirs_; }
    const std::vector<std::string>& created() const override { return created_; }
    bool v2() const override { return layout_.unified; }
    int clone_fd() const override { return v2fd_.get(); }

    Result<std::vector<TasksFile>> tasks_files() const override {
        std::vector<TasksFile> out;
        for (size_t i = 0; i < layout_.hierarchies.size() && i < dirs_.size(); ++i) {
            if (layout_.hierarchies[i].v2) continue;
            std::string path = dirs_[i] + "/tasks";
            unique_fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
            if (!fd) return sys_error("open " + path);
            out.push_back({path, std::move(fd)});
        }
        return out;
    }

    Status add_process(pid_t pid) override {
        for (auto& d : dirs_) KAPSEL_TRY(fs::write_file(d + "/cgroup.procs", std::to_string(pid)));
        return {};
    }

    Result<std::vector<pid_t>> pids() const override {
        if (dirs_.empty()) return std::vector<pid_t>{};
        // The v1 hierarchy that always exists with a task list: pids, else the first.
        size_t pick = 0;
        for (size_t i = 0; i < layout_.hierarchies.size(); ++i)
            if (layout_.hierarchies[i].name == "pids" || layout_.hierarchies[i].name == "freezer")
                pick = i;
        return read_pids(dirs_[pick]);
    }

    Status apply(const oci::Resources& r, PlanMode mode) override {
        ResourcePlan plan = KAPSEL_TRY(plan_resources(r, layout_, mode));
        // Rootless (a subtree delegated to a user): the eBPF device filter needs the
        // host's CAP_BPF and CAP_SYS_ADMIN, which a user lacks. Its container is in a
        // user namespace, where no device node can be made and a bound one keeps the
        // host's permissions, so runc and crun skip the filter there too.
        if (rootless()) {
            plan.device_hierarchy.reset();
            plan.device_rules.clear();
        }
        return apply_plan(layout_, dirs_, plan);
    }
    Status freeze() override {
        std::string dir = freezer_dir();
        if (dirs_.empty())
            return make_error("pause: the container has no cgroup of its own (rootless, without a "
                              "delegated cgroup v2 subtree)");
        if (dir.empty()) return make_error("pause: no freezer cgroup controller on this host");
        return set_frozen(dir, true);
    }
    Status thaw() override {
        std::string dir = freezer_dir();
        if (dirs_.empty())
            return make_error("resume: the container has no cgroup of its own (rootless, without a "
                              "delegated cgroup v2 subtree)");
        if (dir.empty()) return make_error("resume: no freezer cgroup controller on this host");
        return set_frozen(dir, false);
    }
    bool frozen() const override {
        std::string dir = freezer_dir();
        if (dir.empty()) return false;
        if (layout_.unified) {
            auto t = fs::read_file(dir + "/cgroup.freeze");
            return t && trim(*t) == "1";
        }
        auto t = fs::read_file(dir + "/freezer.state");
        return t && trim(*t) != "THAWED";
    }
    Result<nlohmann::json> stats() const override { return read_stats(layout_, dirs_); }
    uint64_t oom_kills() const override { return read_oom_kills(layout_, dirs_); }
    std::string memory_dir() const override { return dir_of("memory"); }

    Status kill_all(int sig) override {
        // An empty cgroup needs no freezing (the common case at delete).
        auto first = pids();
        if (first && first->empty()) return {};
        // Freeze first so no process can fork a child we would miss.
        std::string freezer = freezer_dir();
        bool frozen = false;
        if (!freezer.empty() && sig == SIGKILL && !this->frozen()) frozen = static_cast<bool>(set_frozen(freezer, true));
        auto list = pids();
        Status st;
        if (!list)
            st = std::move(list).error();
        else
            for (pid_t p : *list)
                if (::kill(p, sig) < 0 && errno != ESRCH)
                    st = sys_error("kill " + std::to_string(p));
        // SIGKILL reaches frozen tasks only once they thaw.
        if (frozen || (sig == SIGKILL && this->frozen())) (void)set_frozen(freezer, false);
        return st;
    }

    Status destroy() override {
        // The container's directories go with everything below them (a container
        // may have made sub-cgroups). Parents that a failed create made are removed
        // too, unless something else now lives in them.
        Status first;
        for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
            if (!created_.empty() &&
                std::find(created_.begin(), created_.end(), *it) == created_.end())
                continue;
            auto st = remove_recursive(*it);
            if (!st && first) first = st;
        }
        for (auto it = created_.rbegin(); it != created_.rend(); ++it)
            if (std::find(dirs_.begin(), dirs_.end(), *it) == dirs_.end()) ::rmdir(it->c_str());
        return first;
    }

    std::vector<linux::CgroupView> views() const override {
        std::vector<linux::CgroupView> out;
        for (size_t i = 0; i < layout_.hierarchies.size(); ++i) {
            auto& h = layout_.hierarchies[i];
            linux::CgroupView v;
            v.v2 = h.v2;
            v.name = layout_.unified ? "" : h.name;
            v.fs_option = h.v2 ? "" : join(h.controllers, ",");
            v.host_path = dirs_[i];
            out.push_back(v);
        }
        return out;
    }

  private:
    std::string freezer_dir() const {
        for (size_t i = 0; i < layout_.hierarchies.size(); ++i) {
            if (layout_.unified) return dirs_[i];
            if (layout_.hierarchies[i].name == "freezer") return dirs_[i];
        }
        return "";
    }


    Status set_frozen(const std::string& dir, bool on) const {
        if (layout_.unified) {
            KAPSEL_TRY(fs::write_file(dir + "/cgroup.freeze", on ? "1" : "0"));
            // cgroup.events says "frozen 1" once every task has stopped.
            for (int i = 0; i < 5000; ++i) {
                auto s = fs::read_file(dir + "/cgroup.events");
                if (s && s->find(on ? "frozen 1" : "frozen 0") != std::string::npos) return {};
                std::this_thread::sleep_for(std::chrono::microseconds(200));
            }
            return make_error((on ? "freeze " : "thaw ") + dir + ": timed out");
        }
        KAPSEL_TRY(fs::write_file(dir + "/freezer.state", on ? "FROZEN" : "THAWED"));
        for (int i = 0; i < 5000; ++i) {
            auto s = fs::read_file(dir + "/freezer.state");
            if (s && trim(*s) == (on ? "FROZEN" : "THAWED")) return {};
            // A v1 freeze can stall on a task in an uninterruptible sleep: ask again.
            if (on && i % 500 == 499) (void)fs::write_file(dir + "/freezer.state", "FROZEN");
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        if (on) (void)fs::write_file(dir + "/freezer.state", "THAWED");
        return make_error((on ? "freeze " : "thaw ") + dir + ": timed out");
    }

    // The directory of the hierarchy that handles `controller` (v1 first, then v2).
    std::string dir_of(const std::string& controller) const {
        for (size_t i = 0; i < layout_.hierarchies.size(); ++i)
            if (!layout_.hierarchies[i].v2)
                for (auto& c : layout_.hierarchies[i].controllers)
                    if (c == controller) return dirs_[i];
        for (size_t i = 0; i < layout_.hierarchies.size(); ++i)
            if (layout_.hierarchies[i].v2)
                for (auto& c : layout_.hierarchies[i].controllers)
                    if (c == controller) return dirs_[i];
        return "";
    }

    Layout layout_;
    std::vector<std::string> dirs_;
    std::vector<std::string> created_;
    unique_fd v2fd_;
};

// v1 cpuset: a new cgroup has empty cpus/mems and refuses tasks until they are set.
Status init_cpuset(const std::string& mount, const std::string& dir) {
    if (dir == mount) return {};
    KAPSEL_TRY(init_cpuset(mount, fs::dirname(dir)));
    for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
        auto cur = fs::read_file(dir + "/" + file);
        if (cur && !trim(*cur).empty()) continue;
        std::string parent = KAPSEL_TRY(fs::read_file(fs::dirname(dir) + "/" + file));
        KAPSEL_TRY(fs::write_file(dir + "/" + file, std::string(trim(parent))));
    }
    return {};
}

// Why a process put into these directories now would be stopped at once, or "" when
// it would not: a v1 freezer.state other than THAWED (it also reports a frozen
// parent), or a cgroup.freeze of 1 on a v2 directory or on any of its parents (the
// unified hierarchy of a hybrid host freezes as well).
std::string frozen_by(const Layout& layout, const std::vector<std::string>& dirs) {
    for (size_t i = 0; i < layout.hierarchies.size() && i < dirs.size(); ++i) {
        auto& h = layout.hierarchies[i];
        if (h.v2) {
            for (std::string d = dirs[i]; d.size() > h.mount_point.size(); d = fs::dirname(d)) {
                auto t = fs::read_file(d + "/cgroup.freeze");
                if (t && trim(*t) == "1") return d + "/cgroup.freeze is 1";
            }
            continue;
        }
        if (std::find(h.controllers.begin(), h.controllers.end(), "freezer") == h.controllers.end())
            continue;
        auto t = fs::read_file(dirs[i] + "/freezer.state");
        if (t && trim(*t) != "THAWED")
            return dirs[i] + "/freezer.state is " + std::string(trim(*t));
    }
    return "";
}

}  // namespace

std::vector<std::string> resolve_dirs(const Layout& layout, const std::string& cgroups_path,
                                      const std::string& id) {
    std::string p = cgroups_path.empty() ? id : cgroups_path;
    if (p.empty()) p = "/";
    std::vector<std::string> out;
    for (size_t i = 0; i < layout.hierarchies.size(); ++i) {
        std::string inner = p.front() == '/' ? p : fs::join(layout.own_paths[i], p);
        out.push_back(
            fs::clean(fs::join(layout.hierarchies[i].mount_point, fs::clean("/" + inner))));
    }
    return out;
}

Result<std::unique_ptr<Cgroup>> create(const Layout& layout, const std::vector<std::string>& dirs) {
    std::vector<std::string> created;
    auto undo = [&] {
        for (auto it = created.rbegin(); it != created.rend(); ++it) ::rmdir(it->c_str());
    };
    for (size_t i = 0; i < dirs.size(); ++i) {
        auto& h = layout.hierarchies[i];
        // mkdir -p, remembering what was new so a failed create removes exactly that.
        std::vector<std::string> chain;
        for (std::string d = dirs[i]; d.size() > h.mount_point.size(); d = fs::dirname(d))
            chain.push_back(d);
        for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
            if (::mkdir(it->c_str(), 0755) == 0)
                created.push_back(*it);
            else if (errno != EEXIST) {
                int e = errno;
                undo();
                return sys_error("create cgroup " + *it, e);
            }
        }
        bool has_cpuset = false;
        for (auto& c : h.controllers) has_cpuset = has_cpuset || c == "cpuset";
        // cgroup v1 only: on v2 an empty cpuset.cpus already means "inherit".
        if (has_cpuset && !h.v2) {
            auto st = init_cpuset(h.mount_point, dirs[i]);
            if (!st) {
                undo();
                return std::move(st).error();
            }
        }
    }
    // The init would be frozen before its first instruction and create would wait for
    // it forever. runc refuses with this text (and hangs on a frozen unified hierarchy).
    if (std::string why = frozen_by(layout, dirs); !why.empty()) {
        undo();
        return make_error("container's cgroup unexpectedly frozen: " + why +
                          "; thaw it or choose another cgroupsPath");
    }
    auto cg = std::make_unique<CgroupImpl>(layout, dirs, created);
    // Joining a cgroup that other processes use is allowed (the spec lets a runtime
    // share one); runc 1.1 warns with this text, which callers look for.
    bool existed = std::any_of(dirs.begin(), dirs.end(), [&](const std::string& d) {
        return std::find(created.begin(), created.end(), d) == created.end();
    });
    if (existed)
        if (auto pids = cg->pids(); pids && !pids->empty())
            log::warn("container's cgroup is not empty: " + std::to_string(pids->size()) +
                      " process(es) found");
    return std::unique_ptr<Cgroup>(std::move(cg));
}

std::unique_ptr<Cgroup> open(const Layout& layout, const std::vector<std::string>& dirs,
                             const std::vector<std::string>& created) {
    return std::unique_ptr<Cgroup>(new CgroupImpl(layout, dirs, created));
}

}  // namespace kapsel::cgroups
