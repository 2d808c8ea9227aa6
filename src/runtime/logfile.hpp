// A detached container's log, bounded (run --log-opt). The container's stdout and
// stderr stay a plain file, ctr.log, which CRIU can take along as an external file;
// a keeper process beside the monitor cuts its head off in whole blocks
// (fallocate COLLAPSE_RANGE: the container's appends go on undisturbed) into
// ctr.log.1 ... ctr.log.<max-file - 1>, and `kapsel logs` reads them back in order.
//
// Files in the container's directory:
//   ctr.log            the current file, appended to by the container
//   ctr.log.1 ...      rotated files, newest first; each ends where the next newer begins
//   ctr.log.dropped    "<dropped> <line>": how many bytes were cut from ctr.log's head so
//                      far (so a reader keeps its place), and whether the oldest kept
//                      byte starts a line. Its flock orders the keeper (exclusive) and the
//                      readers (shared); it is not the log, which the container could lock.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "plan/log_options.hpp"
#include "util/fd.hpp"
#include "util/result.hpp"

namespace kapsel::runtime::logfile {

// Whether a log in `dir` can be kept to `o`: the file system cuts a file's head
// (fallocate COLLAPSE_RANGE, tried on a nameless file) and its blocks are small enough.
// Makes nothing that outlives the call.
Status check_file_system(const std::string& dir, const plan::LogOptions& o);

// The keeper of `dir`/ctr.log, a child of the calling monitor that dies with it.
class Keeper {
  public:
    // Makes ctr.log.dropped if there is none yet (before the container writes, so a
    // reader never misses it) and forks the keeper.
    static Result<Keeper> start(const std::string& dir, const plan::LogOptions& o);
    Keeper(Keeper&& o) noexcept : pid_(std::exchange(o.pid_, -1)), stop_(std::move(o.stop_)) {}
    Keeper& operator=(Keeper&&) = delete;
    ~Keeper() { stop(); }
    // After the container's end: the keeper makes a last pass, then exits, and we wait.
    void stop();

  private:
    Keeper() = default;
    pid_t pid_ = -1;
    unique_fd stop_;
};

// Holds off the keeper of `dir`'s log (an exclusive lock on ctr.log.dropped) until
// the returned fd is closed: `rm` moves the directory away under it, and the keeper,
// which finds it gone, makes no file in it while it is removed. No lock where the log
// is not kept.
unique_fd lock_against_cuts(const std::string& dir);

// Writes everything kept of the log in `dir`, oldest first, to `out`; a log cut while
// it is read is followed without a gap or a repeat. With `follow`, goes on until
// `stopped()` says the container is gone (then prints the rest). A log that is not
// there (an attached container) is empty.
Status read(const std::string& dir, bool follow, const std::function<bool()>& stopped,
            const std::function<void(std::string_view)>& out);

}  // namespace kapsel::runtime::logfile
