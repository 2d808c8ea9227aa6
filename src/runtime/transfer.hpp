// A checkpointed container of `kapsel run IMAGE` as one archive, to move it to another
// store or host (`checkpoint --export`, `restore --import`, podman's model): tar,
// zstd-compressed, holding
//   export.json      what it is: format, architecture, CRIU version, the container's
//                    record and its image (by id and names)
//   config.json      its runtime config (paths into the old store are rebased on import)
//   etc/*            its /etc/hosts, hostname, resolv.conf
//   log/ctr.log      its log, which goes on at the destination
//   image.tar        with --with-image: its image as an OCI archive
//   checkpoint/*     CRIU's images
//   upper.tar        its writable layer's changes (an OCI layer: whiteouts as .wh.)
// The destination must have the image, or the archive must bring it. On import the changes become a layer of the
// destination's store (unpacked, checked and shared as any layer) under a new, empty
// writable layer, and the container is restored detached under its monitor.
#pragma once

#include <string>

#include "runtime/checkpoint.hpp"
#include "runtime/context.hpp"
#include "util/result.hpp"

namespace kapsel::runtime {

// Checkpoints container `id` (per `r`; its images go to the container's directory) and
// writes the archive to `file` ("-": stdout); `with_image`: its image too, as an OCI
// archive (image.tar), which the destination loads where it lacks it.
Status export_checkpoint(const Globals& g, const std::string& id, CheckpointRequest r, const std::string& file,
                         bool with_image);

// Makes a container of this store from the archive at `file` ("-": stdin), named `name`
// (default: its name at the source), and restores it detached; its id. A damaged
// archive, another architecture or CRIU version, an image this store lacks, or a name or
// id in use is one error, and nothing is left behind.
Result<std::string> import_checkpoint(const Globals& g, const std::string& file, const std::string& name,
                                      RestoreRequest r);

}  // namespace kapsel::runtime
