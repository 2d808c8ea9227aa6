// The procfs tree over FUSE (libfuse3 low-level API, multithreaded); see server.hpp.
#define FUSE_USE_VERSION 312
#include "procfs/server.hpp"

#include "procfs/instances.hpp"

#include <cxxabi.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace kapsel::procfs {
namespace {

// The fixed tree never changes, so the kernel may keep its names and attributes as long
// as it likes; the content is never cached (direct_io), so that does not make answers
// stale. Passed-through entries (below sys/devices/system/cpu) are the caller's (cpuN)
// or the host's sysfs, which changes with hotplug: the kernel keeps none of them.
constexpr double kTimeout = 3600.0;

double timeout_of(const Entry& e) {
    return split_ino(e.ino).base < PassthroughInodes::kFirst && !e.per_caller ? kTimeout : 0.0;
}

// The answers of the open files, by handle. A handle is a number looked up here, never
// a pointer: a server started after a crash (keeper.hpp) is sent the reads and releases
// of files its predecessor opened, with that one's handles, and must answer them with
// an error instead of following them. Handles start at a random number, so that an old
// one does not name a new file either.
class OpenFiles {
  public:
    // Open files at once: each is an open fd in some container, but a container may hold
    // many, and each keeps its answer (up to kMaxAnswer) here.
    static constexpr size_t kMax = 65536;

    OpenFiles() {
        if (::getrandom(&next_, sizeof next_, 0) != sizeof next_) next_ = uint64_t(::time(nullptr)) << 20;
        next_ |= uint64_t{1} << 63;
    }
    // 0: too many open.
    uint64_t add(std::shared_ptr<const std::string> text) {
        std::lock_guard lock(mutex_);
        if (files_.size() >= kMax) return 0;
        uint64_t h = next_++;
        files_.emplace(h, std::move(text));
        return h;
    }
    std::shared_ptr<const std::string> find(uint64_t h) {
        std::lock_guard lock(mutex_);
        auto it = files_.find(h);
        return it == files_.end() ? nullptr : it->second;
    }
    // false: not an open file of this server's.
    bool remove(uint64_t h) {
        std::lock_guard lock(mutex_);
        return files_.erase(h) > 0;
    }

  private:
    std::mutex mutex_;
    std::unordered_map<uint64_t, std::shared_ptr<const std::string>> files_;
    uint64_t next_ = 0;
};

uint64_t random_slot() {
    uint64_t r = 0;
    if (::getrandom(&r, sizeof r, 0) != sizeof r) r = uint64_t(::time(nullptr));
    return r;
}

struct Server {
    Host& host;
    time_t started;
    fuse_session* session = nullptr;
    OpenFiles files;
    Instances instances{random_slot()};
    PageCache cache;
};

Server& server_of(fuse_req_t req) {
    return *static_cast<Server*>(fuse_req_userdata(req));
}

pid_t caller_of(fuse_req_t req) {
    // The thread that asks (the kernel sends its task's pid, which /proc/PID answers for).
    const fuse_ctx* ctx = fuse_req_ctx(req);
    return ctx ? ctx->pid : 0;
}

mode_t type_of(Kind k) {
    return k == Kind::directory ? S_IFDIR : k == Kind::symlink ? S_IFLNK : S_IFREG;
}

// `e` as the kernel sees it, its number with the slot (instances.hpp) it was asked in.
struct stat attributes(const Entry& e, Server& s) {
    struct stat st {};
    st.st_ino = e.ino;
    st.st_mode = type_of(e.kind) | e.perm;
    st.st_nlink = 1;
    // A file's size is the answer in its page cache (0 before the first open, like the
    // kernel's own /proc files): any other would cut or pad what a reader gets from there.
    if (e.kind == Kind::file) st.st_size = static_cast<off_t>(s.cache.size_of(e.ino).value_or(0));
    if (const Node* n = find_node(split_ino(e.ino).base); n && !n->render) {
        st.st_nlink = 2;
        for (auto& c : tree())
            if (c.ino != kRootIno && c.parent == n->ino && !c.render) ++st.st_nlink;
    }
    st.st_blksize = 4096;
    st.st_atime = st.st_mtime = st.st_ctime = s.started;
    return st;
}

// The errno a tree error is answered with: its own, EIO when it has none (a caller that
// is gone, a cgroup that cannot be read: never the host's numbers instead).
int errno_of(const Error& e) {
    return e.code > 0 ? e.code : EIO;
}

// Runs one callback. No exception may unwind into libfuse's C code: whatever escapes
// (out of memory while generating an answer) is an EIO for that request, never a crash
// of the server that every container's /proc depends on. Each callback replies last,
// after anything that can throw, so a request is never answered twice.
template <class F>
void guarded(fuse_req_t req, F&& f) {
    try {
        f();
    } catch (abi::__forced_unwind&) {
        // Thread cancellation (libfuse cancels its workers at exit) unwinds as this and
        // must not be swallowed: glibc aborts then. libfuse allows it only while a worker
        // waits for a request, so this is a guard, not a path taken today.
        throw;
    } catch (...) {
        fuse_reply_err(req, EIO);
    }
}

// The entry `name` in `parent`: a container's copy of the root in the mount's root, else
// the tree's entry, numbered in the slot of the directory it is asked in.
Result<Entry> lookup_in_slot(Server& s, fuse_ino_t parent, std::string_view name, pid_t caller) {
    auto [slot, base] = split_ino(parent);
    if (slot == 0 && base == kRootIno && is_instance_name(name)) {
        Entry root = KAPSEL_TRY(entry_of(s.host, kRootIno, caller));
        root.ino = join_ino(s.instances.slot_of(name), kRootIno);
        return root;
    }
    Entry e = KAPSEL_TRY(lookup(s.host, base, name, caller));
    e.ino = join_ino(slot, e.ino);
    return e;
}

Result<Entry> entry_in_slot(Server& s, fuse_ino_t ino, pid_t caller) {
    auto [slot, base] = split_ino(ino);
    Entry e = KAPSEL_TRY(entry_of(s.host, base, caller));
    e.ino = join_ino(slot, e.ino);
    return e;
}

void on_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    guarded(req, [&] {
        auto found = lookup_in_slot(server_of(req), parent, name, caller_of(req));
        if (!found) return void(fuse_reply_err(req, errno_of(found.error())));
        fuse_entry_param e{};
        e.ino = found->ino;
        e.attr = attributes(*found, server_of(req));
        e.attr_timeout = timeout_of(*found);
        e.entry_timeout = timeout_of(*found);
        fuse_reply_entry(req, &e);
    });
}

void on_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    guarded(req, [&] {
        auto found = entry_in_slot(server_of(req), ino, caller_of(req));
        if (!found) return void(fuse_reply_err(req, errno_of(found.error())));
        struct stat st = attributes(*found, server_of(req));
        fuse_reply_attr(req, &st, timeout_of(*found));
    });
}

void on_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
    guarded(req, [&] {
        auto [slot, base] = split_ino(ino);
        auto entries = list(server_of(req).host, base, caller_of(req));
        if (!entries) return void(fuse_reply_err(req, errno_of(entries.error())));
        std::vector<char> buf(size);
        size_t used = 0;
        for (size_t i = off < 0 ? entries->size() : static_cast<size_t>(off); i < entries->size();
             ++i) {
            struct stat st {};
            st.st_ino = join_ino(slot, (*entries)[i].entry.ino);
            st.st_mode = type_of((*entries)[i].entry.kind);
            size_t n = fuse_add_direntry(req, buf.data() + used, size - used,
                                         (*entries)[i].name.c_str(), &st,
                                         static_cast<off_t>(i + 1));
            if (n > size - used) break;  // full: the kernel asks again from i
            used += n;
        }
        fuse_reply_buf(req, buf.data(), used);
    });
}

void on_readlink(fuse_req_t req, fuse_ino_t ino) {
    guarded(req, [&] {
        auto target = readlink(server_of(req).host, split_ino(ino).base, caller_of(req));
        if (!target) return void(fuse_reply_err(req, errno_of(target.error())));
        fuse_reply_readlink(req, target->c_str());
    });
}

void on_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    guarded(req, [&] {
        // The mount is read-only already (ro); this holds even if it were not.
        if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
            return void(fuse_reply_err(req, EACCES));
        // The answer is for the process that opens the file. It is made once per open, so
        // that the reads of one open see one consistent text, as a reader that reads in
        // pieces expects.
        Server& s = server_of(req);
        uint64_t base = split_ino(ino).base;
        auto text = read(s.host, base, caller_of(req));
        if (!text) return void(fuse_reply_err(req, errno_of(text.error())));
        auto content = std::make_shared<const std::string>(std::move(*text));
        uint64_t handle = s.files.add(content);
        if (!handle) return void(fuse_reply_err(req, EMFILE));
        fi->fh = handle;
        // Never drop the page cache at open: another open of this inode may be reading
        // its answer from there (instances.hpp).
        fi->keep_cache = 1;
        const Node* node = find_node(base);
        OpenPlan plan;
        if (s.session && node && node->render) plan = s.cache.open(ino, handle, content->size());
        if (plan.cached) {
            // The kernel serves this open's reads (read, sendfile, mmap) from the page
            // cache, without asking: the answer is stored there before the opener gets
            // its fd. Storing grows the size to the answer's; a smaller one is asked for
            // again (getattr, answered with this size) after the invalidation. A store
            // that fails (out of memory) leaves pages the kernel reads from the server,
            // which answers them from this open's copy.
            if (plan.invalidate_attrs) (void)fuse_lowlevel_notify_inval_inode(s.session, ino, -1, 0);
            fuse_bufvec all = FUSE_BUFVEC_INIT(content->size());
            all.buf[0].mem = const_cast<char*>(content->data());
            if (!content->empty() &&
                fuse_lowlevel_notify_store(s.session, ino, 0, &all, fuse_buf_copy_flags{}) != 0) {
                // Not stored (out of memory): the size may be short of the answer's.
                s.cache.doubt_size(ino);
                (void)fuse_lowlevel_notify_inval_inode(s.session, ino, -1, 0);
            }
        } else {
            // Reads go to the server, for this open's own copy.
            fi->direct_io = 1;
        }
        // If the reply does not arrive (the opener was interrupted), no release follows:
        // the copy is freed here instead.
        if (fuse_reply_open(req, fi) != 0) {
            s.files.remove(handle);
            if (node && node->render) s.cache.release(ino, handle);
        }
    });
}

void on_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
    guarded(req, [&] {
        auto text = server_of(req).files.find(fi->fh);
        // A file opened by a server that crashed: its answer died with it. The reader
        // gets an error at once and its next open works.
        if (!text) return void(fuse_reply_err(req, EIO));
        if (off < 0) return void(fuse_reply_err(req, EINVAL));
        size_t at = std::min(static_cast<size_t>(off), text->size());
        if (size > text->size() - at) server_of(req).cache.doubt_size(ino);
        fuse_reply_buf(req, text->data() + at, std::min(size, text->size() - at));
    });
}

void on_release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    guarded(req, [&] {
        // Only this server's opens count: a server started after a crash is sent the
        // releases of its predecessor's too.
        if (server_of(req).files.remove(fi->fh)) server_of(req).cache.release(ino, fi->fh);
        fi->fh = 0;
        fuse_reply_err(req, 0);
    });
}

void on_init(void*, fuse_conn_info* conn) {
    // The kernel must not drop a file's page cache because its attributes were asked for
    // again (libfuse's default) nor because its size changed: the answer stored at open
    // is the one to read, and the inode's size is set to fit it (on_open).
    conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
    if (conn->capable & FUSE_CAP_EXPLICIT_INVAL_DATA) conn->want |= FUSE_CAP_EXPLICIT_INVAL_DATA;
}

// Owners of libfuse's objects, so that every way out of serve() undoes what was done.
struct SessionDeleter {
    void operator()(fuse_session* se) const { fuse_session_destroy(se); }
};
struct ConfigDeleter {
    void operator()(fuse_loop_config* c) const { fuse_loop_cfg_destroy(c); }
};
struct ArgsOwner {
    fuse_args args;
    ~ArgsOwner() { fuse_opt_free_args(&args); }
};
struct SignalsOwner {
    fuse_session* se;
    ~SignalsOwner() { fuse_remove_signal_handlers(se); }
};
// A new server on a connection an earlier one initialised gets no FUSE_INIT from the
// kernel, and libfuse answers every request before an INIT with EIO. So the server plays
// the INIT to its own session: libfuse then takes the connection as initialised. Its
// reply goes to the keeper's fd, on which the kernel has no request of that number
// (nobody reads there), and is dropped with ENOENT, which libfuse ignores. The flags
// are what every kernel since 4.20 offers; they shape only this server's buffers.
void replay_init(fuse_session* se) {
    struct {
        fuse_in_header in;
        fuse_init_in init;
    } msg{};
    msg.in.len = sizeof msg;
    msg.in.opcode = FUSE_INIT;
    msg.in.unique = uint64_t{1} << 62;  // even: not an interrupt's number
    msg.init.major = 7;
    msg.init.minor = 31;
    msg.init.max_readahead = 128 * 1024;
    msg.init.flags = FUSE_ASYNC_READ | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES;
    fuse_buf buf{};
    buf.size = sizeof msg;
    buf.mem = &msg;
    fuse_session_process_buf(se, &buf);
}

}  // namespace

Status serve(int fuse_fd, bool attach, Host& host) {
    Server server{host, ::time(nullptr)};
    // No mount options: the keeper mounted the file system (keeper.cpp says with which).
    std::vector<std::string> words = {"kapsel-procfs"};
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    ArgsOwner args{FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data())};

    fuse_lowlevel_ops ops{};
    ops.init = on_init;
    ops.lookup = on_lookup;
    ops.getattr = on_getattr;
    ops.readdir = on_readdir;
    ops.readlink = on_readlink;
    ops.open = on_open;
    ops.read = on_read;
    ops.release = on_release;

    std::unique_ptr<fuse_session, SessionDeleter> se(
        fuse_session_new(&args.args, &ops, sizeof ops, &server));
    if (!se) return make_error("start the fuse session");
    server.session = se.get();
    if (fuse_set_signal_handlers(se.get()) != 0)
        return make_error("set the signal handlers of the fuse session");
    SignalsOwner signals{se.get()};
    // "/dev/fd/N": libfuse takes the open connection instead of mounting.
    std::string dev = "/dev/fd/" + std::to_string(fuse_fd);
    if (fuse_session_mount(se.get(), dev.c_str()) != 0)
        return make_error("take the fuse connection " + dev);
    if (attach) replay_init(se.get());

    std::unique_ptr<fuse_loop_config, ConfigDeleter> config(fuse_loop_cfg_create());
    if (!config) return make_error("serve: out of memory");
    // Every worker reads from a clone of the connection's fd, never from the keeper's own:
    // when this server dies, the kernel fails the requests it had taken (ECONNABORTED,
    // at once) as their clone closes, instead of leaving them to wait forever on an fd
    // that stays open in the keeper.
    fuse_loop_cfg_set_clone_fd(config.get(), 1);
    fuse_loop_cfg_set_max_threads(config.get(), 16);
    // > 0: the signal that ended the loop (SIGTERM, SIGINT, SIGHUP): a clean end.
    int rc = fuse_session_loop_mt(se.get(), config.get());
    if (rc < 0) return sys_error("serve", -rc);
    return {};
}

}  // namespace kapsel::procfs
