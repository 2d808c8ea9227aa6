// cgroup v1 blkio controller. The weight files exist only with the BFQ (or the
// old CFQ) scheduler; where they are missing the write fails with the file's name.
#include "cgroups/resources.hpp"

namespace kapsel::cgroups::v1 {

Status blkio(const oci::Resources& r, size_t h, ResourcePlan& plan) {
    auto& b = *r.block_io;
    auto dev = [](const oci::BlockIoDevice& d) { return std::to_string(d.major) + ":" + std::to_string(d.minor); };
    if (b.weight) plan.writes.push_back({h, "blkio.weight", std::to_string(*b.weight)});
    if (b.leaf_weight) plan.writes.push_back({h, "blkio.leaf_weight", std::to_string(*b.leaf_weight)});
    for (auto& d : b.weight_device) {
        if (d.weight) plan.writes.push_back({h, "blkio.weight_device", dev(d) + " " + std::to_string(*d.weight)});
        if (d.leaf_weight)
            plan.writes.push_back({h, "blkio.leaf_weight_device", dev(d) + " " + std::to_string(*d.leaf_weight)});
    }
    for (auto& d : b.throttle_read_bps)
        plan.writes.push_back({h, "blkio.throttle.read_bps_device", dev(d) + " " + std::to_string(d.rate)});
    for (auto& d : b.throttle_write_bps)
        plan.writes.push_back({h, "blkio.throttle.write_bps_device", dev(d) + " " + std::to_string(d.rate)});
    for (auto& d : b.throttle_read_iops)
        plan.writes.push_back({h, "blkio.throttle.read_iops_device", dev(d) + " " + std::to_string(d.rate)});
    for (auto& d : b.throttle_write_iops)
        plan.writes.push_back({h, "blkio.throttle.write_iops_device", dev(d) + " " + std::to_string(d.rate)});
    return {};
}

}  // namespace kapsel::cgroups::v1
