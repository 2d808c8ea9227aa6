// kapsel run [options] IMAGE [COMMAND [ARG...]] — podman's run, on kapsel's image store.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "image/space.hpp"
#include "image/store.hpp"
#include "network/etc_files.hpp"
#include "network/netavark.hpp"
#include "network/pasta.hpp"
#include "network/ports.hpp"
#include "network/slirp.hpp"
#include "network/subnet.hpp"
#include "plan/plan.hpp"
#include "procfs/client.hpp"
#include "runtime/containers.hpp"
#include "runtime/manage.hpp"
#include "util/proc.hpp"
#include "util/strings.hpp"

namespace kapsel::cli {

// Whether `kapsel run` args mean an image (podman's run) rather than a bundle
// (runc's run): runc's own flags mean a bundle; podman's flags, or an argument
// that can only be an image reference or names a stored image, mean an image.
bool is_image_run(const Globals& g, const Args& args) {
    static const char* runc_only[] = {
        "--bundle",      "-b",     "-bundle",        "--console-socket", "--pid-file",
        "--no-pivot",    "--keep", "--preserve-fds", "--no-new-keyring", "--no-subreaper",
        "--pidfd-socket"};
    static const char* image_only[] = {"-i",
                                       "-t",
                                       "-it",
                                       "-ti",
                                       "--rm",
                                       "--name",
                                       "-e",
                                       "--env",
                                       "--env-file",
                                       "-v",
                                       "--volume",
                                       "-w",
                                       "--workdir",
                                       "-u",
                                       "--user",
                                       "--entrypoint",
                                       "-m",
                                       "--memory",
                                       "--cpus",
                                       "--pids-limit",
                                       "--read-only",
                                       "--network",
                                       "--net",
                                       "-p",
                                       "--publish",
                                       "-P",
                                       "--publish-all",
                                       "--ip",
                                       "--mac-address",
                                       "--network-alias",
                                       "--dns",
                                       "--dns-search",
                                       "--add-host",
                                       "--hostname",
                                       "--cap-add",
                                       "--cap-drop",
                                       "--security-opt",
                                       "--log-opt",
                                       "--storage-opt",
                                       "--procfs",
                                       "--interactive",
                                       "--tty",
                                       "-dt",
                                       "-td",
                                       "-dit",
                                       "-itd",
                                       "-q"};
    for (auto& a : args) {
        std::string flag = a.substr(0, a.find('='));
        for (auto* r : runc_only)
            if (flag == r) return false;
        for (auto* i : image_only)
            if (flag == i) return true;
    }
    for (auto& a : args) {
        if (a.empty() || a[0] == '-') continue;
        // runc container ids cannot contain these; image references often do.
        if (a.find_first_of("/:@") != std::string::npos) return true;
        // Only an existing store is asked: `kapsel run ID` from a bundle directory
        // must not create one.
        std::string root = g.storage_root.empty() ? image::Store::default_root() : g.storage_root;
        if (::access(root.c_str(), F_OK) != 0) return false;
        auto store = runtime::open_store(g);
        return store && store->find_image(a).ok();
    }
    return false;
}

int run_image_main(const Globals& g, const Args& args) {
    runtime::ImageRunOptions o;
    auto& r = o.request;
    bool it = false, dit = false, dt = false;
    std::vector<std::string> env, env_files, volumes, security, storage, log_opts;
    std::string memory, pids, cpus, workdir, entrypoint, network;
    std::vector<std::string> publish, add_hosts;
    auto& net = o.network;
    bool entrypoint_set = false, quiet = false;
    Flags f(
        "run", "kapsel run [options] IMAGE [COMMAND [ARG...]]",
        "Run a container from an image in the store (kapsel images). Attached by default: kapsel\n"
        "exits with the container's exit code. (With --bundle, `run` is runc's: see "
        "kapsel-run(8).)");
    f.flag({"detach", "d"}, &o.detach, "run in the background and print the container id");
    f.flag({"interactive", "i"}, &r.interactive, "keep stdin open to the container");
    f.flag({"tty", "t"}, &r.tty, "allocate a pseudo-terminal");
    f.flag({"it", "ti"}, &it, "-i and -t");
    f.flag({"dit", "itd", "idt"}, &dit, "-d, -i and -t");
    f.flag({"dt", "td"}, &dt, "-d and -t");
    f.flag({"rm"}, &o.rm, "remove the container when it exits");
    f.option({"name"}, &o.name, "a name for the container", "name");
    f.list({"env", "e"}, &env, "set an environment variable (KEY=VALUE, or KEY to pass kapsel's)",
           "KEY=VALUE");
    f.list({"env-file"}, &env_files, "read environment variables from a file (KEY=VALUE lines)",
           "file");
    f.list({"volume", "v"}, &volumes, "bind mount a host path: HOST:CONTAINER[:ro]",
           "host:ctr[:ro]");
    f.option({"workdir", "w"}, &workdir, "working directory in the container", "dir");
    f.option({"user", "u"}, &o.user, "user[:group] to run as (names from the image's /etc/passwd)",
             "user");
    f.option({"entrypoint"}, &entrypoint, "override the image's entrypoint (\"\" clears it)",
             "cmd");
    f.option({"memory", "m"}, &memory, "memory limit (512m, 1g)", "bytes");
    f.option({"cpus"}, &cpus, "CPU limit in CPUs (1.5)", "n");
    f.option({"pids-limit"}, &pids, "maximum number of processes", "n");
    f.flag({"read-only"}, &r.read_only, "mount the root file system read-only");
    f.option({"network", "net"}, &network,
             "bridge (default, or $KAPSEL_DEFAULT_NETWORK: kapsel's default network; for a user without root "
             "pasta where it can run, else private), a network's name (kapsel network create; root only), "
             "none, host, private (a namespace of its own with only loopback), pasta or slirp4netns (a "
             "user-mode network on the host's), "
             "container:NAME (another container's), or ns:PATH",
             "mode");
    f.list({"publish", "p"}, &publish,
           "publish a container port on the host: [[IP:][HOST]:]CONTAINER[/tcp|udp] (ports or "
           "ranges; HOST left out: a free port, see kapsel port)",
           "port");
    f.flag({"publish-all", "P"}, &net.publish_all, "publish the image's EXPOSE ports on free host ports");
    f.option({"ip"}, &net.ip, "the container's IPv4 address on its network", "addr");
    f.option({"mac-address"}, &net.mac, "the container's MAC address on its network", "mac");
    f.list({"network-alias"}, &net.aliases, "another name other containers on its network reach it by",
           "name");
    f.list({"dns"}, &net.dns, "a DNS server for the container's /etc/resolv.conf", "ip");
    f.list({"dns-search"}, &net.dns_search, "a DNS search domain for the container", "domain");
    f.list({"add-host"}, &add_hosts, "add NAME:IP to the container's /etc/hosts", "name:ip");
    f.option({"hostname"}, &r.hostname, "the container's host name (default: its short id)",
             "name");
    f.list({"cap-add"}, &r.cap_add, "add a capability (or ALL)", "cap");
    f.list({"cap-drop"}, &r.cap_drop, "drop a capability (or ALL)", "cap");
    f.list({"security-opt"}, &security, "no-new-privileges", "opt");
    f.list({"storage-opt"}, &storage,
           "size=SIZE: limit the container's writable layer (512m, 2g; needs project quotas)",
           "opt");
    f.list({"log-opt"}, &log_opts,
           "bound a detached container's log: max-size=SIZE (10m, 512k; the log is rotated "
           "at that size) and max-file=N (files kept, the current one included; default 1). "
           "The log files take at most max-size x max-file once the keeper caught up (within "
           "milliseconds, and after exit); while the container writes faster, ctr.log runs "
           "ahead by what it wrote since the last cut (kapsel-run(8))",
           "key=value");
    bool procfs = true;
    f.flag({"procfs"}, &procfs,
           "show the container its own limits in /proc/meminfo, cpuinfo, stat, uptime, "
           "loadavg, swaps, diskstats, pressure and /sys/devices/system/cpu, and in "
           "sysinfo(2) and sched_getaffinity(2) (default true; --procfs=false: the host's; a user "
         "without root gets the host's)");
    f.flag({"quiet", "q"}, &quiet, "accepted for podman compatibility");
    auto pos = f.parse(args, /*stop_at_positional=*/true);
    if (!pos) return usage_error("run", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->empty()) return usage_error("run", "expects an image");
    for (auto& a : args) {
        if (a == "--entrypoint" || a.rfind("--entrypoint=", 0) == 0) entrypoint_set = true;
    }
    if (it || dit) r.interactive = r.tty = true;
    if (dit || dt) o.detach = r.tty = true;
    o.image = (*pos)[0];
    r.command.assign(pos->begin() + 1, pos->end());
    // On by default where it can be: without kapsel-procfs or FUSE the container runs
    // with the host's files and one warning says so; asked for by name (--procfs), its
    // absence is an error (create's, naming what is missing).
    bool asked = false;
    for (auto& a : args) {
        if (a == o.image) break;  // the container's own arguments follow
        if (a == "--procfs" || a == "--procfs=true") asked = true;
    }
    // The procfs service is one FUSE mount shared by the host's containers; a user's
    // containers live in namespaces of their own where it is not mounted.
    if (rootless() && asked) return fail(make_error("--procfs needs root: a container run by a user sees the host's /proc files"));
    if (rootless()) procfs = false;
    if (procfs && !asked && !(procfs::server_binary() && ::access("/dev/fuse", F_OK) == 0)) {
        std::fprintf(stderr,
                     "kapsel: warning: the container sees the host's /proc files and numbers: "
                     "%s\n",
                     ::access("/dev/fuse", F_OK) != 0
                         ? "this kernel has no /dev/fuse"
                         : procfs::server_binary().error().message.c_str());
        procfs = false;
    }
    if (procfs) r.annotations[plan::kProcfsAnnotation] = "true";
    if (entrypoint_set)
        r.entrypoint =
            entrypoint.empty() ? std::vector<std::string>{} : std::vector<std::string>{entrypoint};
    if (!workdir.empty()) r.workdir = workdir;
    // A bridge network by default where netavark is installed; without it, a namespace of
    // the container's own and one warning (an error for --network bridge by name).
    // A user cannot make a bridge (netavark needs root): a user-mode network (pasta, else
    // slirp4netns) where one is installed and /dev/net/tun may be opened, else a
    // namespace with only loopback.
    if (network.empty() && rootless()) {
        bool user_mode = (network::find_pasta() || network::find_slirp4netns()) && network::check_tun();
        network = user_mode ? "pasta" : "private";
    }
    if (network.empty()) {
        const char* dflt = ::getenv("KAPSEL_DEFAULT_NETWORK");
        network = dflt && *dflt ? dflt : "bridge";
        if (auto nv = network::find_netavark(); network == "bridge" && !nv) {
            std::fprintf(stderr, "kapsel: warning: the container gets a network of its own with only "
                                 "loopback: %s\n", nv.error().message.c_str());
            network = "private";
        }
    }
    net.mode = network;
    for (auto& p : publish) {
        auto m = network::parse_publish(p);
        if (!m) return usage_error("run", m.error().message);
        net.ports.push_back(*m);
    }
    for (auto& h : add_hosts) {
        auto e = network::parse_add_host(h);
        if (!e) return usage_error("run", e.error().message);
        net.extra_hosts.push_back(*e);
    }
    for (auto& d : net.dns)
        if (!network::valid_ip(d)) return usage_error("run", "--dns \"" + d + "\" is not an IP address");
    if (!net.ip.empty() && !network::parse_ipv4(net.ip))
        return usage_error("run", "--ip \"" + net.ip + "\" is not an IPv4 address");
    if (!net.mac.empty() && !network::valid_mac(net.mac))
        return usage_error("run", "--mac-address \"" + net.mac + "\" is not a MAC address (xx:xx:xx:xx:xx:xx)");
    for (auto& file : env_files) {
        std::ifstream in(file);
        if (!in) return fail(make_error("--env-file: cannot read " + file));
        std::string line;
        while (std::getline(in, line)) {
            std::string t(trim(line));
            if (!t.empty() && t[0] != '#') r.env.push_back(t);
        }
    }
    r.env.insert(r.env.end(), env.begin(), env.end());
    for (auto& v : volumes) {
        auto vol = plan::parse_volume(v);
        if (!vol) return usage_error("run", vol.error().message);
        r.volumes.push_back(*vol);
    }
    for (auto& s : security) {
        if (s == "no-new-privileges" || s == "no-new-privileges:true")
            r.no_new_privileges = true;
        else
            return usage_error(
                "run", "--security-opt \"" + s + "\" is not supported (no-new-privileges is)");
    }
    for (auto& s : storage) {
        if (s.rfind("size=", 0) != 0)
            return usage_error("run", "--storage-opt \"" + s + "\" is not supported (size= is)");
        auto n = image::parse_size(s.substr(5));
        if (!n || *n == 0)
            return usage_error("run", "--storage-opt size: \"" + s.substr(5) + "\" is not a size above 0");
        o.writable_size = *n;
    }
    if (!memory.empty()) {
        auto m = runtime::parse_bytes(memory);
        if (!m) return usage_error("run", "--memory: " + m.error().message);
        r.memory = *m;
    }
    if (!pids.empty()) {
        auto n = parse_int(pids);
        if (!n) return usage_error("run", "--pids-limit: \"" + pids + "\" is not a number");
        r.pids_limit = *n;
    }
    if (!cpus.empty()) {
        auto n = parse_decimal(cpus);
        if (!n) return usage_error("run", "--cpus: \"" + cpus + "\" is not a number");
        r.cpus = *n;
    }
    auto log = plan::parse_log_options(log_opts);
    if (!log) return usage_error("run", log.error().message);
    o.log = *log;
    std::string id;
    auto rc = runtime::run_image(g, o, &id);
    if (!rc) return fail(rc.error());
    if (o.detach) std::printf("%s\n", id.c_str());
    return *rc;
}

}  // namespace kapsel::cli
