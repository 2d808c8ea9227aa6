// The plan -> Genode mapping. docs/genode.md explains each rule; the unit tests
// (tests/unit/genode_test.cpp) hold them.
#include "genode/model.hpp"

#include <linux/mount.h>

#include <algorithm>

#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::genode {

namespace {

Node leaf(std::string type) {
    return Node{std::move(type), {}, {}, {}};
}

// The <dir> for an absolute path below the VFS root, created on the way.
Node& dir_at(Node& vfs, const std::vector<std::string>& comps) {
    Node* cur = &vfs;
    for (auto& c : comps) {
        Node* next = nullptr;
        for (auto& child : cur->children)
            if (child.type == "dir" && child.find_attr("name") && *child.find_attr("name") == c)
                next = &child;
        if (!next) next = &cur->add(Node{"dir", {{"name", c}}, {}, {}});
        cur = next;
    }
    return *cur;
}

// A mount destination's components, or none when one cannot be a Genode dir name.
std::optional<std::vector<std::string>> components(const std::string& path) {
    std::vector<std::string> out;
    for (auto& c : split(path, '/')) {
        if (c.empty()) continue;
        if (!attribute_ok(c)) return std::nullopt;
        out.push_back(c);
    }
    return out;
}

// Mounts a file system at `comps`: a later mount at the same place hides the
// earlier one, as on Linux, so the directory's own file systems are replaced.
void mount_at(Node& vfs, const std::vector<std::string>& comps, Node fs) {
    Node& dir = dir_at(vfs, comps);
    std::erase_if(dir.children, [](const Node& n) { return n.type != "dir"; });
    dir.children.insert(dir.children.begin(), std::move(fs));
}

std::string option_value(const plan::Mount& m, const std::string& key) {
    for (auto& [k, v] : m.data)
        if (k == key) return v;
    return "";
}

const char* mount_why(const std::string& fstype) {
    if (fstype == "proc") return "Genode has no procfs VFS plugin";
    if (fstype == "sysfs") return "Genode has no sysfs VFS plugin";
    if (fstype == "devpts")
        return "Genode has no pseudo-terminals; process.terminal becomes a Terminal session";
    if (fstype == "mqueue") return "Genode's libc has no POSIX message queues";
    return "no Genode VFS plugin for this file system type";
}

bool any(const std::vector<std::string>& v) {
    return !v.empty();
}

void drop_process(const oci::Process& p, std::vector<Dropped>& out) {
    if (p.user.uid || p.user.gid || !p.user.additional_gids.empty())
        out.push_back({"process.user", "Genode has no user or group ids (uid " +
                                           std::to_string(p.user.uid) + ", gid " +
                                           std::to_string(p.user.gid) + ")"});
    if (p.user.umask && *p.user.umask != 022)
        out.push_back({"process.user.umask", "Genode's libc has no umask"});
    if (auto& c = p.capabilities;
        c && (any(c->bounding) || any(c->effective) || any(c->permitted) || any(c->inheritable) ||
              any(c->ambient)))
        out.push_back({"process.capabilities",
                       "Genode has no Linux capabilities; a component can use exactly the sessions "
                       "its route gives it"});
    if (!p.rlimits.empty()) {
        std::vector<std::string> names;
        for (auto& r : p.rlimits) names.push_back(r.type);
        out.push_back(
            {"process.rlimits", join(names, ", ") + ": Genode's libc has no resource limits"});
    }
    if (p.console_size)
        out.push_back({"process.consoleSize", "the Terminal session's size is the terminal's"});
    if (!p.apparmor_profile.empty())
        out.push_back({"process.apparmorProfile", "Genode has no Linux security modules"});
    if (!p.selinux_label.empty())
        out.push_back({"process.selinuxLabel", "Genode has no Linux security modules"});
    if (p.oom_score_adj)
        out.push_back({"process.oomScoreAdj",
                       "Genode has no OOM killer: a component lives within its ram quota"});
    if (p.scheduler)
        out.push_back(
            {"process.scheduler", "CPU scheduling is the parent's: a start node's priority"});
    if (p.io_priority) out.push_back({"process.ioPriority", "Genode has no I/O priorities"});
    if (p.exec_cpu_affinity)
        out.push_back(
            {"process.execCPUAffinity", "CPU affinity is the parent's: a start node's affinity"});
}

void drop_resources(const oci::Resources& r, std::vector<Dropped>& out) {
    if (auto& m = r.memory) {
        if (m->reservation || m->swap || m->kernel || m->kernel_tcp || m->swappiness ||
            m->disable_oom_killer)
            out.push_back({"linux.resources.memory",
                           "only the limit has a Genode equivalent (ram); Genode does not swap"});
    }
    if (auto& c = r.cpu;
        c && (c->shares || c->quota || c->burst || c->period || c->realtime_runtime ||
              c->realtime_period || !c->cpus.empty() || !c->mems.empty() || c->idle))
        out.push_back(
            {"linux.resources.cpu",
             "a start node has no CPU share or quota; priority and affinity are the parent's"});
    if (r.block_io)
        out.push_back(
            {"linux.resources.blockIO", "Genode has no block I/O throttling per component"});
    if (!r.hugepage_limits.empty())
        out.push_back({"linux.resources.hugepageLimits", "Genode has no huge page pools"});
    if (r.network) out.push_back({"linux.resources.network", "Genode has no traffic classes"});
    if (!r.rdma.empty()) out.push_back({"linux.resources.rdma", "Genode has no RDMA"});
    if (!r.unified.empty()) out.push_back({"linux.resources.unified", "Genode has no cgroups"});
    if (std::any_of(r.devices.begin(), r.devices.end(),
                    [](const oci::DeviceCgroup& d) { return d.allow; }))
        out.push_back({"linux.resources.devices",
                       "a Genode component reaches no device except through sessions"});
}

void drop_linux(const oci::Linux& l, const plan::Plan& plan, std::vector<Dropped>& out) {
    for (auto& ns : plan.namespaces) {
        if (!ns.path.empty())
            out.push_back(
                {std::string("linux.namespaces ") + plan::ns_name(ns.type) + " " + ns.path,
                 "a Genode component cannot join another's namespace"});
    }
    if (plan.creates(plan::NsType::user) && (!plan.uid_map.empty() || !plan.gid_map.empty()))
        out.push_back({"linux.namespaces user", "Genode has no user ids to map"});
    if (!plan.has(plan::NsType::net))
        out.push_back({"host network",
                       "Genode has no host network stack to share: the container gets no sockets "
                       "(give it a network namespace for a socket file system of its own)"});
    if (!plan.time_offsets.empty())
        out.push_back({"linux.timeOffsets", "Genode has no per-component clocks"});
    if (l.seccomp)
        out.push_back({"linux.seccomp",
                       "Genode has no system-call filter; a component can only invoke the sessions "
                       "it is routed to"});
    if (!l.sysctl.empty())
        out.push_back({"linux.sysctl", "Genode has no kernel parameters per component"});
    if (!l.masked_paths.empty() || !l.readonly_paths.empty())
        out.push_back({"linux.maskedPaths, linux.readonlyPaths",
                       "nothing to mask: there is no /proc or /sys"});
    if (!l.mount_label.empty())
        out.push_back({"linux.mountLabel", "Genode has no Linux security modules"});
    if (l.personality) out.push_back({"linux.personality", "Genode has no execution domains"});
    if (l.intel_rdt) out.push_back({"linux.intelRdt", "Genode has no cache allocation"});
    if (l.memory_policy) out.push_back({"linux.memoryPolicy", "NUMA placement is the parent's"});
    if (!l.rootfs_propagation.empty())
        out.push_back({"linux.rootfsPropagation", "Genode has no mount propagation"});
    if (!l.net_devices.empty())
        out.push_back({"linux.netDevices", "network devices reach a component as Nic sessions"});
}

void add_rom(std::vector<Route>& routes, const std::string& module) {
    routes.push_back({"ROM", "label_last", module});
}

}  // namespace

std::string format_bytes(uint64_t n) {
    if (n && n % (1ull << 30) == 0) return std::to_string(n >> 30) + "G";
    if (n && n % (1ull << 20) == 0) return std::to_string(n >> 20) + "M";
    if (n && n % (1ull << 10) == 0) return std::to_string(n >> 10) + "K";
    return std::to_string(n);
}

Result<Deployment> deploy(const plan::Plan& plan, const oci::Spec& spec, const Options& o) {
    if (!spec.process || spec.process->args.empty())
        return make_error("the spec has no process: nothing to start on Genode");
    if (!node_name_ok(o.name))
        return make_error("\"" + o.name + "\" cannot name a Genode start node");
    if (!attribute_ok(o.tar))
        return make_error("\"" + o.tar + "\" cannot name a Genode ROM module");
    const oci::Process& proc = *spec.process;
    Deployment d;
    Start& s = d.start;
    s.name = o.name;

    // Quotas.
    const oci::Resources* res =
        spec.linux_ && spec.linux_->resources ? &*spec.linux_->resources : nullptr;
    s.ram = kDefaultRam;
    if (res && res->memory && res->memory->limit && *res->memory->limit > 0)
        s.ram = static_cast<uint64_t>(*res->memory->limit);
    int64_t processes = kDefaultProcesses;
    if (res && res->pids_limit && *res->pids_limit > 0)
        processes = std::min(*res->pids_limit, kMaxProcesses);
    s.caps = kCapsBase + kCapsPerProcess * static_cast<uint64_t>(processes - 1);

    // The program: a Genode build of it, named after the last element of args[0].
    std::string arg0 = proc.args[0];
    s.binary = fs::basename(arg0);
    if (!attribute_ok(s.binary))
        return make_error("process.args[0]: \"" + arg0 + "\" cannot name a Genode ROM module");
    for (size_t i = 0; i < proc.args.size(); ++i) {
        // An argument is written as the node's name or as its quoted content; one
        // that is neither would silently change the program's argv.
        if (!node_name_ok(proc.args[i]) && !content_ok(proc.args[i]))
            return make_error("process.args[" + std::to_string(i) + "]: \"" + proc.args[i] +
                              "\" cannot be written in a Genode config (empty, blank, or with "
                              "control characters)");
        s.args.push_back(proc.args[i]);
    }
    for (auto& e : proc.env) {
        auto eq = e.find('=');
        std::string name = e.substr(0, eq), value = eq == std::string::npos ? "" : e.substr(eq + 1);
        if (!node_name_ok(name) || (!value.empty() && !content_ok(value))) {
            d.dropped.push_back({"process.env " + name,
                                 "cannot be written in a Genode config (blank, or with "
                                 "control characters or '|', '&', '<', '\"' in the name)"});
            continue;
        }
        s.env.emplace_back(name, value);
    }

    // libc: stdio, clock, randomness, pipes, sockets, working directory.
    bool terminal = proc.terminal;
    bool net = plan.has(plan::NsType::net) && o.sockets;
    s.libc.stdin_path = terminal ? "/dev/terminal" : "/dev/null";
    s.libc.stdout_path = s.libc.stderr_path = terminal ? "/dev/terminal" : "/dev/log";
    s.libc.rtc = "/dev/rtc";
    s.libc.rng = "/dev/random";
    // Under /dev rather than Genode's customary /pipe: the image's own root stays as it is.
    s.libc.pipe = "/dev/pipe";
    if (net) s.libc.socket = "/socket";
    if (!proc.cwd.empty() && proc.cwd != "/") {
        if (!attribute_ok(proc.cwd))
            return make_error("process.cwd: \"" + proc.cwd +
                              "\" cannot be written in a Genode config");
        s.libc.cwd = proc.cwd;
    }

    // The VFS: a RAM file system stacked above the image's tar, /dev, and the spec's
    // mounts. Genode's idiom for a writable tree over a read-only one ("+ ram",
    // "+ tar"): an open finds the file in whichever file system has it; a create
    // goes to the first one that has the parent directory, which the RAM fs has only
    // for the root (no copy-up: docs/genode.md); tmpfs mounts and the image's shared
    // directories (add_scratch_dirs) get RAM file systems of their own.
    s.vfs = leaf("vfs");
    if (!spec.root.readonly) s.vfs.add(leaf("ram"));
    s.vfs.add(Node{"tar", {{"name", o.tar}}, {}, {}});
    Node& dev = dir_at(s.vfs, {"dev"});
    for (const char* n : {"log", "null", "zero", "rtc"}) dev.add(leaf(n));
    dev.add(Node{"jitterentropy", {{"name", "random"}}, {}, {}});
    dev.add(Node{"jitterentropy", {{"name", "urandom"}}, {}, {}});
    if (terminal) dev.add(leaf("terminal"));
    dir_at(dev, {"pipe"}).add(leaf("pipe"));

    std::vector<std::string> unmapped_devices;
    for (auto& dn : plan.devices) {
        static const char* mapped[] = {"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"};
        if (std::none_of(std::begin(mapped), std::end(mapped),
                         [&](const char* m) { return dn.path == m; }))
            unmapped_devices.push_back(dn.path);
    }
    if (!unmapped_devices.empty())
        d.dropped.push_back(
            {"devices " + join(unmapped_devices, " "), "no Genode VFS plugin provides them"});

    std::vector<std::string> sized;
    std::vector<Route> fs_routes;
    for (auto& m : plan.mounts) {
        const std::string& dest = m.destination;
        auto comps = components(dest);
        std::string type = m.kind == plan::MountKind::bind     ? "bind"
                           : m.kind == plan::MountKind::cgroup ? "cgroup"
                                                               : m.fstype;
        if (!comps || comps->empty()) {
            d.dropped.push_back({"mount " + dest + " (" + type + ")",
                                 "the path cannot be written in a Genode config"});
            continue;
        }
        if (m.kind == plan::MountKind::cgroup) {
            d.dropped.push_back(
                {"mount " + dest + " (cgroup)",
                 "Genode has no cgroups; the start node's caps and ram are the quota"});
            continue;
        }
        bool readonly = (m.attrs.set & MOUNT_ATTR_RDONLY) != 0;
        if (m.kind == plan::MountKind::bind) {
            // A File_system session from the parent, labelled after the mount point;
            // the "-> /" asks the server for the root of what it offers under that label.
            std::string label = dest.substr(1) + " -> /";
            Node fs{"fs", {{"label", label}}, {}, {}};
            if (readonly) fs.attr("writeable", "no");
            mount_at(s.vfs, *comps, std::move(fs));
            Route r{"File_system", "label", label};
            if (std::find(fs_routes.begin(), fs_routes.end(), r) == fs_routes.end())
                fs_routes.push_back(r);
            continue;
        }
        if (m.fstype == "tmpfs") {
            if (dest == "/dev") continue;  // /dev is the VFS's own device directory
            mount_at(s.vfs, *comps, leaf("ram"));
            if (!option_value(m, "size").empty()) sized.push_back(dest);
            if (readonly)
                d.dropped.push_back(
                    {"mount " + dest + " (tmpfs, ro)", "a <ram/> file system is always writable"});
            continue;
        }
        d.dropped.push_back({"mount " + dest + " (" + m.fstype + ")", mount_why(m.fstype)});
    }
    if (!sized.empty())
        d.dropped.push_back(
            {"tmpfs size (" + join(sized, ", ") + ")",
             "a <ram/> file system has no size of its own; it draws on the component's ram quota"});
    // Sockets through lwIP with DHCP on a Nic session: the simplest stack that works
    // without addresses in the spec (lxip is the other choice).
    if (net) dir_at(s.vfs, {"socket"}).add(Node{"lwip", {{"dhcp", "yes"}}, {}, {}});

    // Routes: each session the spec needs, from the parent, by name and label.
    // No any-service and no any-child: the container gets exactly these.
    add_rom(s.routes, s.binary);
    for (const char* lib : kRuntimeLibraries) add_rom(s.routes, lib);
    add_rom(s.routes, "vfs_jitterentropy.lib.so");
    add_rom(s.routes, "vfs_pipe.lib.so");
    if (net) add_rom(s.routes, "vfs_lwip.lib.so");
    add_rom(s.routes, o.tar);
    for (const char* svc : {"PD", "CPU", "LOG", "RM", "Timer", "Rtc"})
        s.routes.push_back({svc, "", ""});
    if (terminal) s.routes.push_back({"Terminal", "", ""});
    if (net) s.routes.push_back({"Nic", "", ""});
    s.routes.insert(s.routes.end(), fs_routes.begin(), fs_routes.end());

    for (auto& r : s.routes)
        if (std::find(d.parent_provides.begin(), d.parent_provides.end(), r.service) ==
            d.parent_provides.end())
            d.parent_provides.push_back(r.service);
    // Anything else started in this sub-init gets the environment sessions, no more.
    for (const char* svc : {"PD", "CPU", "LOG", "RM"}) d.default_route.push_back({svc, "", ""});

    // What the spec asks for that Genode cannot express, in the spec's field order.
    drop_process(proc, d.dropped);
    if (plan.set_hostname)
        d.dropped.push_back(
            {"hostname", "Genode has no host names (HOSTNAME stays in the environment)"});
    if (plan.set_domainname) d.dropped.push_back({"domainname", "Genode has no domain names"});
    auto hooks = spec.hooks;
    if (!hooks.prestart.empty() || !hooks.create_runtime.empty() ||
        !hooks.create_container.empty() || !hooks.start_container.empty() ||
        !hooks.poststart.empty() || !hooks.poststop.empty())
        d.dropped.push_back(
            {"hooks", "they run on the Linux host, which a Genode deployment does not have"});
    if (spec.linux_) {
        if (res) drop_resources(*res, d.dropped);
        drop_linux(*spec.linux_, plan, d.dropped);
    }
    return d;
}

void add_scratch_dirs(Start& s, const std::vector<std::string>& dirs) {
    bool writable = std::any_of(s.vfs.children.begin(), s.vfs.children.end(),
                                [](const Node& n) { return n.type == "ram"; });
    if (!writable) return;
    for (auto& d : dirs) {
        auto comps = components("/" + d);
        if (!comps || comps->empty() || (*comps)[0] == "dev") continue;
        // Not at or below a mount (a /run tmpfs already takes /run/lock's files).
        bool mounted = false;
        const Node* cur = &s.vfs;
        for (auto& c : *comps) {
            const Node* next = nullptr;
            for (auto& ch : cur->children)
                if (ch.type == "dir" && *ch.find_attr("name") == c) next = &ch;
            if (!next) break;
            cur = next;
            mounted = std::any_of(cur->children.begin(), cur->children.end(),
                                  [](const Node& n) { return n.type != "dir"; });
            if (mounted) break;
        }
        if (mounted) continue;
        Node& dir = dir_at(s.vfs, *comps);
        dir.children.insert(dir.children.begin(), leaf("ram"));
    }
}

namespace {

Node route_node(const std::vector<Route>& routes, const char* type) {
    Node r = leaf(type);
    for (auto& rt : routes) {
        Node svc{"service", {{"name", rt.service}}, {}, {}};
        if (!rt.label_attr.empty()) svc.attr(rt.label_attr, rt.label);
        svc.add(leaf("parent"));
        r.add(std::move(svc));
    }
    return r;
}

}  // namespace

Node start_node(const Start& s) {
    Node start{"start",
               {{"name", s.name}, {"caps", std::to_string(s.caps)}, {"ram", format_bytes(s.ram)}},
               {},
               {}};
    start.add(Node{"binary", {{"name", s.binary}}, {}, {}});
    Node config = leaf("config");
    Node libc = leaf("libc");
    auto set = [&](const char* key, const std::string& v) {
        if (!v.empty()) libc.attr(key, v);
    };
    set("stdin", s.libc.stdin_path);
    set("stdout", s.libc.stdout_path);
    set("stderr", s.libc.stderr_path);
    set("rtc", s.libc.rtc);
    set("rng", s.libc.rng);
    set("pipe", s.libc.pipe);
    set("socket", s.libc.socket);
    set("cwd", s.libc.cwd);
    config.add(std::move(libc));
    config.add(s.vfs);
    for (auto& a : s.args) {
        // The node's name where HID can carry it ("+ arg -c"), else its content.
        if (node_name_ok(a))
            config.add(Node{"arg", {{"name", a}}, {}, {}});
        else
            config.add(Node{"arg", {}, {}, a});
    }
    for (auto& [k, v] : s.env) {
        Node e{"env", {{"name", k}}, {}, {}};
        if (!v.empty()) e.content = v;
        config.add(std::move(e));
    }
    start.add(std::move(config));
    start.add(route_node(s.routes, "route"));
    return start;
}

Node subinit_node(const Deployment& d) {
    Node config = leaf("config");
    Node provides = leaf("parent-provides");
    for (auto& p : d.parent_provides) provides.add(Node{"service", {{"name", p}}, {}, {}});
    config.add(std::move(provides));
    config.add(route_node(d.default_route, "default-route"));
    config.add(start_node(d.start));
    return config;
}

}  // namespace kapsel::genode
