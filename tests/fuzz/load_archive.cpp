// `kapsel load` of a hostile archive: a docker-archive (manifest.json, configs,
// <id>/layer.tar, links between entries) or an OCI archive (oci-layout, index.json,
// blobs/sha256/...), plain or compressed, imported into a fresh store each time, its
// layers unpacked. Parsing, digest checks and unpacking all see the input.
//
// The store is on a tmpfs of this process's own mount namespace (when run as root),
// so the device nodes and files a fuzzed layer makes vanish with the process and never
// reach a disk. The work directory is checked after every input: an entry escaping the
// store into it is reported as a crash.
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <set>

#include "fuzz.hpp"
#include "image/import.hpp"
#include "image/store.hpp"
#include "util/fs.hpp"

using namespace kapsel;

namespace {

std::string work;  // the tmpfs: input.tar and store/

std::set<std::string> entries(const std::string& dir) {
    std::set<std::string> out;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d)) out.insert(e->d_name);
        ::closedir(d);
    }
    return out;
}

// The tmpfs goes first: the directory under it is the host's, and stays otherwise.
void remove_work() {
    (void)::umount2(work.c_str(), MNT_DETACH);
    (void)fs::remove_tree(work);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/kapsel-fuzz-load-XXXXXX";
    if (!::mkdtemp(templ.data())) fuzz::broken("mkdtemp " + templ);
    work = templ;
    if (::geteuid() == 0 && ::unshare(CLONE_NEWNS) == 0 &&
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0)
        (void)::mount("tmpfs", work.c_str(), "tmpfs", MS_NOSUID, "size=512m,mode=0700");
    std::atexit(remove_work);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string input = work + "/input.tar";
    if (!fs::write_file(input, fuzz::text(data, size), O_CREAT | O_TRUNC)) fuzz::broken("write " + input);
    {
        auto store = image::Store::open(work + "/store");
        if (!store) fuzz::broken(store.error().message);
        (void)image::load_archive(*store, input, {.quiet = true});
    }
    auto left = entries(work);
    if (left != std::set<std::string>{".", "..", "input.tar", "store"}) {
        std::string names;
        for (auto& n : left) names += " " + n;
        fuzz::broken("the import wrote outside its store:" + names);
    }
    if (!fs::remove_tree(work + "/store")) fuzz::broken("remove " + work + "/store");
    return 0;
}
