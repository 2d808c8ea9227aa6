// OCI mount entries -> plan::Mount: which kind of mount, which attributes for the
// new mount API, which options go to the filesystem itself.
#include <linux/mount.h>
#include <sys/mount.h>

#include <algorithm>

#include "plan/build.hpp"
#include "util/fs.hpp"

namespace kapsel::plan {
namespace {

struct AttrOption {
    const char* name;
    uint64_t attr;
    bool clear;      // the option clears the attribute ("rw", "suid", ...)
    bool recursive;  // the "r" form
    // One of the atime modes, which share one field (MOUNT_ATTR__ATIME).
    // MOUNT_ATTR_RELATIME is 0, so this cannot be read off `attr`.
    bool atime = false;
};

// The atime options are one field in MOUNT_ATTR (MOUNT_ATTR__ATIME): setting one
// replaces the others.
constexpr AttrOption kAttrOptions[] = {
    {"ro", MOUNT_ATTR_RDONLY, false, false},
    {"rw", MOUNT_ATTR_RDONLY, true, false},
    {"nosuid", MOUNT_ATTR_NOSUID, false, false},
    {"suid", MOUNT_ATTR_NOSUID, true, false},
    {"nodev", MOUNT_ATTR_NODEV, false, false},
    {"dev", MOUNT_ATTR_NODEV, true, false},
    {"noexec", MOUNT_ATTR_NOEXEC, false, false},
    {"exec", MOUNT_ATTR_NOEXEC, true, false},
    {"noatime", MOUNT_ATTR_NOATIME, false, false, true},
    {"relatime", MOUNT_ATTR_RELATIME, false, false, true},
    {"strictatime", MOUNT_ATTR_STRICTATIME, false, false, true},
    {"atime", MOUNT_ATTR_NOATIME, true, false, true},
    {"norelatime", MOUNT_ATTR_RELATIME, true, false, true},
    {"nostrictatime", MOUNT_ATTR_STRICTATIME, true, false, true},
    {"nodiratime", MOUNT_ATTR_NODIRATIME, false, false},
    {"diratime", MOUNT_ATTR_NODIRATIME, true, false},
    {"nosymfollow", MOUNT_ATTR_NOSYMFOLLOW, false, false},
    {"symfollow", MOUNT_ATTR_NOSYMFOLLOW, true, false},
    {"rro", MOUNT_ATTR_RDONLY, false, true},
    {"rrw", MOUNT_ATTR_RDONLY, true, true},
    {"rnosuid", MOUNT_ATTR_NOSUID, false, true},
    {"rsuid", MOUNT_ATTR_NOSUID, true, true},
    {"rnodev", MOUNT_ATTR_NODEV, false, true},
    {"rdev", MOUNT_ATTR_NODEV, true, true},
    {"rnoexec", MOUNT_ATTR_NOEXEC, false, true},
    {"rexec", MOUNT_ATTR_NOEXEC, true, true},
    {"rnoatime", MOUNT_ATTR_NOATIME, false, true, true},
    {"rrelatime", MOUNT_ATTR_RELATIME, false, true, true},
    {"rstrictatime", MOUNT_ATTR_STRICTATIME, false, true, true},
    {"ratime", MOUNT_ATTR_NOATIME, true, true, true},
    {"rnorelatime", MOUNT_ATTR_RELATIME, true, true, true},
    {"rnostrictatime", MOUNT_ATTR_STRICTATIME, true, true, true},
    {"rnodiratime", MOUNT_ATTR_NODIRATIME, false, true},
    {"rdiratime", MOUNT_ATTR_NODIRATIME, true, true},
    {"rnosymfollow", MOUNT_ATTR_NOSYMFOLLOW, false, true},
    {"rsymfollow", MOUNT_ATTR_NOSYMFOLLOW, true, true},
};

struct Propagation {
    const char* name;
    uint64_t flag;
    bool recursive;
};

constexpr Propagation kPropagation[] = {
    {"shared", MS_SHARED, false},         {"rshared", MS_SHARED, true},
    {"slave", MS_SLAVE, false},           {"rslave", MS_SLAVE, true},
    {"private", MS_PRIVATE, false},       {"rprivate", MS_PRIVATE, true},
    {"unbindable", MS_UNBINDABLE, false}, {"runbindable", MS_UNBINDABLE, true},
};

// Superblock flags: these change the filesystem, not the mount, so the new mount
// API takes them through fsconfig(FSCONFIG_SET_FLAG).
constexpr const char* kSbFlags[] = {"sync", "dirsync", "lazytime", "mand", "iversion", "silent"};
// Their negations are the defaults for a new superblock.
constexpr const char* kSbDefaults[] = {"async", "nolazytime", "nomand",  "noiversion",
                                       "loud",  "defaults",   "remount", "nodirsync"};

constexpr uint64_t kAtimeMask = MOUNT_ATTR__ATIME;
void apply_attr(MountAttrs& a, const AttrOption& o) {
    if (o.recursive) a.recursive = true;
    if (o.atime) {
        // One of relatime/noatime/strictatime; clearing means "back to relatime" for
        // noatime and strictatime, and "strictatime" for norelatime, as mount(8) reads them.
        a.set &= ~kAtimeMask;
        a.clear |= kAtimeMask;
        if (!o.clear)
            a.set |= o.attr;
        else if (o.attr == MOUNT_ATTR_RELATIME)
            a.set |= MOUNT_ATTR_STRICTATIME;
        else
            a.set |= MOUNT_ATTR_RELATIME;
        return;
    }
    if (o.clear) {
        a.set &= ~o.attr;
        a.clear |= o.attr;
    } else {
        a.set |= o.attr;
        a.clear &= ~o.attr;
    }
}

}  // namespace

bool Plan::binds_dev() const {
    return std::any_of(mounts.begin(), mounts.end(), [](const Mount& m) {
        return m.kind == MountKind::bind && m.destination == "/dev";
    });
}

Result<Mount> build_mount(const oci::Mount& m, const std::string& bundle, size_t index) {
    std::string where = "mounts[" + std::to_string(index) + "]";
    Mount out;
    if (m.destination.empty()) return make_error(where + ": destination is empty");
    // A relative destination is taken as relative to the container's root, as runc does.
    out.destination = fs::clean("/" + m.destination);
    where += " (" + out.destination + ")";

    bool bind = m.type == "bind";
    for (auto& opt : m.options) {
        if (opt == "bind") bind = true;
        if (opt == "rbind") bind = out.recursive_bind = true;
    }
    if (bind) {
        out.kind = MountKind::bind;
        if (m.source.empty()) return make_error(where + ": a bind mount needs a source");
        out.source =
            m.source.front() == '/' ? fs::clean(m.source) : fs::clean(fs::join(bundle, m.source));
    } else if (m.type == "cgroup") {
        out.kind = MountKind::cgroup;
        out.fstype = "cgroup";
        out.source = m.source.empty() ? "cgroup" : m.source;
    } else {
        if (m.type.empty() || m.type == "none")
            return make_error(
                where + ": mount type is missing (neither a filesystem type nor a bind mount)");
        out.kind = MountKind::filesystem;
        out.fstype = m.type;
        out.source = m.source.empty() ? m.type : m.source;
    }

    for (auto& opt : m.options) {
        if (opt == "bind" || opt == "rbind") continue;
        if (opt == "tmpcopyup") {
            if (out.kind != MountKind::filesystem || out.fstype != "tmpfs")
                return make_error(where + ": tmpcopyup needs a tmpfs mount");
            out.tmpcopyup = true;
            continue;
        }
        if (opt == "idmap" || opt == "ridmap") {
            if (out.kind != MountKind::bind)
                return make_error(where + ": " + opt + " needs a bind mount");
            out.recursive_idmap = opt == "ridmap";
            if (m.uid_mappings.empty() || m.gid_mappings.empty())
                return make_error(where + ": " + opt + " needs uidMappings and gidMappings");
            continue;
        }
        bool matched = false;
        for (auto& a : kAttrOptions) {
            if (opt == a.name) {
                apply_attr(out.attrs, a);
                matched = true;
                break;
            }
        }
        if (matched) continue;
        for (auto& p : kPropagation) {
            if (opt == p.name) {
                out.attrs.propagation = p.flag;
                out.attrs.propagation_recursive = p.recursive;
                matched = true;
                break;
            }
        }
        if (matched) continue;
        for (auto* f : kSbFlags) {
            if (opt == f) {
                // A bind mount shares the source's filesystem; its superblock
                // flags are not the bind's to change (mount(2) ignores them too).
                if (out.kind != MountKind::bind) out.sb_flags.emplace_back(f);
                matched = true;
                break;
            }
        }
        for (auto* f : kSbDefaults) matched = matched || opt == f;
        if (matched) continue;
        // mount(8) keeps "x-*" options for userspace helpers; the kernel never sees them.
        if (opt.rfind("x-", 0) == 0 || opt.rfind("X-", 0) == 0) continue;
        // Filesystem data ("mode=755") means nothing to a bind mount; mount(2)
        // ignores it there, and configs written for runc contain it.
        if (out.kind == MountKind::bind) continue;
        auto eq = opt.find('=');
        if (eq == std::string::npos)
            out.data.emplace_back(opt, "");
        else
            out.data.emplace_back(opt.substr(0, eq), opt.substr(eq + 1));
    }

    if (!m.uid_mappings.empty() || !m.gid_mappings.empty()) {
        bool idmap_opt = false;
        for (auto& o : m.options) idmap_opt = idmap_opt || o == "idmap" || o == "ridmap";
        // runtime-spec: mappings on a bind mount mean an idmapped mount even without the option.
        if (out.kind != MountKind::bind)
            return make_error(where + ": uidMappings/gidMappings need a bind mount");
        if (m.uid_mappings.empty() || m.gid_mappings.empty())
            return make_error(where + ": an idmapped mount needs both uidMappings and gidMappings");
        (void)idmap_opt;
        for (auto& x : m.uid_mappings) out.uid_map.push_back({x.container_id, x.host_id, x.size});
        for (auto& x : m.gid_mappings) out.gid_map.push_back({x.container_id, x.host_id, x.size});
    }
    return out;
}

}  // namespace kapsel::plan
