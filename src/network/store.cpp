// kapsel's network store and IPAM (see store.hpp): networks/NAME.json and
// networks/attachments/<container-id>.json, changed only under networks/lock. The files
// are read back as untrusted input: names are checked before they become file names,
// every file is size-bounded, and junk is an error value, never an exception.
#include "network/store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "network/host_subnets.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace kapsel::network {

namespace {

constexpr size_t kMaxNetworkFile = 64 * 1024;
constexpr size_t kMaxAttachmentFile = 256 * 1024;
// More entries than this in one directory is not a store kapsel made.
constexpr size_t kMaxEntries = 100000;
// Where automatic subnets come from: podman takes 10.88.0.0/16 for its default network
// and 10.89.x.0/24 for the ones it makes, so kapsel's start at 10.90.0.0/24.
constexpr uint32_t kAutoFirst = 0x0a5a0000;  // 10.90.0.0
constexpr uint32_t kAutoLast = 0x0affff00;   // 10.255.255.0
constexpr const char* kBridgePrefix = "kapsel";

std::string short_id(const std::string& id) {
    return id.substr(0, 12);
}

uint32_t broadcast_of(const Cidr& c) {
    return c.base.value | (~uint32_t{0} >> c.prefix);
}

}  // namespace

Result<std::string> random_hex64() {
    unsigned char bytes[32];
    size_t got = 0;
    while (got < sizeof bytes) {
        ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("getrandom");
        }
        got += static_cast<size_t>(n);
    }
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) out += hex[b >> 4], out += hex[b & 15];
    return out;
}

namespace {

// RFC 3339 in UTC with nanoseconds, as podman writes "created".
std::string now_rfc3339() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    tm t{};
    ::gmtime_r(&ts.tv_sec, &t);
    char buf[64];
    size_t n = ::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
    std::snprintf(buf + n, sizeof buf - n, ".%09ldZ", static_cast<long>(ts.tv_nsec));
    return buf;
}

Result<unique_fd> open_dir(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return sys_error("open " + path);
    return fd;
}

// The content of `name` in `dirfd`: a regular file (never through a symlink, never a FIFO
// that would block), at most `max` bytes. ENOENT is kept as the error's code.
Result<std::string> read_record(int dirfd, const std::string& dir, const std::string& name,
                                size_t max) {
    std::string path = dir + "/" + name;
    unique_fd fd(
        ::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
    if (!fd) return sys_error("open " + path);
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) return sys_error("stat " + path);
    if (!S_ISREG(st.st_mode)) return make_error("read " + path + ": not a regular file");
    return fs::read_fd(fd.get(), path, max);
}

// Parses `text` as JSON without exceptions; the error names the file.
Result<json> parse_record(const std::string& text, const std::string& path) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return make_error("read " + path + ": not valid JSON");
    return j;
}

// Writes `name` in `dirfd` through a temporary file and renameat, so a reader sees the old
// or the new record, never half of one. No fsync: a record cut short by a power loss
// reads as junk, and after a reboot no container holds its address any more. O_EXCL|O_NOFOLLOW:
// nothing planted under the temporary name is followed or reused.
Status write_record(int dirfd, const std::string& dir, const std::string& name, const json& j) {
    std::string text = j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
    std::string tmp = "." + name + ".tmp" + std::to_string(::getpid());
    ::unlinkat(dirfd, tmp.c_str(), 0);  // a leftover of a crashed process with our pid
    unique_fd fd(
        ::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return sys_error("create " + dir + "/" + tmp);
    auto st = fs::write_all(fd.get(), text, dir + "/" + tmp);
    if (st && ::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) < 0)
        st = sys_error("rename " + dir + "/" + tmp + " to " + name);
    if (!st) ::unlinkat(dirfd, tmp.c_str(), 0);
    return st;
}

// Names in `dirfd` ending in ".json" (not the temporary ones, which start with a dot).
Result<std::vector<std::string>> json_names(int dirfd, const std::string& dir) {
    int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return sys_error("open " + dir);
    DIR* d = ::fdopendir(dup);
    if (!d) {
        int e = errno;
        ::close(dup);
        return sys_error("open " + dir, e);
    }
    ::rewinddir(d);
    std::vector<std::string> out;
    while (dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n.size() > 5 && n[0] != '.' && n.substr(n.size() - 5) == ".json") out.emplace_back(n);
        if (out.size() > kMaxEntries) {
            ::closedir(d);
            return make_error("read " + dir + ": more than " + std::to_string(kMaxEntries) +
                              " entries");
        }
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

// The store's lock: held (flock, exclusive) for every change, released when closed.
Result<unique_fd> lock_store(const std::string& dir) {
    std::string path = dir + "/lock";
    unique_fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return sys_error("open " + path);
    while (::flock(fd.get(), LOCK_EX) < 0)
        if (errno != EINTR) return sys_error("lock " + path);
    return fd;
}

// The attachment records in `dir`, skipping (with a debug line) files that are not one.
Result<std::vector<Attachment>> read_attachments(const std::string& dir) {
    unique_fd dfd = KAPSEL_TRY(open_dir(dir));
    std::vector<Attachment> out;
    for (auto& name : KAPSEL_TRY(json_names(dfd.get(), dir))) {
        std::string id = name.substr(0, name.size() - 5);
        if (!valid_container_id(id)) continue;
        auto text = read_record(dfd.get(), dir, name, kMaxAttachmentFile);
        if (!text) {
            log::debug("skipping " + text.error().message);
            continue;
        }
        auto j = parse_record(*text, dir + "/" + name);
        auto a = j ? attachment_from_json(*j) : Result<Attachment>(std::move(j).error());
        if (!a || a->container_id != id) {
            log::debug("skipping " + dir + "/" + name + ": not an attachment record");
            continue;
        }
        out.push_back(std::move(*a));
    }
    return out;
}

// The first attachment that has an endpoint on `network`.
const Attachment* user_of(const std::vector<Attachment>& all, const std::string& network) {
    for (auto& a : all)
        for (auto& e : a.endpoints)
            if (e.network == network) return &a;
    return nullptr;
}

bool ports_clash(const PortMapping& a, const PortMapping& b) {
    if (a.protocol != b.protocol) return false;
    // "" is every address of the host, so it clashes with any address.
    if (!a.host_ip.empty() && !b.host_ip.empty() && a.host_ip != b.host_ip) return false;
    uint32_t a_end = uint32_t{a.host_port} + a.range, b_end = uint32_t{b.host_port} + b.range;
    return a.host_port < b_end && b.host_port < a_end;
}

}  // namespace

Result<NetworkStore> NetworkStore::open(const std::string& storage_root, HostNetworkFiles host) {
    std::string dir = fs::absolute(storage_root) + "/networks";
    KAPSEL_TRY(fs::mkdir_p(dir, 0700));
    KAPSEL_TRY(fs::mkdir_p(dir + "/attachments", 0700));
    return NetworkStore(dir, std::move(host));
}

Result<std::optional<Network>> NetworkStore::read_network(const std::string& name) {
    if (!valid_network_name(name)) return make_error("invalid network name \"" + name + "\"");
    unique_fd dfd = KAPSEL_TRY(open_dir(dir_));
    auto text = read_record(dfd.get(), dir_, name + ".json", kMaxNetworkFile);
    if (!text) {
        if (text.error().code == ENOENT) return std::optional<Network>();
        return std::move(text).error();
    }
    std::string path = dir_ + "/" + name + ".json";
    json j = KAPSEL_TRY(parse_record(*text, path));
    Network n = KAPSEL_TRY_CTX(network_from_json(j), "read " + path);
    // The file name is the network's name: a file saying otherwise was not written by
    // kapsel, and trusting either would let two files claim one name.
    if (n.name != name) return make_error("read " + path + ": names network \"" + n.name + "\"");
    return std::optional<Network>(std::move(n));
}

Result<Network> NetworkStore::get_locked(const std::string& name) {
    auto found = KAPSEL_TRY(read_network(name));
    if (found) return std::move(*found);
    if (name == kDefaultNetwork) return create_locked(CreateOptions{.name = name});
    return make_error("network " + name + " not found");
}

Result<Network> NetworkStore::get(const std::string& name) {
    if (!valid_network_name(name)) return make_error("invalid network name \"" + name + "\"");
    // A lookup needs no lock (records are replaced atomically); only making the missing
    // default network does, so that two runs at once make it once.
    auto found = KAPSEL_TRY(read_network(name));
    if (found) return std::move(*found);
    if (name != kDefaultNetwork) return make_error("network " + name + " not found");
    unique_fd lock = KAPSEL_TRY(lock_store(dir_));
    return get_locked(name);
}

Result<std::vector<Network>> NetworkStore::list() {
    unique_fd dfd = KAPSEL_TRY(open_dir(dir_));
    std::vector<Network> out;
    for (auto& name : KAPSEL_TRY(json_names(dfd.get(), dir_))) {
        std::string n = name.substr(0, name.size() - 5);
        if (!valid_network_name(n)) continue;
        auto net = read_network(n);
        // One bad file must not hide the others; `network inspect NAME` shows what is wrong.
        if (!net) {
            log::warn("skipping " + net.error().message);
            continue;
        }
        if (*net) out.push_back(std::move(**net));
    }
    return out;
}

Result<Network> NetworkStore::create(const CreateOptions& o) {
    if (!valid_network_name(o.name))
        return make_error(
            "invalid network name \"" + o.name +
            "\": use letters, digits, _ . - (starting with a letter or digit), at most 64");
    unique_fd lock = KAPSEL_TRY(lock_store(dir_));
    return create_locked(o);
}

Result<Network> NetworkStore::create_locked(const CreateOptions& o) {
    if (!valid_network_name(o.name)) return make_error("invalid network name \"" + o.name + "\"");
    if (KAPSEL_TRY(read_network(o.name)))
        return make_error("network " + o.name + " already exists");
    std::vector<Network> mine = KAPSEL_TRY(list());

    // Everything the new subnet must stay clear of, kapsel's own networks first so that
    // their name is the one an error gives.
    std::vector<ForeignSubnet> taken;
    for (auto& n : mine)
        for (auto& s : n.subnets)
            if (auto c = parse_cidr(s.subnet)) taken.push_back({*c, "network " + n.name});
    for (auto& f : host_subnets(host_)) taken.push_back(std::move(f));

    Cidr cidr;
    if (!o.subnet.empty()) {
        auto c = parse_cidr(o.subnet);
        if (!c)
            return make_error(
                "invalid subnet \"" + o.subnet +
                "\": expected an IPv4 network such as 10.90.1.0/24 (no host bits set)");
        if (c->prefix < 8 || c->prefix > 30)
            return make_error("subnet " + o.subnet + ": the prefix length must be 8..30");
        for (auto& t : taken)
            if (overlaps(*c, t.cidr))
                return make_error("subnet " + to_string(*c) + " overlaps " + t.owner + " (" +
                                  to_string(t.cidr) + ")");
        cidr = *c;
    } else {
        bool found = false;
        for (uint64_t base = kAutoFirst; base <= kAutoLast && !found; base += 256) {
            Cidr c{Ipv4{static_cast<uint32_t>(base)}, 24};
            auto clash = std::find_if(taken.begin(), taken.end(),
                                      [&](auto& t) { return overlaps(c, t.cidr); });
            if (clash == taken.end()) {
                cidr = c;
                found = true;
            } else if (clash->cidr.prefix < 24) {
                // Skip the whole larger network at once (a /8 route would otherwise cost 64k
                // tries).
                base = std::max<uint64_t>(base, broadcast_of(clash->cidr) + 1) - 256;
            }
        }
        if (!found)
            return make_error("no free subnet left in 10.90.0.0-10.255.255.0: pass --subnet");
    }

    Ipv4 gateway = *nth_host(cidr, 1);
    if (!o.gateway.empty()) {
        auto g = parse_ipv4(o.gateway);
        if (!g)
            return make_error("invalid gateway \"" + o.gateway + "\": expected an IPv4 address");
        if (!contains(cidr, *g) || *g == cidr.base || g->value == broadcast_of(cidr))
            return make_error("gateway " + o.gateway + " is not a host address of subnet " +
                              to_string(cidr));
        gateway = *g;
    }

    // The bridge: kapsel0 for the default network, the lowest free kapselN (N >= 1) for
    // the others, so that the default network's bridge name is always the same.
    std::set<std::string> bridges;
    for (auto& n : mine) bridges.insert(n.interface);
    std::string bridge;
    for (unsigned i = o.name == kDefaultNetwork ? 0 : 1; i < 1000000000; ++i) {
        std::string b = kBridgePrefix + std::to_string(i);
        if (!bridges.count(b)) {
            bridge = b;
            break;
        }
    }
    if (bridge.empty()) return make_error("no free bridge name left");

    Network n;
    n.name = o.name;
    n.id = KAPSEL_TRY(random_hex64());
    n.interface = bridge;
    n.created = now_rfc3339();
    n.subnets.push_back({to_string(cidr), to_string(gateway)});
    n.internal = o.internal;
    n.dns_enabled = o.dns;
    unique_fd dfd = KAPSEL_TRY(open_dir(dir_));
    KAPSEL_TRY(write_record(dfd.get(), dir_, n.name + ".json", to_json(n)));
    return n;
}

Status NetworkStore::remove(const std::string& name) {
    if (!valid_network_name(name)) return make_error("invalid network name \"" + name + "\"");
    unique_fd lock = KAPSEL_TRY(lock_store(dir_));
    unique_fd dfd = KAPSEL_TRY(open_dir(dir_));
    // A file that does not parse is still removable: that is how a user gets rid of it.
    struct stat st {};
    if (::fstatat(dfd.get(), (name + ".json").c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT) return make_error("network " + name + " not found");
        return sys_error("stat " + dir_ + "/" + name + ".json");
    }
    auto all = KAPSEL_TRY(read_attachments(dir_ + "/attachments"));
    if (auto* a = user_of(all, name))
        return make_error("network " + name + " is in use by container " +
                          short_id(a->container_id));
    if (::unlinkat(dfd.get(), (name + ".json").c_str(), 0) < 0)
        return sys_error("remove " + dir_ + "/" + name + ".json");
    return {};
}

Result<std::vector<std::string>> NetworkStore::prune() {
    unique_fd lock = KAPSEL_TRY(lock_store(dir_));
    unique_fd dfd = KAPSEL_TRY(open_dir(dir_));
    auto all = KAPSEL_TRY(read_attachments(dir_ + "/attachments"));
    std::vector<std::string> removed;
    for (auto& n : KAPSEL_TRY(list())) {
        if (user_of(all, n.name)) continue;
        if (::unlinkat(dfd.get(), (n.name + ".json").c_str(), 0) < 0)
            return sys_error("remove " + dir_ + "/" + n.name + ".json");
        removed.push_back(n.name);
    }
    return removed;
}

Result<Attachment> NetworkStore::reserve(Attachment wanted) {
    const std::string& id = wanted.container_id;
    if (!valid_container_id(id)) return make_error("invalid container id \"" + id + "\"");
    // The record's own checks (names, addresses, ports, bounds) before anything is decided.
    json j = to_json(wanted);
    wanted =
        KAPSEL_TRY_CTX(attachment_from_json(j), "network attachment of container " + short_id(id));
    std::string adir = dir_ + "/attachments";

    unique_fd lock = KAPSEL_TRY(lock_store(dir_));
    unique_fd adfd = KAPSEL_TRY(open_dir(adir));
    struct stat st {};
    if (::fstatat(adfd.get(), (id + ".json").c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
        return make_error("container " + short_id(id) + " already has network addresses");
    auto others = KAPSEL_TRY(read_attachments(adir));

    std::set<std::string> seen;
    for (auto& e : wanted.endpoints) {
        if (!seen.insert(e.network).second)
            return make_error("network " + e.network + " is given twice");
        Network net = KAPSEL_TRY(get_locked(e.network));
        Cidr cidr = *parse_cidr(net.subnets.at(0).subnet);
        Ipv4 gateway = *parse_ipv4(net.subnets.at(0).gateway);
        std::map<uint32_t, const Attachment*> used;
        for (auto& a : others)
            for (auto& oe : a.endpoints)
                if (oe.network == e.network)
                    if (auto ip = parse_ipv4(oe.ip)) used.emplace(ip->value, &a);
        if (!e.ip.empty()) {
            Ipv4 ip = *parse_ipv4(e.ip);  // checked by attachment_from_json
            if (!contains(cidr, ip))
                return make_error("address " + e.ip + " is not in network " + net.name +
                                  "'s subnet " + to_string(cidr));
            if (ip == cidr.base || ip.value == broadcast_of(cidr))
                return make_error("address " + e.ip + " is not a host address of network " +
                                  net.name + "'s subnet " + to_string(cidr));
            if (ip == gateway)
                return make_error("address " + e.ip + " is network " + net.name + "'s gateway");
            if (auto it = used.find(ip.value); it != used.end())
                return make_error("address " + e.ip + " on network " + net.name +
                                  " is in use by container " + short_id(it->second->container_id));
            continue;
        }
        // The lowest free host; at most used.size() + 2 steps, whatever the subnet's size.
        std::optional<Ipv4> pick;
        for (uint64_t n = 1; n <= usable_hosts(cidr); ++n) {
            Ipv4 ip = *nth_host(cidr, n);
            if (ip == gateway || used.count(ip.value)) continue;
            pick = ip;
            break;
        }
        if (!pick) return make_error("network " + net.name + " has no free address");
        e.ip = to_string(*pick);
    }

    for (size_t i = 0; i < wanted.ports.size(); ++i) {
        const PortMapping& p = wanted.ports[i];
        // The first port both ranges hold: the one the user has to change.
        auto port_text = [&](const PortMapping& q) {
            return "port " + std::to_string(std::max(p.host_port, q.host_port)) + "/" + p.protocol;
        };
        for (size_t k = 0; k < i; ++k)
            if (ports_clash(p, wanted.ports[k]))
                return make_error(port_text(wanted.ports[k]) + " is published twice");
        for (auto& a : others)
            for (auto& q : a.ports)
                if (ports_clash(p, q))
                    return make_error(port_text(q) + " is published by container " +
                                      short_id(a.container_id));
    }

    KAPSEL_TRY(write_record(adfd.get(), adir, id + ".json", to_json(wanted)));
    return wanted;
}

Status NetworkStore::release(const std::string& container_id) {
    if (!valid_container_id(container_id))
        return make_error("invalid container id \"" + container_id + "\"");
    unique_fd lock = KAPSEL_TRY(lock_store(dir_));
    std::string adir = dir_ + "/attachments";
    unique_fd adfd = KAPSEL_TRY(open_dir(adir));
    if (::unlinkat(adfd.get(), (container_id + ".json").c_str(), 0) < 0 && errno != ENOENT)
        return sys_error("remove " + adir + "/" + container_id + ".json");
    return {};
}

Result<std::vector<Attachment>> NetworkStore::attachments() {
    return read_attachments(dir_ + "/attachments");
}

Result<std::optional<Attachment>> NetworkStore::attachment(const std::string& container_id) {
    if (!valid_container_id(container_id))
        return make_error("invalid container id \"" + container_id + "\"");
    std::string adir = dir_ + "/attachments";
    std::string path = adir + "/" + container_id + ".json";
    unique_fd adfd = KAPSEL_TRY(open_dir(adir));
    auto text = read_record(adfd.get(), adir, container_id + ".json", kMaxAttachmentFile);
    if (!text) {
        if (text.error().code == ENOENT) return std::optional<Attachment>();
        return std::move(text).error();
    }
    json j = KAPSEL_TRY(parse_record(*text, path));
    Attachment a = KAPSEL_TRY_CTX(attachment_from_json(j), "read " + path);
    if (a.container_id != container_id)
        return make_error("read " + path + ": names container " + short_id(a.container_id));
    return std::optional<Attachment>(std::move(a));
}

Status NetworkStore::update(const Attachment& a) {
    if (!valid_container_id(a.container_id))
        return make_error("invalid container id \"" + a.container_id + "\"");
    json j = to_json(a);
    KAPSEL_TRY_CTX(attachment_from_json(j), "network attachment of container " + short_id(a.container_id));
    unique_fd lock = KAPSEL_TRY(lock_store(dir_));
    std::string adir = dir_ + "/attachments";
    unique_fd adfd = KAPSEL_TRY(open_dir(adir));
    struct stat st {};
    if (::fstatat(adfd.get(), (a.container_id + ".json").c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
        return sys_error("update " + adir + "/" + a.container_id + ".json");
    return write_record(adfd.get(), adir, a.container_id + ".json", j);
}

Result<std::optional<NetworkStore::Claimed>> NetworkStore::claim_spare(const Attachment& wanted) {
    using Out = std::optional<Claimed>;
    if (wanted.endpoints.size() != 1 || !wanted.ports.empty() || !valid_container_id(wanted.container_id))
        return Out();
    const Endpoint& want = wanted.endpoints[0];
    if (!want.ip.empty() || !want.mac.empty()) return Out();
    std::string adir = dir_ + "/attachments";
    unique_fd lock = KAPSEL_TRY(lock_store(dir_));
    unique_fd adfd = KAPSEL_TRY(open_dir(adir));
    struct stat st {};
    if (::fstatat(adfd.get(), (wanted.container_id + ".json").c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
        return make_error("container " + short_id(wanted.container_id) + " already has network addresses");
    for (auto& a : KAPSEL_TRY(read_attachments(adir))) {
        if (!a.spare || a.endpoints.size() != 1 || a.endpoints[0].network != want.network) continue;
        // Taken: no spare any more, and the claiming run's root's to judge (its prune
        // takes it down should the run die before the record below is written).
        Attachment taken = a;
        taken.spare = false;
        taken.reusable = false;
        taken.root = wanted.root;
        KAPSEL_TRY(write_record(adfd.get(), adir, a.container_id + ".json", to_json(taken)));
        Attachment mine = a;
        mine.container_id = wanted.container_id;
        mine.container_name = wanted.container_name;
        mine.endpoints[0].aliases = want.aliases;
        mine.root = wanted.root;
        mine.reusable = wanted.reusable;
        mine.spare = false;
        KAPSEL_TRY(write_record(adfd.get(), adir, mine.container_id + ".json", to_json(mine)));
        if (::unlinkat(adfd.get(), (a.container_id + ".json").c_str(), 0) < 0)
            return sys_error("remove " + adir + "/" + a.container_id + ".json");
        return Out(Claimed{a.container_id, std::move(mine)});
    }
    return Out();
}

Result<bool> NetworkStore::keep_as_spare(const std::string& container_id, size_t limit) {
    if (!valid_container_id(container_id))
        return make_error("invalid container id \"" + container_id + "\"");
    std::string adir = dir_ + "/attachments";
    unique_fd lock = KAPSEL_TRY(lock_store(dir_));
    unique_fd adfd = KAPSEL_TRY(open_dir(adir));
    auto all = KAPSEL_TRY(read_attachments(adir));
    auto me = std::find_if(all.begin(), all.end(), [&](auto& a) { return a.container_id == container_id; });
    if (me == all.end() || !me->reusable || me->spare || me->endpoints.size() != 1 || !me->ports.empty())
        return false;
    size_t spares = std::count_if(all.begin(), all.end(), [&](auto& a) {
        return a.spare && a.endpoints.size() == 1 && a.endpoints[0].network == me->endpoints[0].network;
    });
    if (spares >= limit) return false;
    Attachment kept = *me;
    kept.spare = true;
    kept.container_name.clear();
    kept.endpoints[0].aliases.clear();
    kept.root.clear();
    KAPSEL_TRY(write_record(adfd.get(), adir, container_id + ".json", to_json(kept)));
    return true;
}

}  // namespace kapsel::network
