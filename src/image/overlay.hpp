// A container's root file system: an overlayfs of the image's shared layers
// (read-only lowerdirs) and the container's own upperdir, where its changes go
// (copy-on-write). Also what changed: `kapsel diff`, and the upper as a layer
// tar for `kapsel commit` (overlay whiteouts written back as OCI ".wh." entries).
#pragma once

#include <string>
#include <vector>

#include "image/store.hpp"

namespace kapsel::image {

struct ContainerDirs {
    std::string dir, upper, work, merged;
};
ContainerDirs container_dirs(const Store& store, const std::string& id);

// Unmounts merged if mounted (detaching lazily when busy).
Status unmount_rootfs(const Store& store, const std::string& id);
bool rootfs_mounted(const Store& store, const std::string& id);

enum class Change { added, changed, deleted };
struct ChangeEntry {
    Change kind;
    std::string path;
};
// Where the container's own mounts go ("etc/hosts", "run": relative, clean). Where the
// image had no such path the runtime made an empty file or directory in the upper dir
// to mount on; that is not the container's change, and neither diff nor commit shows it
// (as under podman), while anything else at those paths is.
using MountPoints = std::vector<std::string>;

// What the container changed, from its upper dir against the image's layers.
Result<std::vector<ChangeEntry>> diff_rootfs(const Store& store, const std::string& id,
                                             const std::vector<std::string>& layers,
                                             const MountPoints& mount_points = {});

// Writes the upper dir as an OCI layer tar to `fd`.
Status write_upper_tar(const Store& store, const std::string& id, int fd,
                       const MountPoints& mount_points = {});

}  // namespace kapsel::image
