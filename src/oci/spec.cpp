// config.json -> oci::Spec. Shape checks only (types, required fields); meaning
// (known capability names, mount options, namespace rules) is checked by plan/.
#include "oci/spec.hpp"

#include "oci/json_reader.hpp"
#include "util/fs.hpp"

namespace kapsel::oci {
namespace {

using R = JsonReader;

void read_id_mappings(R& r, const json& j, const std::string& path, std::vector<IdMapping>& out) {
    if (!j.is_array()) return r.fail(path, "expected an array, got " + R::shown(j));
    for (size_t i = 0; i < j.size(); ++i) {
        auto p = R::index(path, i);
        IdMapping m;
        r.req(j[i], "containerID", p, m.container_id);
        r.req(j[i], "hostID", p, m.host_id);
        r.req(j[i], "size", p, m.size);
        out.push_back(m);
    }
}

void read_mounts(R& r, const json& j, const std::string& path, std::vector<Mount>& out) {
    if (!j.is_array()) return r.fail(path, "expected an array, got " + R::shown(j));
    for (size_t i = 0; i < j.size(); ++i) {
        auto p = R::index(path, i);
        Mount m;
        r.req(j[i], "destination", p, m.destination);
        r.opt(j[i], "type", p, m.type);
        r.opt(j[i], "source", p, m.source);
        r.opt(j[i], "options", p, m.options);
        if (auto* u = r.member(j[i], "uidMappings", p))
            read_id_mappings(r, *u, R::field(p, "uidMappings"), m.uid_mappings);
        if (auto* g = r.member(j[i], "gidMappings", p))
            read_id_mappings(r, *g, R::field(p, "gidMappings"), m.gid_mappings);
        out.push_back(std::move(m));
    }
}

void read_hooks(R& r, const json& j, const std::string& path, std::vector<Hook>& out) {
    if (!j.is_array()) return r.fail(path, "expected an array, got " + R::shown(j));
    for (size_t i = 0; i < j.size(); ++i) {
        auto p = R::index(path, i);
        Hook h;
        r.req(j[i], "path", p, h.path);
        r.opt(j[i], "args", p, h.args);
        r.opt(j[i], "env", p, h.env);
        r.opt(j[i], "timeout", p, h.timeout);
        if (h.timeout && *h.timeout <= 0)
            r.fail(R::field(p, "timeout"), "must be greater than zero");
        out.push_back(std::move(h));
    }
}

void read_process(R& r, const json& j, const std::string& path, Process& p) {
    if (!j.is_object()) return r.fail(path, "expected an object, got " + R::shown(j));
    r.opt(j, "terminal", path, p.terminal);
    if (auto* b = r.member(j, "consoleSize", path)) {
        Box box;
        auto bp = R::field(path, "consoleSize");
        r.req(*b, "height", bp, box.height);
        r.req(*b, "width", bp, box.width);
        p.console_size = box;
    }
    if (auto* u = r.member(j, "user", path)) {
        auto up = R::field(path, "user");
        r.opt(*u, "uid", up, p.user.uid);
        r.opt(*u, "gid", up, p.user.gid);
        r.opt(*u, "umask", up, p.user.umask);
        r.opt(*u, "additionalGids", up, p.user.additional_gids);
    }
    r.opt(j, "args", path, p.args);
    r.opt(j, "env", path, p.env);
    r.opt(j, "cwd", path, p.cwd);
    if (auto* c = r.member(j, "capabilities", path)) {
        Capabilities caps;
        auto cp = R::field(path, "capabilities");
        r.opt(*c, "bounding", cp, caps.bounding);
        r.opt(*c, "effective", cp, caps.effective);
        r.opt(*c, "inheritable", cp, caps.inheritable);
        r.opt(*c, "permitted", cp, caps.permitted);
        r.opt(*c, "ambient", cp, caps.ambient);
        p.capabilities = std::move(caps);
    }
    if (auto* rl = r.member(j, "rlimits", path)) {
        auto rp = R::field(path, "rlimits");
        if (!rl->is_array()) {
            r.fail(rp, "expected an array, got " + R::shown(*rl));
        } else {
            for (size_t i = 0; i < rl->size(); ++i) {
                auto ip = R::index(rp, i);
                Rlimit lim;
                r.req((*rl)[i], "type", ip, lim.type);
                r.req((*rl)[i], "hard", ip, lim.hard);
                r.req((*rl)[i], "soft", ip, lim.soft);
                p.rlimits.push_back(lim);
            }
        }
    }
    r.opt(j, "noNewPrivileges", path, p.no_new_privileges);
    r.opt(j, "apparmorProfile", path, p.apparmor_profile);
    r.opt(j, "oomScoreAdj", path, p.oom_score_adj);
    if (auto* s = r.member(j, "scheduler", path)) {
        Scheduler sch;
        auto sp = R::field(path, "scheduler");
        r.req(*s, "policy", sp, sch.policy);
        r.opt(*s, "nice", sp, sch.nice);
        r.opt(*s, "priority", sp, sch.priority);
        r.opt(*s, "flags", sp, sch.flags);
        r.opt(*s, "runtime", sp, sch.runtime);
        r.opt(*s, "deadline", sp, sch.deadline);
        r.opt(*s, "period", sp, sch.period);
        p.scheduler = std::move(sch);
    }
    r.opt(j, "selinuxLabel", path, p.selinux_label);
    if (auto* io = r.member(j, "ioPriority", path)) {
        IoPriority prio;
        auto ip = R::field(path, "ioPriority");
        r.req(*io, "class", ip, prio.klass);
        r.opt(*io, "priority", ip, prio.priority);
        p.io_priority = prio;
    }
    if (auto* a = r.member(j, "execCPUAffinity", path)) {
        CpuAffinity aff;
        auto ap = R::field(path, "execCPUAffinity");
        r.opt(*a, "initial", ap, aff.initial);
        r.opt(*a, "final", ap, aff.final);
        p.exec_cpu_affinity = aff;
    }
}

void read_block_devices(R& r, const json& j, const std::string& path,
                        std::vector<BlockIoDevice>& out, bool throttle) {
    if (!j.is_array()) return r.fail(path, "expected an array, got " + R::shown(j));
    for (size_t i = 0; i < j.size(); ++i) {
        auto p = R::index(path, i);
        BlockIoDevice d;
        r.req(j[i], "major", p, d.major);
        r.req(j[i], "minor", p, d.minor);
        if (throttle) {
            r.req(j[i], "rate", p, d.rate);
        } else {
            r.opt(j[i], "weight", p, d.weight);
            r.opt(j[i], "leafWeight", p, d.leaf_weight);
        }
        out.push_back(d);
    }
}

void read_resources(R& r, const json& j, const std::string& path, Resources& res) {
    if (!j.is_object()) return r.fail(path, "expected an object, got " + R::shown(j));
    if (auto* d = r.member(j, "devices", path)) {
        auto dp = R::field(path, "devices");
        if (!d->is_array()) {
            r.fail(dp, "expected an array, got " + R::shown(*d));
        } else {
            for (size_t i = 0; i < d->size(); ++i) {
                auto ip = R::index(dp, i);
                DeviceCgroup dc;
                r.req((*d)[i], "allow", ip, dc.allow);
                r.opt((*d)[i], "type", ip, dc.type);
                r.opt((*d)[i], "major", ip, dc.major);
                r.opt((*d)[i], "minor", ip, dc.minor);
                r.opt((*d)[i], "access", ip, dc.access);
                res.devices.push_back(dc);
            }
        }
    }
    if (auto* m = r.member(j, "memory", path)) {
        Memory mem;
        auto mp = R::field(path, "memory");
        r.opt(*m, "limit", mp, mem.limit);
        r.opt(*m, "reservation", mp, mem.reservation);
        r.opt(*m, "swap", mp, mem.swap);
        r.opt(*m, "kernel", mp, mem.kernel);
        r.opt(*m, "kernelTCP", mp, mem.kernel_tcp);
        r.opt(*m, "swappiness", mp, mem.swappiness);
        r.opt(*m, "disableOOMKiller", mp, mem.disable_oom_killer);
        r.opt(*m, "useHierarchy", mp, mem.use_hierarchy);
        r.opt(*m, "checkBeforeUpdate", mp, mem.check_before_update);
        res.memory = mem;
    }
    if (auto* c = r.member(j, "cpu", path)) {
        Cpu cpu;
        auto cp = R::field(path, "cpu");
        r.opt(*c, "shares", cp, cpu.shares);
        r.opt(*c, "quota", cp, cpu.quota);
        r.opt(*c, "burst", cp, cpu.burst);
        r.opt(*c, "period", cp, cpu.period);
        r.opt(*c, "realtimeRuntime", cp, cpu.realtime_runtime);
        r.opt(*c, "realtimePeriod", cp, cpu.realtime_period);
        r.opt(*c, "cpus", cp, cpu.cpus);
        r.opt(*c, "mems", cp, cpu.mems);
        r.opt(*c, "idle", cp, cpu.idle);
        res.cpu = cpu;
    }
    if (auto* p = r.member(j, "pids", path)) {
        res.has_pids = true;
        r.opt(*p, "limit", R::field(path, "pids"), res.pids_limit);
    }
    if (auto* b = r.member(j, "blockIO", path)) {
        BlockIo bio;
        auto bp = R::field(path, "blockIO");
        r.opt(*b, "weight", bp, bio.weight);
        r.opt(*b, "leafWeight", bp, bio.leaf_weight);
        struct {
            const char* key;
            std::vector<BlockIoDevice>* out;
            bool throttle;
        } lists[] = {{"weightDevice", &bio.weight_device, false},
                     {"throttleReadBpsDevice", &bio.throttle_read_bps, true},
                     {"throttleWriteBpsDevice", &bio.throttle_write_bps, true},
                     {"throttleReadIOPSDevice", &bio.throttle_read_iops, true},
                     {"throttleWriteIOPSDevice", &bio.throttle_write_iops, true}};
        for (auto& l : lists)
            if (auto* d = r.member(*b, l.key, bp))
                read_block_devices(r, *d, R::field(bp, l.key), *l.out, l.throttle);
        res.block_io = std::move(bio);
    }
    if (auto* h = r.member(j, "hugepageLimits", path)) {
        auto hp = R::field(path, "hugepageLimits");
        if (!h->is_array()) {
            r.fail(hp, "expected an array, got " + R::shown(*h));
        } else {
            for (size_t i = 0; i < h->size(); ++i) {
                HugepageLimit l;
                r.req((*h)[i], "pageSize", R::index(hp, i), l.page_size);
                r.req((*h)[i], "limit", R::index(hp, i), l.limit);
                res.hugepage_limits.push_back(l);
            }
        }
    }
    if (auto* n = r.member(j, "network", path)) {
        Network net;
        auto np = R::field(path, "network");
        r.opt(*n, "classID", np, net.class_id);
        if (auto* pr = r.member(*n, "priorities", np)) {
            auto pp = R::field(np, "priorities");
            if (!pr->is_array()) {
                r.fail(pp, "expected an array, got " + R::shown(*pr));
            } else {
                for (size_t i = 0; i < pr->size(); ++i) {
                    InterfacePriority ip;
                    r.req((*pr)[i], "name", R::index(pp, i), ip.name);
                    r.req((*pr)[i], "priority", R::index(pp, i), ip.priority);
                    net.priorities.push_back(ip);
                }
            }
        }
        res.network = std::move(net);
    }
    if (auto* rd = r.member(j, "rdma", path)) {
        auto rp = R::field(path, "rdma");
        if (!rd->is_object()) {
            r.fail(rp, "expected an object, got " + R::shown(*rd));
        } else {
            for (auto& [k, v] : rd->items()) {
                Rdma x;
                r.opt(v, "hcaHandles", R::field(rp, k), x.hca_handles);
                r.opt(v, "hcaObjects", R::field(rp, k), x.hca_objects);
                res.rdma[k] = x;
            }
        }
    }
    r.opt(j, "unified", path, res.unified);
}

void read_seccomp(R& r, const json& j, const std::string& path, Seccomp& s) {
    if (!j.is_object()) return r.fail(path, "expected an object, got " + R::shown(j));
    r.req(j, "defaultAction", path, s.default_action);
    r.opt(j, "defaultErrnoRet", path, s.default_errno_ret);
    r.opt(j, "architectures", path, s.architectures);
    r.opt(j, "flags", path, s.flags);
    r.opt(j, "listenerPath", path, s.listener_path);
    r.opt(j, "listenerMetadata", path, s.listener_metadata);
    if (auto* sc = r.member(j, "syscalls", path)) {
        auto sp = R::field(path, "syscalls");
        if (!sc->is_array()) return r.fail(sp, "expected an array, got " + R::shown(*sc));
        for (size_t i = 0; i < sc->size(); ++i) {
            auto ip = R::index(sp, i);
            Syscall call;
            r.req((*sc)[i], "names", ip, call.names);
            r.req((*sc)[i], "action", ip, call.action);
            r.opt((*sc)[i], "errnoRet", ip, call.errno_ret);
            if (auto* a = r.member((*sc)[i], "args", ip)) {
                auto ap = R::field(ip, "args");
                if (!a->is_array()) {
                    r.fail(ap, "expected an array, got " + R::shown(*a));
                } else {
                    for (size_t k = 0; k < a->size(); ++k) {
                        SeccompArg arg;
                        auto kp = R::index(ap, k);
                        r.req((*a)[k], "index", kp, arg.index);
                        r.req((*a)[k], "value", kp, arg.value);
                        r.opt((*a)[k], "valueTwo", kp, arg.value_two);
                        r.req((*a)[k], "op", kp, arg.op);
                        call.args.push_back(arg);
                    }
                }
            }
            s.syscalls.push_back(std::move(call));
        }
    }
}

void read_linux(R& r, const json& j, const std::string& path, Linux& l) {
    if (!j.is_object()) return r.fail(path, "expected an object, got " + R::shown(j));
    if (auto* u = r.member(j, "uidMappings", path))
        read_id_mappings(r, *u, R::field(path, "uidMappings"), l.uid_mappings);
    if (auto* g = r.member(j, "gidMappings", path))
        read_id_mappings(r, *g, R::field(path, "gidMappings"), l.gid_mappings);
    r.opt(j, "sysctl", path, l.sysctl);
    if (auto* res = r.member(j, "resources", path)) {
        Resources resources;
        read_resources(r, *res, R::field(path, "resources"), resources);
        l.resources = std::move(resources);
    }
    r.opt(j, "cgroupsPath", path, l.cgroups_path);
    if (auto* ns = r.member(j, "namespaces", path)) {
        auto np = R::field(path, "namespaces");
        if (!ns->is_array()) {
            r.fail(np, "expected an array, got " + R::shown(*ns));
        } else {
            for (size_t i = 0; i < ns->size(); ++i) {
                Namespace n;
                r.req((*ns)[i], "type", R::index(np, i), n.type);
                r.opt((*ns)[i], "path", R::index(np, i), n.path);
                l.namespaces.push_back(n);
            }
        }
    }
    if (auto* d = r.member(j, "devices", path)) {
        auto dp = R::field(path, "devices");
        if (!d->is_array()) {
            r.fail(dp, "expected an array, got " + R::shown(*d));
        } else {
            for (size_t i = 0; i < d->size(); ++i) {
                auto ip = R::index(dp, i);
                Device dev;
                r.req((*d)[i], "path", ip, dev.path);
                r.req((*d)[i], "type", ip, dev.type);
                r.opt((*d)[i], "major", ip, dev.major);
                r.opt((*d)[i], "minor", ip, dev.minor);
                r.opt((*d)[i], "fileMode", ip, dev.file_mode);
                r.opt((*d)[i], "uid", ip, dev.uid);
                r.opt((*d)[i], "gid", ip, dev.gid);
                l.devices.push_back(dev);
            }
        }
    }
    if (auto* nd = r.member(j, "netDevices", path)) {
        auto np = R::field(path, "netDevices");
        if (!nd->is_object()) {
            r.fail(np, "expected an object, got " + R::shown(*nd));
        } else {
            for (auto& [k, v] : nd->items()) {
                std::string name;
                r.opt(v, "name", R::field(np, k), name);
                l.net_devices[k] = name.empty() ? k : name;
            }
        }
    }
    if (auto* s = r.member(j, "seccomp", path)) {
        Seccomp sec;
        read_seccomp(r, *s, R::field(path, "seccomp"), sec);
        l.seccomp = std::move(sec);
    }
    r.opt(j, "rootfsPropagation", path, l.rootfs_propagation);
    r.opt(j, "maskedPaths", path, l.masked_paths);
    r.opt(j, "readonlyPaths", path, l.readonly_paths);
    r.opt(j, "mountLabel", path, l.mount_label);
    if (auto* rdt = r.member(j, "intelRdt", path)) {
        IntelRdt x;
        auto rp = R::field(path, "intelRdt");
        r.opt(*rdt, "closID", rp, x.clos_id);
        r.opt(*rdt, "schemata", rp, x.schemata);
        r.opt(*rdt, "l3CacheSchema", rp, x.l3_cache_schema);
        r.opt(*rdt, "memBwSchema", rp, x.mem_bw_schema);
        r.opt(*rdt, "enableMonitoring", rp, x.enable_monitoring);
        l.intel_rdt = std::move(x);
    }
    if (auto* mp = r.member(j, "memoryPolicy", path)) {
        MemoryPolicy x;
        auto pp = R::field(path, "memoryPolicy");
        r.req(*mp, "mode", pp, x.mode);
        r.opt(*mp, "nodes", pp, x.nodes);
        r.opt(*mp, "flags", pp, x.flags);
        l.memory_policy = std::move(x);
    }
    if (auto* p = r.member(j, "personality", path)) {
        Personality x;
        auto pp = R::field(path, "personality");
        r.req(*p, "domain", pp, x.domain);
        r.opt(*p, "flags", pp, x.flags);
        l.personality = std::move(x);
    }
    if (auto* t = r.member(j, "timeOffsets", path)) {
        auto tp = R::field(path, "timeOffsets");
        if (!t->is_object()) {
            r.fail(tp, "expected an object, got " + R::shown(*t));
        } else {
            for (auto& [k, v] : t->items()) {
                TimeOffset off;
                r.opt(v, "secs", R::field(tp, k), off.secs);
                r.opt(v, "nanosecs", R::field(tp, k), off.nanosecs);
                l.time_offsets[k] = off;
            }
        }
    }
}

Result<json> parse_json(std::string_view text, std::string_view origin) {
    json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
        // Re-parse with exceptions only to get the position of the error.
        try {
            json again = json::parse(text.begin(), text.end());
            (void)again;
        } catch (const json::exception& e) {
            // Not only parse_error: a number too large for a double ("1e999") is
            // out_of_range.406, which escaped here and aborted kapsel (found by fuzzing).
            std::string what = e.what();
            auto pos = what.find("parse error");
            if (pos == std::string::npos && what.rfind("[json.exception.", 0) == 0) pos = what.find("] ") + 2;
            return make_error(std::string(origin) + ": invalid JSON: " +
                              (pos == std::string::npos ? what : what.substr(pos)));
        }
        return make_error(std::string(origin) + ": invalid JSON");
    }
    if (!j.is_object()) return make_error(std::string(origin) + ": expected a JSON object");
    return j;
}

}  // namespace

Result<Spec> parse_spec(std::string_view text, std::string_view origin) {
    json j = KAPSEL_TRY(parse_json(text, origin));
    R r{std::string(origin)};
    Spec s;
    r.req(j, "ociVersion", "", s.oci_version);
    if (auto* p = r.member(j, "process", "")) {
        Process proc;
        read_process(r, *p, "process", proc);
        s.process = std::move(proc);
    }
    if (auto* root = r.member(j, "root", "")) {
        s.has_root = true;
        r.req(*root, "path", "root", s.root.path);
        r.opt(*root, "readonly", "root", s.root.readonly);
    }
    r.opt(j, "hostname", "", s.hostname);
    r.opt(j, "domainname", "", s.domainname);
    if (auto* m = r.member(j, "mounts", "")) read_mounts(r, *m, "mounts", s.mounts);
    if (auto* h = r.member(j, "hooks", "")) {
        struct {
            const char* key;
            std::vector<Hook>* out;
        } kinds[] = {{"prestart", &s.hooks.prestart},
                     {"createRuntime", &s.hooks.create_runtime},
                     {"createContainer", &s.hooks.create_container},
                     {"startContainer", &s.hooks.start_container},
                     {"poststart", &s.hooks.poststart},
                     {"poststop", &s.hooks.poststop}};
        for (auto& k : kinds)
            if (auto* list = r.member(*h, k.key, "hooks"))
                read_hooks(r, *list, R::field("hooks", k.key), *k.out);
    }
    r.opt(j, "annotations", "", s.annotations);
    if (auto* l = r.member(j, "linux", "")) {
        Linux lin;
        read_linux(r, *l, "linux", lin);
        s.linux_ = std::move(lin);
    }
    if (r.error()) return *r.error();
    return s;
}

Result<Spec> load_spec(const std::string& path) {
    auto text = fs::read_file(path);
    if (!text) {
        if (text.error().code == ENOENT)
            return make_error("no config.json in bundle: " + path + " does not exist");
        return std::move(text).error();
    }
    return parse_spec(*text, path);
}

Result<Process> parse_process(std::string_view text, std::string_view origin) {
    json j = KAPSEL_TRY(parse_json(text, origin));
    R r{std::string(origin)};
    Process p;
    read_process(r, j, "", p);
    if (r.error()) return *r.error();
    return p;
}

Result<Resources> parse_resources(std::string_view text, std::string_view origin) {
    json j = KAPSEL_TRY(parse_json(text, origin));
    R r{std::string(origin)};
    Resources res;
    read_resources(r, j, "", res);
    if (r.error()) return *r.error();
    return res;
}

}  // namespace kapsel::oci
