// CVE-2019-5736: a container process that can open /proc/PID/exe of a kapsel
// process that joined it (or a `#!/proc/self/exe` script that re-runs kapsel
// inside the container) could overwrite the kapsel binary on the host. kapsel
// therefore never enters a container while running from a writable file.
#pragma once

#include "util/result.hpp"

namespace kapsel::linux {

// Returns when /proc/self/exe is on a read-only mount or a sealed memfd; otherwise
// re-executes kapsel from a read-only, detached bind mount of its own binary (no
// copy, nothing attached to any mount namespace), or from a sealed memfd copy
// where the kernel cannot do that.
Status ensure_sealed_self(char** argv);

// True when the running binary cannot be opened for writing.
bool self_is_sealed();

}  // namespace kapsel::linux
