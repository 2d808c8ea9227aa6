// cgroup v2 io controller: blockIO translated from v1's blkio terms.
#include "cgroups/resources.hpp"

namespace kapsel::cgroups::v2 {

uint64_t io_weight_from_blkio(uint64_t weight) {
    // blkio weights are [10, 1000], io.weight is [1, 10000] (runc's conversion).
    if (weight == 0) return 0;
    if (weight < 10) weight = 10;
    if (weight > 1000) weight = 1000;
    return 1 + (weight - 10) * 9999 / 990;
}

Status io(const oci::Resources& r, size_t h, ResourcePlan& plan) {
    auto& b = *r.block_io;
    auto dev = [](const oci::BlockIoDevice& d) { return std::to_string(d.major) + ":" + std::to_string(d.minor); };
    if (b.weight) plan.writes.push_back({h, "io.weight", "default " + std::to_string(io_weight_from_blkio(*b.weight))});
    if (b.leaf_weight) plan.warnings.push_back("linux.resources.blockIO.leafWeight is ignored: cgroup v2 has none");
    for (auto& d : b.weight_device)
        if (d.weight) plan.writes.push_back({h, "io.weight", dev(d) + " " + std::to_string(io_weight_from_blkio(*d.weight))});
    auto limits = [&](const std::vector<oci::BlockIoDevice>& list, const char* key) {
        for (auto& d : list) plan.writes.push_back({h, "io.max", dev(d) + " " + key + "=" + std::to_string(d.rate)});
    };
    limits(b.throttle_read_bps, "rbps");
    limits(b.throttle_write_bps, "wbps");
    limits(b.throttle_read_iops, "riops");
    limits(b.throttle_write_iops, "wiops");
    return {};
}

}  // namespace kapsel::cgroups::v2
