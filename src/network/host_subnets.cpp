// Subnets in use on the host outside kapsel (see host_subnets.hpp). These files belong
// to other tools and may hold anything: each is size-bounded, parsed without exceptions
// and skipped when it makes no sense.
#include "network/host_subnets.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::network {

namespace {

constexpr size_t kMaxFile = 1 << 20;
constexpr size_t kMaxFiles = 1024;
// JSON nesting this walk follows; CNI's ranges sit at depth 5.
constexpr int kMaxDepth = 16;

// A regular file's content (not a FIFO that blocks, nor a device), at most kMaxFile bytes.
std::optional<std::string> read_small_file(int dirfd, const std::string& name) {
    unique_fd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!fd) return std::nullopt;
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    auto text = fs::read_fd(fd.get(), name, kMaxFile);
    if (!text) return std::nullopt;
    return std::move(*text);
}

// The names in `dir` that end in `suffix`, sorted, at most kMaxFiles.
std::vector<std::string> names_in(int dirfd, std::string_view suffix) {
    std::vector<std::string> out;
    int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return out;
    DIR* d = ::fdopendir(dup);
    if (!d) {
        ::close(dup);
        return out;
    }
    while (dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n.size() > suffix.size() && n.substr(n.size() - suffix.size()) == suffix && n[0] != '.')
            out.emplace_back(n);
        if (out.size() >= kMaxFiles) break;
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

// Every string member called "subnet" anywhere in `j` that is an IPv4 CIDR: netavark
// files have them in "subnets", CNI conflists in plugins[].ipam.ranges[][] and in older
// plugins[].ipam.subnet.
void collect_subnets(const nlohmann::json& j, int depth, std::vector<Cidr>* out) {
    if (depth > kMaxDepth) return;
    if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it) {
            if (it.key() == "subnet" && it->is_string()) {
                if (auto c = parse_cidr(it->get_ref<const std::string&>())) out->push_back(*c);
            } else {
                collect_subnets(*it, depth + 1, out);
            }
        }
    } else if (j.is_array()) {
        for (auto& e : j) collect_subnets(e, depth + 1, out);
    }
}

void read_configs(const std::string& dir, std::string_view suffix, const std::string& kind,
                  std::vector<ForeignSubnet>* out) {
    unique_fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd) return;
    for (auto& name : names_in(dfd.get(), suffix)) {
        auto text = read_small_file(dfd.get(), name);
        if (!text) continue;
        auto j = nlohmann::json::parse(*text, nullptr, false);
        if (j.is_discarded()) continue;
        std::string owner = name.substr(0, name.size() - suffix.size());
        if (j.is_object()) {
            auto it = j.find("name");
            if (it != j.end() && it->is_string() &&
                valid_network_name(it->get_ref<const std::string&>()))
                owner = it->get<std::string>();
        }
        std::vector<Cidr> cidrs;
        collect_subnets(j, 0, &cidrs);
        for (auto& c : cidrs) out->push_back({c, kind + " network " + owner});
    }
}

std::optional<unsigned> prefix_of_mask(uint32_t mask) {
    unsigned p = 0;
    while (p < 32 && (mask & (uint32_t{1} << (31 - p)))) ++p;
    if (p < 32 && (mask << p) != 0) return std::nullopt;  // not contiguous
    return p;
}

}  // namespace

std::vector<ForeignSubnet> routes_from_text(std::string_view text) {
    std::vector<ForeignSubnet> out;
    auto lines = split_lines(text);
    for (size_t i = 1; i < lines.size(); ++i) {  // line 0: the column names
        std::vector<std::string> cols;
        for (auto& c : split(lines[i], '\t'))
            if (!trim(c).empty()) cols.emplace_back(trim(c));
        // Iface Destination Gateway Flags RefCnt Use Metric Mask ...
        if (cols.size() < 8) continue;
        auto dest = parse_uint(cols[1], 16);
        auto mask = parse_uint(cols[7], 16);
        if (!dest || !mask || *dest > 0xffffffffu || *mask > 0xffffffffu) continue;
        // The kernel prints the big-endian words as host-order numbers.
        uint32_t d = ntohl(static_cast<uint32_t>(*dest));
        uint32_t m = ntohl(static_cast<uint32_t>(*mask));
        auto prefix = prefix_of_mask(m);
        if (!prefix || *prefix == 0) continue;  // the default route overlaps everything
        if ((d & ~m) != 0) continue;
        out.push_back({Cidr{Ipv4{d}, *prefix}, "the host's route on " + cols[0]});
    }
    return out;
}

std::vector<ForeignSubnet> host_subnets(const HostNetworkFiles& files) {
    std::vector<ForeignSubnet> out;
    if (!files.podman_networks.empty())
        read_configs(files.podman_networks, ".json", "podman", &out);
    if (!files.cni_configs.empty()) read_configs(files.cni_configs, ".conflist", "CNI", &out);
    if (!files.routes.empty()) {
        unique_fd fd(::open(files.routes.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
        if (fd) {
            auto text = fs::read_fd(fd.get(), files.routes, kMaxFile);
            if (text) {
                auto routes = routes_from_text(*text);
                out.insert(out.end(), routes.begin(), routes.end());
            }
        }
    }
    return out;
}

}  // namespace kapsel::network
