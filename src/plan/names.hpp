// Name <-> number tables for what configs and command lines spell by name:
// capabilities, rlimits, signals, seccomp tokens, scheduler policies.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kapsel::plan {

// "CAP_SYS_ADMIN" (or "SYS_ADMIN", any case) -> 21.
std::optional<int> capability_number(std::string_view name);
std::string capability_name(int number);  // "CAP_SYS_ADMIN"
int last_known_capability();              // the highest number kapsel has a name for
std::vector<std::string> all_capability_names();

// "RLIMIT_NOFILE" -> RLIMIT_NOFILE.
std::optional<int> rlimit_number(std::string_view name);

// "SIGKILL", "KILL", "kill", "9" -> 9.
std::optional<int> signal_number(std::string_view name);

}  // namespace kapsel::plan
