// The verbs of the kapsel command line, one file each in cli/.
#pragma once

#include <string>
#include <vector>

#include "runtime/context.hpp"

namespace kapsel::cli {

using Args = std::vector<std::string>;
using Globals = runtime::Globals;

struct Command {
    const char* name;
    const char* summary;
    int (*main)(const Globals&, const Args&);
    bool enters_container;  // needs the CVE-2019-5736 protection of the kapsel binary
};

int create_main(const Globals&, const Args&);
int start_main(const Globals&, const Args&);
int state_main(const Globals&, const Args&);
int kill_main(const Globals&, const Args&);
int delete_main(const Globals&, const Args&);
int run_main(const Globals&, const Args&);
int list_main(const Globals&, const Args&);
int exec_main(const Globals&, const Args&);
int spec_main(const Globals&, const Args&);
int features_main(const Globals&, const Args&);
int pause_main(const Globals&, const Args&);
int resume_main(const Globals&, const Args&);
int update_main(const Globals&, const Args&);
int ps_main(const Globals&, const Args&);
int events_main(const Globals&, const Args&);
int images_main(const Globals&, const Args&);
int load_main(const Globals&, const Args&);
int import_main(const Globals&, const Args&);
int pull_main(const Globals&, const Args&);
int run_image_main(const Globals&, const Args&);
bool is_image_run(const Globals&, const Args&);
int logs_main(const Globals&, const Args&);
int port_main(const Globals&, const Args&);
int stop_main(const Globals&, const Args&);
int rm_main(const Globals&, const Args&);
int inspect_main(const Globals&, const Args&);
int diff_main(const Globals&, const Args&);
int commit_main(const Globals&, const Args&);
int push_main(const Globals&, const Args&);
int checkpoint_main(const Globals&, const Args&);
int restore_main(const Globals&, const Args&);
int genode_main(const Globals&, const Args&);
int rmi_main(const Globals&, const Args&);
int system_main(const Globals&, const Args&);
int network_main(const Globals&, const Args&);

const std::vector<Command>& commands();

// Prints "kapsel: <message>" (and logs it) and returns the exit code 1.
int fail(const Error& e);
// Usage error for a verb: the message and a hint, exit code 1.
int usage_error(const std::string& command, const std::string& message);

}  // namespace kapsel::cli
