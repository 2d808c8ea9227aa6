// An ordinary user's image session: podman's id mapping, entered in place.
#include "linux/user_session.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kapsel::linux {
namespace {

std::vector<plan::IdMap> maps_of(uint32_t own, const std::vector<IdRange>& ranges) {
    std::vector<plan::IdMap> out{{.inside = 0, .outside = own, .count = 1}};
    uint64_t next = 1;
    for (auto& r : ranges) {
        // Ids inside are 32 bits too; subordinate_ranges already dropped ranges past them.
        if (next + r.count > (uint64_t{1} << 32) - 1) break;
        out.push_back({.inside = static_cast<uint32_t>(next),
                       .outside = static_cast<uint32_t>(r.start),
                       .count = static_cast<uint32_t>(r.count)});
        next += r.count;
    }
    return out;
}

}  // namespace

SessionMaps session_maps(uid_t uid, gid_t gid, const std::vector<IdRange>& uid_ranges,
                         const std::vector<IdRange>& gid_ranges, const std::string& user) {
    SessionMaps m;
    if (uid_ranges.empty() || gid_ranges.empty()) {
        // Both or neither: a file owned by 33 needs a uid and a gid for it.
        m.uid_map = maps_of(uid, {});
        m.gid_map = maps_of(gid, {});
        m.warning = std::string(uid_ranges.empty() ? "/etc/subuid" : "/etc/subgid") + " gives " +
                    user +
                    " no subordinate ids: only your own id is mapped, and an image with files "
                    "of other owners cannot be loaded";
        return m;
    }
    m.uid_map = maps_of(uid, uid_ranges);
    m.gid_map = maps_of(gid, gid_ranges);
    return m;
}

Status enter_user_session() {
    uid_t uid = ::getuid();
    gid_t gid = ::getgid();
    std::string user = user_name(uid);
    auto ranges = [&](const char* file, uint32_t id) {
        auto text = fs::read_file(file);
        return subordinate_ranges(text ? *text : "", user, id);
    };
    SessionMaps maps =
        session_maps(uid, gid, ranges("/etc/subuid", uid), ranges("/etc/subgid", gid), user);
    plan::Plan plan;
    plan.uid_map = maps.uid_map;
    plan.gid_map = maps.gid_map;

    // The child waits until we have unshared, writes our maps from outside and reports.
    int go[2], done[2];
    if (::pipe2(go, O_CLOEXEC) < 0) return sys_error("pipe");
    unique_fd go_r(go[0]), go_w(go[1]);
    if (::pipe2(done, O_CLOEXEC) < 0) return sys_error("pipe");
    unique_fd done_r(done[0]), done_w(done[1]);
    pid_t self = ::getpid();
    pid_t child = ::fork();
    if (child < 0) return sys_error("fork the id map writer");
    if (child == 0) {
        go_w.reset();
        done_r.reset();
        char c;
        if (::read(go_r.get(), &c, 1) != 1) ::_exit(1);
        auto st = write_rootless_maps(self, plan);
        std::string msg = st ? std::string() : st.error().message;
        (void)!::write(done_w.get(), msg.data(), msg.size());
        ::_exit(st ? 0 : 1);
    }
    go_r.reset();
    done_w.reset();
    auto reap = [&] {
        int status = 0;
        while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
        }
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    };
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
        int err = errno;
        go_w.reset();
        reap();
        return sys_error("create a user namespace", err);
    }
    (void)!::write(go_w.get(), "g", 1);
    go_w.reset();
    std::string msg;
    char buf[512];
    for (ssize_t n; (n = ::read(done_r.get(), buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 || msg.size() > 4096) break;
        msg.append(buf, static_cast<size_t>(n));
    }
    bool written = reap();
    if (!msg.empty()) return make_error(msg);
    if (!written) return make_error("write the id maps of the user namespace: the writer failed");
    // Mapped: our ids are 0 now; the real, effective and saved ids all become 0, so
    // nothing later acts as the unmapped user it was.
    if (::setresgid(0, 0, 0) < 0 || ::setresuid(0, 0, 0) < 0)
        return sys_error("become root of the user namespace");
    if (!maps.warning.empty()) std::fprintf(stderr, "kapsel: warning: %s\n", maps.warning.c_str());
    return {};
}

}  // namespace kapsel::linux
