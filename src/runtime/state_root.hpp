// The state root (--root) of a user without root: where it is by default and the
// check that it is the user's own, so that no other user can read or plant state.
#pragma once

#include <sys/types.h>

#include <string>

#include "util/result.hpp"

namespace kapsel::runtime {

// The default --root: /run/kapsel for the host's root; rootless (another user, or
// root of a user namespace) $XDG_RUNTIME_DIR/kapsel when that variable names an
// absolute directory the caller may write (runc's rule), else /tmp/kapsel-UID.
std::string default_state_root(uid_t euid, bool rootless, const char* xdg_runtime_dir);

// For a user without root: makes the root if it is missing (0700), and refuses one
// owned by another user (root included). The default root must be a directory of its
// own, not a symlink (anyone may have made /tmp/kapsel-UID first), and is kept 0700.
Status own_state_root(const std::string& root, bool is_default);

}  // namespace kapsel::runtime
