// Rewrites a checkpoint's seccomp.img before CRIU restores it (issue 14).
#include "runtime/restore_seccomp.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string_view>

#include "linux/seccomp.hpp"
#include "plan/criu_seccomp.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace kapsel::runtime {

Status neutralise_procfs_filter(const std::string& image_dir) {
    const std::string path = image_dir + "/seccomp.img";
    unique_fd dir(::open(image_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) return sys_error("open " + image_dir);
    // CRIU wrote the file, from what a container's processes had: it is read through
    // the directory, never through a symlink, and with a bound on its size.
    unique_fd in(::openat(dir.get(), "seccomp.img", O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in) {
        if (errno == ENOENT) return {};  // CRIU writes none when no process had a filter
        return sys_error("open " + path);
    }
    struct stat st {};
    if (::fstat(in.get(), &st) < 0) return sys_error("stat " + path);
    if (!S_ISREG(st.st_mode)) return make_error(path + ": not a regular file");
    std::string image = KAPSEL_TRY(fs::read_fd(in.get(), path, plan::kMaxSeccompImage));

    // The program kapsel installs (linux/seccomp.cpp), byte for byte: one definition
    // for the filter that is loaded and the filter that is looked for here.
    const linux::SeccompProgram procfs = linux::procfs_filter();
    std::string_view program(reinterpret_cast<const char*>(procfs.filter.data()),
                             procfs.filter.size() * sizeof(sock_filter));
    auto rewrite = plan::neutralise_seccomp_filters(image, program);
    if (!rewrite) return std::move(rewrite).error().context(path);
    if (rewrite->neutralised == 0) return {};

    // Beside the original and renamed over it: until the rename the checkpoint is as
    // CRIU wrote it, and a crash leaves at worst a stray temporary file.
    const char* tmp_name = "seccomp.img.kapsel-new";
    const std::string tmp = image_dir + "/" + tmp_name;
    if (::unlinkat(dir.get(), tmp_name, 0) < 0 && errno != ENOENT)
        return sys_error("remove stale " + tmp);
    unique_fd out(::openat(dir.get(), tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                           st.st_mode & 0777));
    if (!out) return sys_error("create " + tmp);
    Status written = fs::write_all(out.get(), rewrite->image, tmp);
    if (written && ::fsync(out.get()) < 0) written = sys_error("fsync " + tmp);
    if (written && ::renameat(dir.get(), tmp_name, dir.get(), "seccomp.img") < 0)
        written = sys_error("rename " + tmp + " to " + path);
    if (!written) {
        ::unlinkat(dir.get(), tmp_name, 0);
        return written;
    }
    log::debug("restore: kapsel's procfs seccomp filter in " + path + " allows everything now (" +
              std::to_string(rewrite->neutralised) + " filter(s)): a restored filter has no listener");
    return {};
}

}  // namespace kapsel::runtime
