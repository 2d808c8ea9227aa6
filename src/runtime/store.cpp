// State store.
#include "runtime/store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cgroups/layout.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::runtime {

using json = nlohmann::json;

Status Store::validate_id(const std::string& id) {
    if (id.empty()) return make_error("container id is empty");
    if (id == "." || id == "..") return make_error("invalid container id \"" + id + "\"");
    if (id.size() > 1024) return make_error("container id is too long");
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '+' || c == '-' || c == '.';
        if (!ok)
            return make_error("invalid container id \"" + id +
                              "\": use letters, digits, _ + - and .");
    }
    return {};
}

Status Store::create_dir(const std::string& id) {
    KAPSEL_TRY(validate_id(id));
    // A user's state is its own (state_root.hpp); root's stays traversable, as runc's.
    int mode = ::geteuid() == 0 ? 0711 : 0700;
    KAPSEL_TRY(fs::mkdir_p(root_, mode));
    if (::mkdir(dir(id).c_str(), static_cast<mode_t>(mode)) < 0) {
        if (errno == EEXIST) return make_error("container \"" + id + "\" already exists");
        return sys_error("create " + dir(id));
    }
    return {};
}

Status Store::save(const Record& r) {
    json j;
    j["id"] = r.id;
    j["pid"] = r.pid;
    j["pid_start"] = r.pid_start;
    j["bundle"] = r.bundle;
    j["rootfs"] = r.rootfs;
    j["created"] = r.created;
    j["owner"] = r.owner;
    j["annotations"] = r.annotations;
    j["cgroup_dirs"] = r.cgroup_dirs;
    j["cgroup_created"] = r.cgroup_created;
    j["cgroup_v2"] = r.cgroup_v2;
    j["started"] = r.started;
    j["new_pid_ns"] = r.new_pid_ns;
    j["mount_ns"] = r.mount_ns;
    return fs::write_file_atomic(dir(r.id) + "/state.json", j.dump(), 0600);
}

Result<Record> Store::load(const std::string& id) const {
    KAPSEL_TRY(validate_id(id));
    auto text = fs::read_file(dir(id) + "/state.json");
    if (!text) {
        if (text.error().code == ENOENT)
            return Error{ENOENT, "container \"" + id + "\" does not exist"};
        return std::move(text).error();
    }
    json j = json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return make_error("state of container \"" + id + "\" is corrupt");
    Record r;
    try {
        r.id = j.at("id").get<std::string>();
        r.pid = j.at("pid").get<int>();
        r.pid_start = j.value("pid_start", uint64_t{0});
        r.bundle = j.value("bundle", "");
        r.rootfs = j.value("rootfs", "");
        r.created = j.value("created", "");
        r.owner = j.value("owner", "");
        r.annotations = j.value("annotations", std::map<std::string, std::string>{});
        r.cgroup_dirs = j.value("cgroup_dirs", std::vector<std::string>{});
        r.cgroup_created = j.value("cgroup_created", std::vector<std::string>{});
        r.cgroup_v2 = j.value("cgroup_v2", false);
        r.started = j.value("started", false);
        r.new_pid_ns = j.value("new_pid_ns", true);
        r.mount_ns = j.value("mount_ns", true);
    } catch (const json::exception&) {
        return make_error("state of container \"" + id + "\" is corrupt");
    }
    return r;
}

bool Store::exists(const std::string& id) const {
    return fs::exists(dir(id));
}

Status Store::remove(const std::string& id) {
    KAPSEL_TRY(validate_id(id));
    return fs::remove_tree(dir(id));
}

Result<std::vector<std::string>> Store::ids() const {
    std::vector<std::string> out;
    DIR* d = ::opendir(root_.c_str());
    if (!d) {
        if (errno == ENOENT) return out;
        return sys_error("open " + root_);
    }
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n == "." || n == "..") continue;
        if (fs::exists(dir(n) + "/state.json")) out.push_back(n);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

Result<unique_fd> Store::lock(const std::string& id) const {
    unique_fd fd(::open(dir(id).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return Error{ENOENT, "container \"" + id + "\" does not exist"};
        return sys_error("open " + dir(id));
    }
    while (::flock(fd.get(), LOCK_EX) < 0)
        if (errno != EINTR) return sys_error("lock " + dir(id));
    return fd;
}

static bool frozen(const Record& r) {
    for (auto& d : r.cgroup_dirs) {
        if (r.cgroup_v2) {
            auto t = fs::read_file(d + "/cgroup.freeze");
            return t && trim(*t) == "1";
        }
        if (d.find("/freezer/") != std::string::npos || d.rfind("/sys/fs/cgroup/freezer", 0) == 0) {
            auto t = fs::read_file(d + "/freezer.state");
            return t && trim(*t) != "THAWED";
        }
    }
    return false;
}

oci::Status current_status(const Store& store, const Record& r) {
    if (r.pid <= 0) return oci::Status::stopped;
    uint64_t start = process_start_time(r.pid);
    if (start == 0 || (r.pid_start && start != r.pid_start)) return oci::Status::stopped;
    if (!r.started && fs::exists(store.dir(r.id) + "/exec.fifo")) return oci::Status::created;
    if (frozen(r)) return oci::Status::paused;
    return oci::Status::running;
}

oci::State to_state(const Record& r, oci::Status status) {
    oci::State s;
    s.id = r.id;
    s.status = status;
    s.pid = r.pid;
    s.bundle = r.bundle;
    s.rootfs = r.rootfs;
    s.created = r.created;
    s.owner = r.owner;
    s.annotations = r.annotations;
    return s;
}

std::string now_rfc3339() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tm t;
    gmtime_r(&ts.tv_sec, &t);
    char buf[64];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", t.tm_year + 1900,
             t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec);
    return buf;
}

}  // namespace kapsel::runtime
