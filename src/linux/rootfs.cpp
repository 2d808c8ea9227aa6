// The rootfs builder.
#include "linux/rootfs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "linux/path.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

namespace kapsel::linux {

namespace {

constexpr unsigned kAtEmptyPath = AT_EMPTY_PATH;
constexpr unsigned kAtRecursive = AT_RECURSIVE;

// The mount point of the file system that holds `path`: walk up while the mount id stays the same.
std::string mount_point_of(const std::string& path) {
    auto mnt_id = [](const std::string& p) -> uint64_t {
        struct statx stx {};
        if (::statx(AT_FDCWD, p.c_str(), AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) < 0) return 0;
        return stx.stx_mnt_id;
    };
    std::string cur = fs::clean(path);
    uint64_t id = mnt_id(cur);
    while (cur != "/") {
        std::string up = fs::dirname(cur);
        if (mnt_id(up) != id) return cur;
        cur = up;
    }
    return "/";
}

std::string unescape_mountinfo(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            out +=
                static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

Status set_propagation(Sys& sys, int mntfd, uint64_t propagation, bool recursive) {
    if (!propagation) return {};
    mount_attr attr{};
    attr.propagation = propagation;
    return sys.mount_setattr(mntfd, "", kAtEmptyPath | (recursive ? kAtRecursive : 0), attr);
}

// Copies the content of `src` (a directory of the rootfs) into `dst` (the new
// tmpfs mounted over it): crun's tmpcopyup, which podman uses for /etc-like mounts.
Status copy_tree(int src, int dst) {
    DIR* d = ::fdopendir(::dup(src));
    if (!d) return sys_error("read directory for tmpcopyup");
    Status st;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n == "." || n == "..") continue;
        struct stat s;
        if (::fstatat(src, n.c_str(), &s, AT_SYMLINK_NOFOLLOW) < 0) {
            st = sys_error("stat " + n);
            break;
        }
        if (S_ISDIR(s.st_mode)) {
            if (::mkdirat(dst, n.c_str(), s.st_mode & 07777) < 0 && errno != EEXIST) {
                st = sys_error("mkdir " + n);
                break;
            }
            unique_fd a(::openat(src, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            unique_fd b(::openat(dst, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!a || !b) {
                st = sys_error("open " + n);
                break;
            }
            st = copy_tree(a.get(), b.get());
            if (!st) break;
        } else if (S_ISLNK(s.st_mode)) {
            char buf[4096];
            ssize_t len = ::readlinkat(src, n.c_str(), buf, sizeof buf - 1);
            if (len < 0) {
                st = sys_error("readlink " + n);
                break;
            }
            buf[len] = 0;
            if (::symlinkat(buf, dst, n.c_str()) < 0) {
                st = sys_error("symlink " + n);
                break;
            }
        } else if (S_ISREG(s.st_mode)) {
            unique_fd a(::openat(src, n.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
            unique_fd b(::openat(dst, n.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                                 s.st_mode & 07777));
            if (!a || !b) {
                st = sys_error("copy " + n);
                break;
            }
            char buf[65536];
            ssize_t r;
            while ((r = ::read(a.get(), buf, sizeof buf)) > 0)
                if (::write(b.get(), buf, static_cast<size_t>(r)) != r) {
                    r = -1;
                    break;
                }
            if (r < 0) {
                st = sys_error("copy " + n);
                break;
            }
        } else {
            if (::mknodat(dst, n.c_str(), s.st_mode, s.st_rdev) < 0) {
                st = sys_error("mknod " + n);
                break;
            }
        }
        ::fchownat(dst, n.c_str(), s.st_uid, s.st_gid, AT_SYMLINK_NOFOLLOW);
    }
    ::closedir(d);
    return st;
}

// Mounts a new filesystem on `target`; returns the fd of the new mount.
Result<unique_fd> mount_filesystem(Sys& sys, int target, const std::string& fstype,
                                   const std::string& source, const plan::Mount& m) {
    unique_fd fsfd = KAPSEL_TRY(sys.fsopen(fstype));
    KAPSEL_TRY(sys.fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "source", source));
    for (auto& [key, value] : m.data)
        KAPSEL_TRY(sys.fsconfig(fsfd.get(), value.empty() ? FSCONFIG_SET_FLAG : FSCONFIG_SET_STRING,
                                key, value));
    for (auto& flag : m.sb_flags) KAPSEL_TRY(sys.fsconfig(fsfd.get(), FSCONFIG_SET_FLAG, flag, ""));
    KAPSEL_TRY(sys.fsconfig(fsfd.get(), FSCONFIG_CMD_CREATE, "", ""));
    unique_fd mnt = KAPSEL_TRY(sys.fsmount(fsfd.get(), static_cast<unsigned>(m.attrs.set)));
    KAPSEL_TRY(sys.move_mount(mnt.get(), "", target, "",
                              MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH));
    KAPSEL_TRY(set_propagation(sys, mnt.get(), m.attrs.propagation, m.attrs.propagation_recursive));
    return mnt;
}

// The mount's ro/nosuid/atime/... attributes (recursively for the "r" forms).
Status set_attrs(Sys& sys, int mntfd, const plan::MountAttrs& a) {
    if (!a.set && !a.clear) return {};
    mount_attr attr{};
    attr.attr_set = a.set;
    attr.attr_clr = a.clear;
    return sys.mount_setattr(mntfd, "", kAtEmptyPath | (a.recursive ? kAtRecursive : 0), attr);
}

// A detached bind (open_tree + move_mount): for idmapped mounts, which must be
// set up detached, and for binds inside the container after pivot_root.
Status bind_detached(Sys& sys, int target, int srcdir, const std::string& source,
                     const plan::Mount& m, int userns_fd = -1) {
    unsigned flags = OPEN_TREE_CLONE | (m.recursive_bind ? kAtRecursive : 0);
    if (source.empty()) flags |= kAtEmptyPath;
    unique_fd tree = KAPSEL_TRY(sys.open_tree(srcdir, source, flags));
    if (!m.uid_map.empty()) {
        if (userns_fd < 0) return make_error("idmapped mount without a user namespace");
        mount_attr id{};
        id.attr_set = MOUNT_ATTR_IDMAP;
        id.userns_fd = static_cast<uint64_t>(userns_fd);
        KAPSEL_TRY(sys.mount_setattr(tree.get(), "",
                                     kAtEmptyPath | (m.recursive_idmap ? kAtRecursive : 0), id));
    }
    KAPSEL_TRY(set_attrs(sys, tree.get(), m.attrs));
    KAPSEL_TRY(sys.move_mount(tree.get(), "", target, "",
                              MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH));
    return set_propagation(sys, tree.get(), m.attrs.propagation, m.attrs.propagation_recursive);
}

// A bind mount of a host path at `dest` in the rootfs. mount(MS_BIND) rather than
// open_tree: only it keeps the new mount in the source's peer group, which
// shared/slave propagation (Kubernetes' Bidirectional volumes) depends on. The
// target is named through /proc/self/fd so the path resolved in the root is the
// one mounted on, not whatever a symlink swapped in meanwhile.
Status bind_mount(Sys& sys, int rootfd, const std::string& dest, int target,
                  const std::string& source, const plan::Mount& m, int userns_fd = -1) {
    if (!m.uid_map.empty()) return bind_detached(sys, target, AT_FDCWD, source, m, userns_fd);
    unsigned long flags = MS_BIND | (m.recursive_bind ? MS_REC : 0);
    KAPSEL_TRY(sys.mount(source, "/proc/self/fd/" + std::to_string(target), "", flags, ""));
    if (!m.attrs.set && !m.attrs.clear && !m.attrs.propagation) return {};
    // The new mount's root, reached by walking the path again.
    unique_fd mnt = KAPSEL_TRY(open_in_root(sys, rootfd, dest, O_PATH));
    KAPSEL_TRY(set_attrs(sys, mnt.get(), m.attrs));
    return set_propagation(sys, mnt.get(), m.attrs.propagation, m.attrs.propagation_recursive);
}

Status mount_cgroups(Sys& sys, int rootfd, const plan::Mount& m, const RootfsOptions& opts) {
    if (opts.cgroups.empty()) {
        // A rootless container without a cgroup of its own (cgroups/rootless.hpp). In a
        // cgroup namespace of its own a cgroup2 mount shows the cgroup it runs in (the
        // user's) as its root; where the kernel refuses that (no cgroup v2, no cgroup
        // namespace), an empty read-only directory: the host's tree is none of its business.
        unique_fd target = KAPSEL_TRY(mkdir_in_root(sys, rootfd, m.destination));
        if (opts.new_cgroup_ns && mount_filesystem(sys, target.get(), "cgroup2", "cgroup2", m))
            return {};
        plan::Mount empty = m;
        empty.data = {{"mode", "555"}, {"size", "0"}};
        empty.attrs.set |= MOUNT_ATTR_RDONLY;
        KAPSEL_TRY(mount_filesystem(sys, target.get(), "tmpfs", "tmpfs", empty));
        return {};
    }
    if (opts.cgroups.size() == 1 && opts.cgroups[0].v2) {
        unique_fd target = KAPSEL_TRY(mkdir_in_root(sys, rootfd, m.destination));
        if (opts.new_cgroup_ns) {
            KAPSEL_TRY(mount_filesystem(sys, target.get(), "cgroup2", "cgroup2", m));
            return {};
        }
        return bind_mount(sys, rootfd, m.destination, target.get(), opts.cgroups[0].host_path, m);
    }
    // cgroup v1: a tmpfs holding one mount per hierarchy, as on the host.
    unique_fd target = KAPSEL_TRY(mkdir_in_root(sys, rootfd, m.destination));
    plan::Mount tmpfs = m;
    tmpfs.data = {{"mode", "755"}};
    tmpfs.attrs.set &=
        ~static_cast<uint64_t>(MOUNT_ATTR_RDONLY);  // made read-only after filling it
    unique_fd top = KAPSEL_TRY(mount_filesystem(sys, target.get(), "tmpfs", "tmpfs", tmpfs));
    for (auto& h : opts.cgroups) {
        std::string dest = m.destination + "/" + (h.name.empty() ? "unified" : h.name);
        unique_fd dir = KAPSEL_TRY(mkdir_in_root(sys, rootfd, dest));
        plan::Mount sub = m;
        sub.data.clear();
        sub.recursive_bind = false;
        if (opts.new_cgroup_ns) {
            if (!h.v2)
                for (auto& opt : split(h.fs_option, ',')) {
                    auto eq = opt.find('=');
                    if (eq == std::string::npos)
                        sub.data.emplace_back(opt, "");
                    else
                        sub.data.emplace_back(opt.substr(0, eq), opt.substr(eq + 1));
                }
            KAPSEL_TRY_CTX(
                mount_filesystem(sys, dir.get(), h.v2 ? "cgroup2" : "cgroup", "cgroup", sub),
                "mount cgroup " + h.name);
        } else {
            KAPSEL_TRY_CTX(bind_mount(sys, rootfd, dest, dir.get(), h.host_path, sub),
                           "bind cgroup " + h.name);
        }
    }
    if (m.attrs.set & MOUNT_ATTR_RDONLY) {
        mount_attr ro{};
        ro.attr_set = MOUNT_ATTR_RDONLY;
        KAPSEL_TRY(sys.mount_setattr(top.get(), "", kAtEmptyPath, ro));
    }
    return {};
}

}  // namespace

Result<unique_fd> make_idmap_userns(const plan::Mount& m) {
    // The kernel wants a user namespace fd; the cheapest holder is a child that
    // unshares one and waits. Its maps are written from here.
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) < 0) return sys_error("pipe for idmapped mount");
    unique_fd rd(pipefd[0]), wr(pipefd[1]);
    pid_t pid = ::fork();
    if (pid < 0) return sys_error("fork for idmapped mount");
    if (pid == 0) {
        if (::unshare(CLONE_NEWUSER) < 0) ::_exit(1);
        wr.reset();
        char c;
        (void)!::read(rd.get(), &c, 1);  // wait until the parent has taken the namespace
        ::_exit(0);
    }
    rd.reset();
    auto format = [](const std::vector<plan::IdMap>& maps) {
        std::string s;
        for (auto& x : maps)
            s += std::to_string(x.inside) + " " + std::to_string(x.outside) + " " +
                 std::to_string(x.count) + "\n";
        return s;
    };
    std::string base = "/proc/" + std::to_string(pid);
    // Wait for the unshare: the namespace link changes from ours.
    struct stat self_ns, child_ns;
    ::stat("/proc/self/ns/user", &self_ns);
    for (int i = 0; i < 10000; ++i) {
        if (::stat((base + "/ns/user").c_str(), &child_ns) == 0 &&
            child_ns.st_ino != self_ns.st_ino)
            break;
        ::usleep(50);
    }
    auto st = fs::write_file(base + "/uid_map", format(m.uid_map));
    if (st) st = fs::write_file(base + "/setgroups", "deny");
    if (st) st = fs::write_file(base + "/gid_map", format(m.gid_map));
    unique_fd ns(::open((base + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
    int err = errno;
    wr.reset();
    ::waitpid(pid, nullptr, 0);
    if (!st) return std::move(st).error().context("idmapped mount " + m.destination);
    if (!ns) return sys_error("open user namespace for idmapped mount", err);
    return ns;
}

namespace {

// An overlay ready to mount: the layers one per "lowerdir+" (Linux 6.8, no length
// limit) or as one colon-separated "lowerdir" list.
Result<unique_fd> create_overlay(Sys& sys, const plan::Plan::Overlay& o, bool one_per_layer) {
    unique_fd fsfd = KAPSEL_TRY(sys.fsopen("overlay"));
    if (one_per_layer)
        for (auto& l : o.lowers)
            KAPSEL_TRY(sys.fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "lowerdir+", l));
    else
        KAPSEL_TRY(sys.fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "lowerdir", join(o.lowers, ":")));
    KAPSEL_TRY(sys.fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "upperdir", o.upper));
    KAPSEL_TRY(sys.fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "workdir", o.work));
    // Renamed directories and metadata-only copy-ups are kept by reference in the
    // upper dir (redirect/metacopy xattrs), which `commit` cannot write as a layer; some
    // kernels turn them on by default. Off, a renamed directory is copied up whole.
    // With userxattr the kernel wants redirect_dir=nofollow (not created, not followed)
    // and refuses "off" as a conflict.
    if (o.user_xattr) KAPSEL_TRY(sys.fsconfig(fsfd.get(), FSCONFIG_SET_FLAG, "userxattr", ""));
    (void)sys.fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "redirect_dir", o.user_xattr ? "nofollow" : "off");
    (void)sys.fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "metacopy", "off");
    KAPSEL_TRY_CTX(sys.fsconfig(fsfd.get(), FSCONFIG_CMD_CREATE, "", ""),
                   "mount the overlay root file system");
    return fsfd;
}

}  // namespace

Status mount_overlay_at(Sys& sys, const plan::Plan::Overlay& o, const std::string& at) {
    unique_fd target = KAPSEL_TRY(sys.openat2(AT_FDCWD, at, O_PATH | O_DIRECTORY, 0, 0));
    // Before Linux 6.5 overlay took its options the legacy way: fsconfig accepts any
    // key then, and an unknown "lowerdir+" fails only at create. So a failed create
    // with one option per layer is tried once more with the list (which, before 6.8,
    // is the only way).
    auto fsfd = create_overlay(sys, o, true);
    if (!fsfd) fsfd = create_overlay(sys, o, false);
    if (!fsfd) return std::move(fsfd).error();
    unique_fd mnt = KAPSEL_TRY(sys.fsmount(fsfd->get(), 0));
    return sys.move_mount(mnt.get(), "", target.get(), "",
                          MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

Result<unique_fd> prepare_rootfs(Sys& sys, const plan::Plan& plan) {
    // Nothing mounted in the container may propagate back to the host unless the
    // config asks for it: rslave by default, as runc does. "shared" keeps the
    // copies of the host's mounts in the host's peer groups, so that a bind mount
    // with "rshared" really propagates both ways. "unbindable" is applied after
    // pivot_root: an unbindable rootfs could not be bound to itself.
    uint64_t prop = plan.rootfs_propagation;
    unsigned long first = prop == MS_SHARED || prop == MS_PRIVATE
                              ? static_cast<unsigned long>(prop)
                              : static_cast<unsigned long>(MS_SLAVE);
    KAPSEL_TRY(sys.mount("", "/", "", first | MS_REC, ""));
    if (prop == MS_SHARED) {
        // pivot_root refuses a shared parent of the new root (and a shared current
        // root); and the rootfs bind must not appear in the host's copy of them.
        KAPSEL_TRY(sys.mount("", mount_point_of(fs::dirname(plan.rootfs)), "", MS_PRIVATE, ""));
        KAPSEL_TRY(sys.mount("", "/", "", MS_PRIVATE, ""));
    }
    if (plan.rootfs_overlay) {
        // An image container: its overlay lives only in its own mount namespace,
        // so the host never sees it and nothing has to unmount it.
        KAPSEL_TRY(mount_overlay_at(sys, *plan.rootfs_overlay, plan.rootfs));
        return sys.openat2(AT_FDCWD, plan.rootfs, O_PATH | O_DIRECTORY, 0, 0);
    }
    auto bound = sys.mount(plan.rootfs, plan.rootfs, "", MS_BIND | MS_REC, "");
    if (!bound && bound.error().code == EACCES && plan.has(plan::NsType::user))
        return std::move(bound).error().context(
            "the rootfs and every directory above it must be searchable by the container's mapped "
            "root user");
    KAPSEL_TRY(std::move(bound));
    return sys.openat2(AT_FDCWD, plan.rootfs, O_PATH | O_DIRECTORY, 0, 0);
}

// proc and sysfs go on ordinary directories only: an image whose /proc is a symlink
// would otherwise get a full procfs wherever the link points inside the root (where
// masked paths do not follow it). runc refuses the same.
static Status refuse_symlinked(Sys& sys, int rootfd, const plan::Mount& m) {
    std::string r = m.destination;
    while (!r.empty() && r.front() == '/') r.erase(0, 1);
    if (r.empty()) return {};
    // Without O_NOFOLLOW: RESOLVE_NO_SYMLINKS then refuses a final symlink too (ELOOP).
    auto fd = sys.openat2(rootfd, r, O_PATH, 0, kInRoot | 0x04 /*RESOLVE_NO_SYMLINKS*/);
    if (!fd && fd.error().code == ELOOP)
        return make_error("mount " + m.fstype + " at " + m.destination +
                          ": it is a symlink in the rootfs; it must be an ordinary directory");
    return {};
}

// A user namespace may mount sysfs only with a network namespace of its own, and
// mqueue only with an IPC namespace of its own (the kernel ties both to those
// namespaces' owners). Without them the container gets the host's, as it shares
// them: runc and crun bind the host's mount then, and so does kapsel.
static std::string host_copy_of(const std::string& fstype) {
    if (fstype == "sysfs") return "/sys";
    if (fstype == "mqueue") return "/dev/mqueue";
    return "";
}

// The host's mount, recursively (sysfs has mounts below it) and with the config's
// flags on every part of it: "ro" on /sys means all of it.
static Status bind_host_copy(Sys& sys, int rootfd, int target, const std::string& host,
                             const plan::Mount& m) {
    plan::Mount bind = m;
    bind.kind = plan::MountKind::bind;
    bind.source = host;
    bind.recursive_bind = true;
    bind.attrs.recursive = true;
    bind.data.clear();
    auto st = bind_mount(sys, rootfd, m.destination, target, host, bind);
    if (!st)
        return std::move(st).error().context(
            "bind the host's " + host + " at " + m.destination + " (no " + m.fstype +
            " mount in a user namespace without its own " +
            (m.fstype == "sysfs" ? "network" : "IPC") + " namespace)");
    return {};
}

bool bind_sources_from_parent(const plan::Plan& plan) {
    return plan.has(plan::NsType::user) && plan.has(plan::NsType::mount);
}

Status apply_mount(Sys& sys, int rootfd, const plan::Mount& m, const RootfsOptions& opts,
                   int userns_fd, int source_fd) {
    switch (m.kind) {
        case plan::MountKind::filesystem: {
            if (m.fstype == "proc" || m.fstype == "sysfs") KAPSEL_TRY(refuse_symlinked(sys, rootfd, m));
            unique_fd target = KAPSEL_TRY(mkdir_in_root(sys, rootfd, m.destination));
            unique_fd below;
            if (m.tmpcopyup)
                below =
                    KAPSEL_TRY(open_in_root(sys, rootfd, m.destination, O_RDONLY | O_DIRECTORY));
            auto made = mount_filesystem(sys, target.get(), m.fstype, m.source, m);
            if (!made && made.error().code == EPERM && opts.user_ns)
                if (auto host = host_copy_of(m.fstype); !host.empty())
                    return bind_host_copy(sys, rootfd, target.get(), host, m);
            KAPSEL_TRY(std::move(made));
            if (m.tmpcopyup) {
                unique_fd top =
                    KAPSEL_TRY(open_in_root(sys, rootfd, m.destination, O_RDONLY | O_DIRECTORY));
                KAPSEL_TRY(copy_tree(below.get(), top.get()));
            }
            return {};
        }
        case plan::MountKind::bind: {
            // The parent's fd of the source when it opened one: the path through it is
            // followed by the kernel without a permission check on the host's directories.
            std::string source = source_fd >= 0 && m.uid_map.empty()
                                     ? "/proc/self/fd/" + std::to_string(source_fd)
                                     : m.source;
            struct stat st;
            KAPSEL_TRY_CTX(sys.fstatat(AT_FDCWD, source, st, 0), "bind source " + m.source);
            unique_fd target =
                KAPSEL_TRY(ensure_mountpoint(sys, rootfd, m.destination, S_ISDIR(st.st_mode)));
            return bind_mount(sys, rootfd, m.destination, target.get(), source, m, userns_fd);
        }
        case plan::MountKind::cgroup:
            return mount_cgroups(sys, rootfd, m, opts);
    }
    return {};
}

Status mount_all(Sys& sys, int rootfd, const plan::Plan& plan, const RootfsOptions& opts) {
    for (size_t i = 0; i < plan.mounts.size(); ++i) {
        auto& m = plan.mounts[i];
        std::string what = "mount " + (m.kind == plan::MountKind::bind ? m.source : m.fstype) +
                           " at " + m.destination;
        int userns = i < opts.idmap_userns.size() ? opts.idmap_userns[i] : -1;
        int source = i < opts.bind_sources.size() ? opts.bind_sources[i] : -1;
        KAPSEL_TRY_CTX(apply_mount(sys, rootfd, m, opts, userns, source), what);
    }
    // A /dev bound from elsewhere is used as it is (runc's rule): nodes and links made in
    // it would change the host's /dev, and a read-only bind could not take them.
    if (plan.binds_dev()) return {};
    return create_devices(sys, rootfd, plan, opts.bind_devices);
}

Status create_devices(Sys& sys, int rootfd, const plan::Plan& plan, bool bind_devices) {
    // Device modes are exact: the umask must not trim them.
    mode_t old = ::umask(0);
    struct Restore {
        mode_t m;
        ~Restore() { ::umask(m); }
    } restore{old};
    for (auto& d : plan.devices) {
        std::string what = "create device " + d.path;
        unique_fd dir = KAPSEL_TRY_CTX(mkdir_in_root(sys, rootfd, fs::dirname(d.path)), what);
        std::string name = fs::basename(d.path);
        if (bind_devices) {
            // mknod is refused in a user namespace: bind the host's node instead.
            auto target = KAPSEL_TRY_CTX(ensure_mountpoint(sys, rootfd, d.path, false), what);
            plan::Mount bind;
            bind.kind = plan::MountKind::bind;
            bind.source = d.path;
            KAPSEL_TRY_CTX(bind_mount(sys, rootfd, d.path, target.get(), d.path, bind), what);
            continue;
        }
        mode_t type = d.type == 'b' ? S_IFBLK : d.type == 'p' ? S_IFIFO : S_IFCHR;
        auto made = sys.mknodat(dir.get(), name, type | d.mode, makedev(d.major, d.minor));
        if (!made && made.error().code != EEXIST) return std::move(made).error().context(what);
        if (made) {
            KAPSEL_TRY_CTX(sys.fchmodat(dir.get(), name, d.mode), what);
            KAPSEL_TRY_CTX(sys.fchownat(dir.get(), name, d.uid, d.gid, AT_SYMLINK_NOFOLLOW), what);
        }
    }
    unique_fd dev = KAPSEL_TRY(mkdir_in_root(sys, rootfd, "/dev"));
    static const std::pair<const char*, const char*> links[] = {
        {"/proc/self/fd", "fd"},       {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
        {"/proc/self/fd/2", "stderr"}, {"/proc/kcore", "core"},
    };
    for (auto& [target, name] : links) {
        auto st = sys.symlinkat(target, dev.get(), name);
        if (!st && st.error().code != EEXIST)
            return std::move(st).error().context("create /dev/" + std::string(name));
    }
    // /dev/ptmx must be the container's own devpts multiplexer, not the host's.
    struct stat pts;
    if (sys.fstatat(dev.get(), "pts/ptmx", pts, AT_SYMLINK_NOFOLLOW)) {
        struct stat cur;
        if (sys.fstatat(dev.get(), "ptmx", cur, AT_SYMLINK_NOFOLLOW) && !S_ISLNK(cur.st_mode)) {
            auto removed = sys.unlinkat(dev.get(), "ptmx", 0);
            if (!removed && removed.error().code != EBUSY) return std::move(removed).error();
        }
        auto st = sys.symlinkat("pts/ptmx", dev.get(), "ptmx");
        if (!st && st.error().code != EEXIST)
            return std::move(st).error().context("create /dev/ptmx");
    }
    return {};
}

std::vector<HostMountToHide> host_mounts_to_hide(const std::string& mountinfo,
                                                 const std::string& rootfs) {
    struct Entry {
        std::string id, parent, root, point, fstype;
        bool shared = false;
    };
    std::vector<Entry> entries;
    for (auto& line : split(mountinfo, '\n')) {
        auto f = split(line, ' ');
        auto dash = std::find(f.begin(), f.end(), "-");
        if (f.size() < 7 || dash == f.end() || dash + 1 == f.end()) continue;
        Entry e{.id = f[0],
                .parent = f[1],
                .root = unescape_mountinfo(f[3]),
                .point = unescape_mountinfo(f[4]),
                .fstype = *(dash + 1)};
        for (auto it = f.begin() + 6; it != dash; ++it)
            e.shared = e.shared || it->rfind("shared:", 0) == 0;
        entries.push_back(std::move(e));
    }
    std::string inside = fs::clean(rootfs);
    std::vector<HostMountToHide> out;
    for (auto& e : entries) {
        if (e.root != "/" || (e.fstype != "proc" && e.fstype != "sysfs")) continue;
        if (e.point == inside || e.point.rfind(inside + "/", 0) == 0) continue;
        // Unmounting a mount whose parent is shared is propagated to the parent's
        // peers, which may be the host's own: cover it instead.
        bool parent_shared = false;
        for (auto& p : entries) parent_shared = parent_shared || (p.id == e.parent && p.shared);
        out.push_back({.path = e.point, .unmount = !parent_shared});
    }
    return out;
}

// --no-pivot: the host's mounts stay in the container's mount namespace below the
// moved root. A full procfs or sysfs among them lets a process inside mount a fresh,
// unmasked one (the kernel allows that while one is fully visible in the namespace),
// so each goes first, as runc's msMoveRoot does: made a slave, so that nothing is
// unmounted on the host, then detached; where that is refused (a user namespace's
// mounts are locked to their parents), covered by an empty read-only tmpfs.
Status hide_host_mounts(Sys& sys, const std::vector<HostMountToHide>& mounts) {
    for (auto& m : mounts) {
        auto slave = sys.mount("", m.path, "", MS_SLAVE | MS_REC, "");
        if (!slave && slave.error().code == ENOENT) continue;  // went with a parent already
        KAPSEL_TRY_CTX(std::move(slave), "--no-pivot: hide the host's " + m.path);
        if (m.unmount) {
            auto gone = sys.umount2(m.path, MNT_DETACH);
            if (gone) continue;
            if (gone.error().code != EINVAL && gone.error().code != EPERM)
                return std::move(gone).error().context("--no-pivot: hide the host's " + m.path);
        }
        KAPSEL_TRY_CTX(sys.mount("tmpfs", m.path, "tmpfs",
                                 MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=000"),
                       "--no-pivot: cover the host's " + m.path);
    }
    return {};
}

Status enter_rootfs(Sys& sys, const std::string& rootfs, bool no_pivot) {
    if (no_pivot) {
        auto info = fs::read_file("/proc/self/mountinfo");
        if (!info) return std::move(info).error().context("--no-pivot: read the mount table");
        KAPSEL_TRY(hide_host_mounts(sys, host_mounts_to_hide(*info, rootfs)));
        KAPSEL_TRY(sys.chdir(rootfs));
        KAPSEL_TRY(sys.mount(rootfs, "/", "", MS_MOVE, ""));
        KAPSEL_TRY(sys.chroot("."));
        return sys.chdir("/");
    }
    unique_fd oldroot = KAPSEL_TRY(sys.openat2(AT_FDCWD, "/", O_PATH | O_DIRECTORY, 0, 0));
    unique_fd newroot = KAPSEL_TRY(sys.openat2(AT_FDCWD, rootfs, O_PATH | O_DIRECTORY, 0, 0));
    KAPSEL_TRY(sys.fchdir(newroot.get()));
    // pivot_root(".", ".") stacks the old root on top of the new one; no put_old
    // directory is needed in the image.
    KAPSEL_TRY(sys.pivot_root(".", "."));
    KAPSEL_TRY(sys.fchdir(oldroot.get()));
    // Make the old root a slave first, so detaching it cannot unmount anything on the host.
    KAPSEL_TRY(sys.mount("", ".", "", MS_SLAVE | MS_REC, ""));
    KAPSEL_TRY(sys.umount2(".", MNT_DETACH));
    return sys.chdir("/");
}

Status finalize_rootfs(Sys& sys, const plan::Plan& plan) {
    unique_fd root = KAPSEL_TRY(sys.openat2(AT_FDCWD, "/", O_PATH | O_DIRECTORY, 0, 0));
    for (auto& p : plan.readonly_paths) {
        auto target = open_in_root(sys, root.get(), p, O_PATH);
        if (!target) {
            if (target.error().code == ENOENT) continue;
            return std::move(target).error().context("readonly path " + p);
        }
        unique_fd tree = KAPSEL_TRY_CTX(
            sys.open_tree(target->get(), "", OPEN_TREE_CLONE | kAtRecursive | kAtEmptyPath),
            "readonly path " + p);
        mount_attr ro{};
        ro.attr_set = MOUNT_ATTR_RDONLY;
        KAPSEL_TRY_CTX(sys.mount_setattr(tree.get(), "", kAtEmptyPath | kAtRecursive, ro),
                       "readonly path " + p);
        KAPSEL_TRY_CTX(sys.move_mount(tree.get(), "", target->get(), "",
                                      MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH),
                       "readonly path " + p);
    }
    for (auto& p : plan.masked_paths) {
        auto target = open_in_root(sys, root.get(), p, O_PATH);
        if (!target) {
            if (target.error().code == ENOENT) continue;
            return std::move(target).error().context("masked path " + p);
        }
        struct stat st;
        KAPSEL_TRY_CTX(sys.fstatat(target->get(), "", st, AT_EMPTY_PATH), "masked path " + p);
        if (S_ISDIR(st.st_mode)) {
            // An empty read-only tmpfs hides the directory's content.
            plan::Mount empty;
            empty.attrs.set = MOUNT_ATTR_RDONLY;
            empty.data = {{"size", "0"}, {"mode", "755"}};
            KAPSEL_TRY_CTX(mount_filesystem(sys, target->get(), "tmpfs", "tmpfs", empty),
                           "masked path " + p);
        } else {
            plan::Mount null_bind;
            KAPSEL_TRY_CTX(bind_detached(sys, target->get(), root.get(), "dev/null", null_bind),
                           "masked path " + p);
        }
    }
    if (plan.rootfs_propagation && plan.has(plan::NsType::mount)) {
        // The container's root gets the configured propagation, as seen from inside.
        unsigned long rec =
            plan.rootfs_propagation_recursive ? static_cast<unsigned long>(MS_REC) : 0ul;
        KAPSEL_TRY_CTX(sys.mount("", "/", "", plan.rootfs_propagation | rec, ""),
                       "set rootfsPropagation");
    }
    if (plan.rootfs_readonly) {
        mount_attr ro{};
        ro.attr_set = MOUNT_ATTR_RDONLY;
        KAPSEL_TRY_CTX(sys.mount_setattr(root.get(), "", kAtEmptyPath, ro), "make root read-only");
    }
    return {};
}

Status unmount_below(const std::string& path) {
    auto info = fs::read_file("/proc/self/mountinfo");
    if (!info) return std::move(info).error();
    std::vector<std::string> targets;
    std::string prefix = fs::clean(path);
    for (auto& line : split(*info, '\n')) {
        auto f = split(line, ' ');
        if (f.size() < 5) continue;
        std::string mp = unescape_mountinfo(f[4]);
        if (mp == prefix || mp.rfind(prefix + "/", 0) == 0) targets.push_back(mp);
    }
    std::sort(targets.begin(), targets.end(), [](auto& a, auto& b) { return a.size() > b.size(); });
    Status first;
    for (auto& t : targets)
        if (::umount2(t.c_str(), MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT && first)
            first = sys_error("unmount " + t);
    return first;
}

}  // namespace kapsel::linux
