// A detached container's bounded log: the keeper that cuts it, the reader that
// follows it across cuts (logfile.hpp).
#include "runtime/logfile.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::runtime::logfile {
namespace {

constexpr const char* kLog = "ctr.log";
constexpr const char* kState = "ctr.log.dropped";

std::string rotated(int k) {
    return std::string(kLog) + "." + std::to_string(k);
}

// The file system's name for messages ("tmpfs"), from statfs's magic number.
std::string fs_name(long type) {
    switch (static_cast<unsigned long>(type)) {
        case EXT4_SUPER_MAGIC:
            return "ext4";
        case XFS_SUPER_MAGIC:
            return "xfs";
        case TMPFS_MAGIC:
            return "tmpfs";
        case OVERLAYFS_SUPER_MAGIC:
            return "overlay";
        case BTRFS_SUPER_MAGIC:
            return "btrfs";
        case NFS_SUPER_MAGIC:
            return "nfs";
        case 0x65735546:
            return "fuse";
        case 0x2fc12fc1:
            return "zfs";
        default: {
            char hex[32];
            std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(type));
            return std::string("file system type ") + hex;
        }
    }
}

// flock(2) held for a scope; EINTR is retried.
class Flock {
  public:
    Flock(int fd, int op) : fd_(fd) {
        while (::flock(fd_, op) < 0 && errno == EINTR) {
        }
    }
    ~Flock() { ::flock(fd_, LOCK_UN); }
    Flock(const Flock&) = delete;
    Flock& operator=(const Flock&) = delete;

  private:
    int fd_;
};

struct State {
    uint64_t dropped = 0;
    bool line = true;  // the oldest kept byte starts a line
};

// ctr.log.dropped is ours, but read as anything else on disk: bounded, no exception.
Result<State> read_state(int fd) {
    char buf[64];
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n < 0) return sys_error("read " + std::string(kState));
    if (n == 0) return State{};  // made, not yet written
    auto parts = split(trim(std::string_view(buf, static_cast<size_t>(n))), ' ');
    std::optional<uint64_t> dropped;
    if (parts.size() == 2) dropped = parse_uint(parts[0]);
    if (!dropped || (parts[1] != "0" && parts[1] != "1"))
        return make_error(std::string(kState) + " is damaged");
    return State{*dropped, parts[1] == "1"};
}

Status write_state(int fd, const State& s) {
    std::string text = std::to_string(s.dropped) + (s.line ? " 1\n" : " 0\n");
    if (::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()) ||
        ::ftruncate(fd, static_cast<off_t>(text.size())) < 0)
        return sys_error("write " + std::string(kState));
    return {};
}

// Bytes [from, from + len) of `in` appended to `out`, in the kernel where it can.
Status copy_range(int in, uint64_t from, uint64_t len, int out) {
    auto off = static_cast<loff_t>(from);
    while (len > 0) {
        ssize_t n = ::copy_file_range(in, &off, out, nullptr, len, 0);
        if (n < 0 &&
            (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS)) {
            char buf[65536];
            n = ::pread(in, buf, std::min<uint64_t>(len, sizeof buf), off);
            if (n > 0 && ::write(out, buf, static_cast<size_t>(n)) != n)
                return sys_error("copy the log's head");
            if (n > 0) off += n;
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("copy the log's head");
        }
        if (n == 0) return make_error("the log became shorter while it was cut");
        len -= static_cast<uint64_t>(n);
    }
    return {};
}

bool byte_is_newline(int fd, uint64_t at) {
    char c = 0;
    return ::pread(fd, &c, 1, static_cast<off_t>(at)) == 1 && c == '\n';
}

// The keeper's state: the directory, the log (read-write: fallocate needs it), the
// record, and the options.
struct Keep {
    int dir, log, state;
    plan::LogOptions o;
    uint64_t block;
    std::string path;  // of `dir`, to see whether rm took the directory away
};

// `rm` moves the container's directory out of containers/ (under the record's lock,
// lock_against_cuts) and removes it; a cut then would make files in a directory being
// emptied.
bool still_in_place(const Keep& k) {
    struct stat here, there;
    return ::fstat(k.dir, &here) == 0 && ::stat(k.path.c_str(), &there) == 0 &&
           here.st_ino == there.st_ino && here.st_dev == there.st_dev;
}

// One cut of the log, if it reached max-size. Under the record's exclusive lock,
// so a reader sees the files and the count of dropped bytes before or after, never
// between. Order: the kept bytes are copied to nameless files first; then the head
// is collapsed (if that fails nothing changed, the copies vanish); then the rotated
// files move up and the copies get their names.
// Says whether it cut.
Result<bool> cut_once(const Keep& k) {
    struct stat st;
    if (::fstat(k.log, &st) < 0) return sys_error("stat the log");
    if (static_cast<uint64_t>(st.st_size) < k.o.max_size) return false;
    Flock lock(k.state, LOCK_EX);
    if (!still_in_place(k)) return false;
    if (::fstat(k.log, &st) < 0) return sys_error("stat the log");
    plan::LogCut c = plan::plan_log_cut(k.o, static_cast<uint64_t>(st.st_size), k.block);
    if (c.cut == 0) return false;
    State s = KAPSEL_TRY(read_state(k.state));

    std::vector<unique_fd> copies;
    uint64_t end = c.cut;
    for (uint64_t len : c.chunks) {
        unique_fd f(::openat(k.dir, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
        if (!f) return sys_error("create a rotated log file");
        KAPSEL_TRY(copy_range(k.log, end - len, len, f.get()));
        copies.push_back(std::move(f));
        end -= len;
    }
    // The rotated files there are, and which of them go (those that would pass max-file).
    int have = 0;
    while (have < plan::kMaxLogFiles &&
           ::faccessat(k.dir, rotated(have + 1).c_str(), F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        ++have;
    int shift = static_cast<int>(copies.size());
    int survive = end > 0 ? 0 : std::min(have, k.o.max_file - 1 - shift);
    // Whether the oldest byte kept from now on starts a line: the byte before it is the
    // last one dropped, from the log's head or from the newest rotated file that goes.
    if (end > 0) {
        s.line = byte_is_newline(k.log, end - 1);
    } else if (have > survive) {
        unique_fd f(
            ::openat(k.dir, rotated(survive + 1).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        struct stat fst;
        s.line = f && ::fstat(f.get(), &fst) == 0 && fst.st_size > 0 &&
                 byte_is_newline(f.get(), static_cast<uint64_t>(fst.st_size) - 1);
    }

    // The container's appends meanwhile are serialised with this by the file system
    // (the inode lock) and land after what stays: nothing it writes is lost.
    if (::fallocate(k.log, FALLOC_FL_COLLAPSE_RANGE, 0, static_cast<off_t>(c.cut)) < 0)
        return sys_error("cut " + std::to_string(c.cut) + " bytes off the log's head");
    for (int i = have; i >= 1; --i) {
        if (i > survive)
            (void)::unlinkat(k.dir, rotated(i).c_str(), 0);
        else
            (void)::renameat(k.dir, rotated(i).c_str(), k.dir, rotated(i + shift).c_str());
    }
    for (size_t j = 0; j < copies.size(); ++j) {
        std::string proc = "/proc/self/fd/" + std::to_string(copies[j].get());
        if (::linkat(AT_FDCWD, proc.c_str(), k.dir, rotated(static_cast<int>(j) + 1).c_str(),
                     AT_SYMLINK_FOLLOW) < 0)
            return sys_error("name the rotated log " + rotated(static_cast<int>(j) + 1));
    }
    s.dropped += c.cut;
    KAPSEL_TRY(write_state(k.state, s));
    return true;
}

// Cuts until the log is below max-size (a few cuts after a burst; the lock is let go
// between them, for the readers).
Status pass(const Keep& k) {
    for (int i = 0; i < 2 * plan::kMaxLogFiles; ++i)
        if (!KAPSEL_TRY(cut_once(k))) break;
    return {};
}

// The keeper's life: a pass whenever the log changed (inotify, coalesced over a few
// milliseconds so that a chatty container costs a few hundred wake-ups a second at
// most), and a last one when the monitor says the container is gone.
[[noreturn]] void keep(const Keep& k, int stop) {
    unique_fd ino(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (ino) {
        // Through our own fd: the watch is on the inode the container writes to.
        std::string self = "/proc/self/fd/" + std::to_string(k.log);
        if (::inotify_add_watch(ino.get(), self.c_str(), IN_MODIFY) < 0) ino.reset();
    }
    while (true) {
        auto st = pass(k);
        // A file system that cannot collapse (checked at run; changed since?) is not
        // worth copying the head again on every write.
        if (!st && st.error().code == EOPNOTSUPP) ::_exit(1);
        pollfd fds[2] = {{stop, POLLIN, 0}, {ino.get(), POLLIN, 0}};
        // Without inotify (no instances left), the log is looked at ten times a second.
        int r = ::poll(fds, 2, ino ? -1 : 100);
        if (r < 0 && errno != EINTR) ::_exit(1);
        if (fds[0].revents) {
            (void)pass(k);
            ::_exit(0);
        }
        if (ino) {
            char buf[4096];
            while (::read(ino.get(), buf, sizeof buf) > 0) {
            }
            ::usleep(5000);
        }
    }
}

// Reads the kept log at a logical offset (bytes the container wrote since it
// started), which stays valid while the keeper cuts: the byte at `pos_` is in
// ctr.log at pos_ - dropped, or in the rotated file that covers it.
class Reader {
  public:
    Reader(unique_fd dir, unique_fd log, unique_fd state)
        : dir_(std::move(dir)), log_(std::move(log)), state_(std::move(state)) {}

    // Up to `len` bytes from where the reader is; 0 at the end (for now).
    Result<size_t> next(char* buf, size_t len) {
        std::optional<Flock> lock;
        State s;
        if (state_) {
            lock.emplace(state_.get(), LOCK_SH);
            s = KAPSEL_TRY(read_state(state_.get()));
        }
        for (int walk = 0; walk < 2 && (!placed_ || pos_ < s.dropped); ++walk) {
            // The rotated files, newest first; each ends where the newer one begins.
            uint64_t end = s.dropped;
            for (int k = 1; k <= plan::kMaxLogFiles && end > 0; ++k) {
                unique_fd f(
                    ::openat(dir_.get(), rotated(k).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
                struct stat st;
                if (!f || ::fstat(f.get(), &st) < 0) break;
                uint64_t size = static_cast<uint64_t>(st.st_size);
                uint64_t start = size <= end ? end - size : 0;
                if (placed_ && pos_ >= start) {
                    ssize_t n = ::pread(f.get(), buf, std::min<uint64_t>(len, end - pos_),
                                        static_cast<off_t>(pos_ - start));
                    if (n < 0) return sys_error("read " + rotated(k));
                    pos_ += static_cast<uint64_t>(n);
                    return static_cast<size_t>(n);
                }
                end = start;
            }
            // Before everything kept (never placed, or a reader too slow for the
            // keeper): on from the oldest kept byte, which may be inside a line.
            jumped_ = placed_;
            mid_line_ = !s.line;
            pos_ = end;
            placed_ = true;
        }
        if (pos_ < s.dropped)
            return make_error("the rotated logs do not reach " + std::string(kLog) + " (damaged)");
        ssize_t n = ::pread(log_.get(), buf, len, static_cast<off_t>(pos_ - s.dropped));
        if (n < 0) return sys_error("read " + std::string(kLog));
        pos_ += static_cast<uint64_t>(n);
        return static_cast<size_t>(n);
    }
    // Whether the reader had to skip bytes cut before it read them (asked once).
    bool take_jumped() { return std::exchange(jumped_, false); }
    // Whether the bytes from here on may begin inside a line (asked once).
    bool take_mid_line() { return std::exchange(mid_line_, false); }

  private:
    unique_fd dir_, log_, state_;
    uint64_t pos_ = 0;
    bool placed_ = false, jumped_ = false, mid_line_ = false;
};

}  // namespace

Status check_file_system(const std::string& dir, const plan::LogOptions& o) {
    if (o.max_size == 0) return {};
    struct statfs sfs;
    if (::statfs(dir.c_str(), &sfs) < 0) return sys_error("statfs " + dir);
    auto block = static_cast<uint64_t>(sfs.f_bsize);
    KAPSEL_TRY(plan::check_log_block_size(o, block));
    auto refuse = [&](int err) {
        return Error{err, "--log-opt max-size: the store's file system at " + dir + " (" +
                              fs_name(sfs.f_type) + ") cannot cut a file's head (" +
                              errno_text(err) +
                              "), which keeping the log to its size needs: ext4 and xfs can"};
    };
    // A nameless file: nothing is left behind, whatever happens.
    unique_fd f(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!f) return refuse(errno);
    std::string data(2 * block, 'x');
    KAPSEL_TRY(fs::write_all(f.get(), data, "a probe file in " + dir));
    if (::fallocate(f.get(), FALLOC_FL_COLLAPSE_RANGE, 0, static_cast<off_t>(block)) < 0)
        return refuse(errno);
    return {};
}

Result<Keeper> Keeper::start(const std::string& dir, const plan::LogOptions& o) {
    unique_fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
    if (!d) return sys_error("open " + dir);
    unique_fd log(::openat(d.get(), kLog, O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (!log) return sys_error("open " + dir + "/" + kLog);
    unique_fd state(::openat(d.get(), kState, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!state) return sys_error("open " + dir + "/" + kState);
    {
        Flock lock(state.get(), LOCK_EX);
        struct stat st;
        if (::fstat(state.get(), &st) < 0) return sys_error("stat " + dir + "/" + kState);
        if (st.st_size == 0)
            KAPSEL_TRY(write_state(state.get(), State{}));
        else
            KAPSEL_TRY_CTX(read_state(state.get()), dir);  // a restore goes on counting
    }
    struct statfs sfs;
    if (::fstatfs(log.get(), &sfs) < 0) return sys_error("statfs " + dir);
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) return sys_error("pipe to the log keeper");
    unique_fd stop_rd(p[0]), stop_wr(p[1]);
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) return sys_error("fork the log keeper");
    if (pid == 0) {
        // It lives as long as the monitor and no longer, whatever ends the monitor.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(0);
        ::prctl(PR_SET_NAME, "kapsel-logkeep");
        // Signals meant for the monitor's session are not for it: the log stays kept
        // until the monitor goes.
        for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGUSR1, SIGUSR2})
            ::signal(sig, SIG_IGN);
        int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0)
            for (int fd = 0; fd <= 2; ++fd) ::dup2(null, fd);
        // Nothing of the monitor's (the pipe `run` waits on, the container's fds).
        fs::close_all_except({d.get(), log.get(), state.get(), stop_rd.get()});
        keep(Keep{d.get(), log.get(), state.get(), o, static_cast<uint64_t>(sfs.f_bsize), dir},
             stop_rd.get());
    }
    Keeper k;
    k.pid_ = pid;
    k.stop_ = std::move(stop_wr);
    return k;
}

void Keeper::stop() {
    if (pid_ <= 0) return;
    stop_.reset();
    // The monitor reaps stray children while the container runs; a keeper already
    // reaped is ECHILD here.
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
}

unique_fd lock_against_cuts(const std::string& dir) {
    unique_fd f(::open((dir + "/" + kState).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (f)
        while (::flock(f.get(), LOCK_EX) < 0 && errno == EINTR) {
        }
    return f;
}

Status read(const std::string& dir, bool follow, const std::function<bool()>& stopped,
            const std::function<void(std::string_view)>& out) {
    unique_fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
    if (!d) return sys_error("open " + dir);
    unique_fd log(::openat(d.get(), kLog, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!log) {
        if (errno == ENOENT) return {};  // attached containers write to the terminal, not a log
        return sys_error("open " + dir + "/" + kLog);
    }
    // No record: the log was never bounded, and is never cut.
    unique_fd state(::openat(d.get(), kState, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!state && errno != ENOENT) return sys_error("open " + dir + "/" + kState);
    // Following, a write wakes us (and a stop is looked for ten times a second).
    unique_fd ino;
    if (follow) {
        ino.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
        std::string self = "/proc/self/fd/" + std::to_string(log.get());
        if (ino && ::inotify_add_watch(ino.get(), self.c_str(), IN_MODIFY) < 0) ino.reset();
    }
    // A log that is cut: lines go out whole. The end of the last line is held back
    // until its newline comes (or nothing more came for a look, 0.1 s, or the end), so
    // that a reader which falls behind the keeper and skips what was cut never glues
    // the beginning of one line to the end of another. A line longer than 64 KiB goes
    // out in parts.
    bool whole_lines = state.valid();
    Reader r(std::move(d), std::move(log), std::move(state));
    std::vector<char> buf(65536);
    std::string held;
    // The part of a line whose beginning was cut away is not shown (up to 64 KiB of
    // it: a log without newlines is shown from where it is kept).
    size_t skipped = 0;
    bool skipping = false;
    auto emit = [&](std::string_view chunk) {
        if (!whole_lines) return out(chunk);
        size_t nl = chunk.rfind('\n');
        if (nl == std::string_view::npos) {
            held.append(chunk);
            if (held.size() >= buf.size()) out(held), held.clear();
            return;
        }
        if (!held.empty()) out(held), held.clear();
        out(chunk.substr(0, nl + 1));
        held.assign(chunk.substr(nl + 1));
    };
    // Says whether there was anything new.
    auto drain = [&]() -> Result<bool> {
        for (bool any = false;; any = true) {
            size_t n = KAPSEL_TRY(r.next(buf.data(), buf.size()));
            if (n == 0) return any;
            std::string_view chunk(buf.data(), n);
            if (r.take_jumped()) held.clear();  // the rest of its line was cut
            if (r.take_mid_line()) skipping = true, skipped = 0;
            if (skipping) {
                size_t nl = chunk.find('\n');
                if (nl == std::string_view::npos && skipped + n < buf.size()) {
                    skipped += n;
                    continue;
                }
                skipping = false;
                if (nl != std::string_view::npos) chunk.remove_prefix(nl + 1);
            }
            if (!chunk.empty()) emit(chunk);
        }
    };
    auto finish = [&]() -> Status {
        (void)KAPSEL_TRY(drain());
        if (!held.empty()) out(held);
        return {};
    };
    while (true) {
        if (!follow) return finish();
        if (!KAPSEL_TRY(drain()) && !held.empty()) out(held), held.clear();  // a prompt, say
        if (stopped()) return finish();
        if (!ino) {
            ::usleep(100000);
            continue;
        }
        pollfd p{ino.get(), POLLIN, 0};
        if (::poll(&p, 1, 100) > 0) {
            char events[4096];
            while (::read(ino.get(), events, sizeof events) > 0) {
            }
            ::usleep(5000);  // a chatty container's writes, a few at a time
        }
    }
}

}  // namespace kapsel::runtime::logfile
