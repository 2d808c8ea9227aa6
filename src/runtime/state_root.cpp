// The state root of a user without root: $XDG_RUNTIME_DIR/kapsel or /tmp/kapsel-UID,
// private to the user.
#include "runtime/state_root.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kapsel::runtime {

std::string default_state_root(uid_t euid, bool rootless, const char* xdg_runtime_dir) {
    if (!rootless) return "/run/kapsel";
    if (xdg_runtime_dir && xdg_runtime_dir[0] == '/' && ::access(xdg_runtime_dir, W_OK) == 0)
        return fs::join(xdg_runtime_dir, "kapsel");
    if (euid == 0) return "/run/kapsel";  // root of a user namespace without XDG_RUNTIME_DIR
    return "/tmp/kapsel-" + std::to_string(euid);
}

Status own_state_root(const std::string& root, bool is_default) {
    uid_t me = ::geteuid();
    // The default root's parent is the user's (XDG_RUNTIME_DIR) or /tmp: only its last
    // component is made. A given one may need its parents, which are made private too.
    if (is_default) {
        if (::mkdir(root.c_str(), 0700) < 0 && errno != EEXIST) return sys_error("create " + root);
    } else if (!fs::exists(root)) {
        KAPSEL_TRY(fs::mkdir_p(root, 0700));
    }
    unique_fd fd(
        ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | (is_default ? O_NOFOLLOW : 0)));
    if (!fd) {
        if (errno == ELOOP || errno == ENOTDIR)
            return make_error("state root " + root +
                              " is not a directory of its own (a symlink "
                              "or a file): remove it, or pass --root");
        return sys_error("open state root " + root);
    }
    struct stat st;
    if (::fstat(fd.get(), &st) < 0) return sys_error("inspect state root " + root);
    // Another user's root could hold records that point kapsel at anything, and
    // would see ours: refused, whoever made it.
    if (st.st_uid != me)
        return make_error("state root " + root + " belongs to uid " + std::to_string(st.st_uid) +
                          ", not to you (uid " + std::to_string(me) +
                          "): pass a --root of your own");
    if (is_default && (st.st_mode & 077) && ::fchmod(fd.get(), 0700) < 0)
        return sys_error("make state root " + root + " private");
    return {};
}

}  // namespace kapsel::runtime
