// Flag parsing with runc's conventions: -flag and --flag are the same, values as
// "--flag value" or "--flag=value", booleans as "--flag" or "--flag=false", "--"
// ends the flags. Each verb declares its flags; usage text is generated.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace kapsel::cli {

class Flags {
  public:
    Flags(std::string command, std::string usage_line, std::string summary)
        : command_(std::move(command)),
          usage_line_(std::move(usage_line)),
          summary_(std::move(summary)) {}

    // Names without dashes; the first is the canonical one ("bundle", "b").
    void flag(std::vector<std::string> names, bool* out, std::string help);
    void option(std::vector<std::string> names, std::string* out, std::string help,
                std::string metavar = "value");
    void option(std::vector<std::string> names, int* out, std::string help,
                std::string metavar = "n");
    void list(std::vector<std::string> names, std::vector<std::string>* out, std::string help,
              std::string metavar = "value");
    // Accepted and ignored, for compatibility with callers that pass it.
    void ignored(std::vector<std::string> names, bool takes_value, std::string help);

    // Parses args; returns the positional arguments. With stop_at_positional, the
    // first positional argument ends flag parsing (for commands followed by a
    // program's own argv, and for the global flags before a verb).
    Result<std::vector<std::string>> parse(const std::vector<std::string>& args,
                                           bool stop_at_positional = false);
    bool help_requested() const { return help_; }
    std::string usage() const;

  private:
    struct Spec {
        std::vector<std::string> names;
        bool takes_value = false;
        std::string help, metavar;
        std::function<Status(const std::string&)> set;
    };
    const Spec* find(const std::string& name) const;

    std::string command_, usage_line_, summary_;
    std::vector<Spec> specs_;
    bool help_ = false;
};

}  // namespace kapsel::cli
