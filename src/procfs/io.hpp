// /proc/diskstats and /proc/pressure for a container (issue 14): its block I/O counters
// from its cgroup (v2 io.stat, v1 blkio.throttle.*) written into the host's diskstats
// lines, and its cgroup2 pressure files. The parsers and the renderer are pure; the
// readers open the cgroup's files beneath the hierarchy's mount point.
//
// LXCFS (5.0.3, measured on this project's hosts) reads v1's CFQ/BFQ statistics
// (blkio.io_serviced_recursive, io_wait_time_recursive, ...), which kernels since 5.0 no
// longer have: it then shows the host's /proc/diskstats unchanged, every device's host
// totals. On v2 it has no diskstats of its own either, and it serves no /proc/pressure.
// Here: the host's lines (so the devices and their names are the host's), each counter
// the container's own; a device the container did no I/O on reads zeros. On v1 the
// kernel (6.x) fills blkio.throttle.io_serviced only for devices the cgroup has a throttle
// rule on (kapsel sets one for --device-*-bps/iops): elsewhere those read zeros too.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "cgroups/layout.hpp"
#include "util/result.hpp"

namespace kapsel::procfs {

// A container's I/O on one device.
struct IoCounters {
    uint64_t rbytes = 0, wbytes = 0, rios = 0, wios = 0, dbytes = 0, dios = 0;
};
// By "MAJ:MIN".
using IoStats = std::map<std::string, IoCounters>;

// v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" per line.
IoStats parse_io_stat(std::string_view text);
// v1 blkio.throttle.io_serviced and io_service_bytes: "8:0 Read 3", "8:0 Write 4", ...
IoStats parse_blkio_throttle(std::string_view serviced, std::string_view service_bytes);

// /proc/diskstats from the host's: each line's counters replaced by the container's
// (reads, sectors read, writes, sectors written, discards and sectors discarded from
// `io`; merges, times and in-flight counts 0, which the cgroup does not count), the
// field count kept. Lines that are not diskstats lines are left out.
std::string diskstats(std::string_view host, const IoStats& io);

// The I/O counters of the cgroup that `proc_cgroup` lists: io.stat where the io
// controller is on a cgroup2 hierarchy, else v1 blkio (the _recursive files, which
// count the container's descendants too, or the plain ones). Empty when the host has
// neither or the cgroup lacks the files.
Result<IoStats> io_in(const cgroups::Layout& layout, std::string_view proc_cgroup);

// The text of the cgroup2 pressure file `resource` ("cpu", "memory", "io") of the cgroup
// that `proc_cgroup` lists on the unified hierarchy. A process in the hierarchy's root
// reads the root's, the system-wide figures (what the kernel shows it too). nullopt
// when the host mounts no cgroup2 hierarchy: the caller then shows the host's file.
Result<std::optional<std::string>> pressure_in(const cgroups::Layout& layout,
                                               std::string_view proc_cgroup,
                                               std::string_view resource);

}  // namespace kapsel::procfs
