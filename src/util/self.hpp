// Where the running kapsel binary is installed, for the helper programs installed
// beside it (kapsel-fetch, kapsel-procfs).
#pragma once

#include <string>
#include <vector>

#include "util/result.hpp"

namespace kapsel::self {

// main() records argv[0] first thing: after kapsel's CVE-2019-5736 re-exec from a
// detached mount or a sealed memfd, /proc/self/exe no longer names the installed
// file, but argv[0] still does. Written once at start-up, read-only afterwards.
void record_argv0(const char* argv0);

// The directories the running binary may have been started from, best first:
// /proc/self/exe's, then argv[0]'s (resolved through $PATH and symlinks).
std::vector<std::string> install_dirs();

// A helper program `name`: beside kapsel (install_dirs) or in its libexec directory,
// the first that is executable; else an error "... (looked for A, B, C)" that the
// caller puts after what the helper is.
Result<std::string> find_helper(const std::string& name);

}  // namespace kapsel::self
