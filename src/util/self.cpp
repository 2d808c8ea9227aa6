// The running binary's installation directory.
#include "util/self.hpp"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/fs.hpp"
#include "util/strings.hpp"

#ifndef KAPSEL_LIBEXECDIR
#define KAPSEL_LIBEXECDIR "/usr/local/libexec/kapsel"
#endif

namespace kapsel::self {
namespace {

std::string& argv0_dir() {
    static std::string dir;
    return dir;
}

std::string real_dir(const std::string& path) {
    char buf[PATH_MAX];
    if (!::realpath(path.c_str(), buf)) return "";
    return fs::dirname(buf);
}

}  // namespace

void record_argv0(const char* argv0) {
    if (!argv0 || !*argv0) return;
    std::string a = argv0;
    if (a.find('/') != std::string::npos) {
        argv0_dir() = real_dir(a);
        return;
    }
    // Started through $PATH, as a shell does.
    const char* path = ::getenv("PATH");
    for (auto& dir : split(path ? path : "/usr/local/bin:/usr/bin:/bin", ':')) {
        std::string candidate = (dir.empty() ? "." : dir) + "/" + a;
        if (::access(candidate.c_str(), X_OK) == 0) {
            argv0_dir() = real_dir(candidate);
            return;
        }
    }
}

std::vector<std::string> install_dirs() {
    std::vector<std::string> out;
    char buf[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) {
        buf[n] = 0;
        std::string exe = buf;
        // A memfd ("/memfd:kapsel (deleted)") or a removed file has no directory to look in.
        if (exe.front() == '/' && exe.find(" (deleted)") == std::string::npos)
            out.push_back(fs::dirname(exe));
    }
    if (!argv0_dir().empty() && (out.empty() || out[0] != argv0_dir())) out.push_back(argv0_dir());
    return out;
}

Result<std::string> find_helper(const std::string& name) {
    std::vector<std::string> tried;
    for (auto& dir : install_dirs()) tried.push_back(dir + "/" + name);
    tried.push_back(std::string(KAPSEL_LIBEXECDIR) + "/" + name);
    for (auto& p : tried)
        if (::access(p.c_str(), X_OK) == 0) return p;
    return make_error("is not installed (looked for " + join(tried, ", ") + ")");
}

}  // namespace kapsel::self
