// runc-style flag parsing.
#include "cli/args.hpp"

#include "util/strings.hpp"

namespace kapsel::cli {

void Flags::flag(std::vector<std::string> names, bool* out, std::string help) {
    specs_.push_back(
        {std::move(names), false, std::move(help), "", [out](const std::string& v) -> Status {
             if (v.empty() || v == "true" || v == "1")
                 *out = true;
             else if (v == "false" || v == "0")
                 *out = false;
             else
                 return make_error("expected true or false, got \"" + v + "\"");
             return {};
         }});
}

void Flags::option(std::vector<std::string> names, std::string* out, std::string help,
                   std::string metavar) {
    specs_.push_back({std::move(names), true, std::move(help), std::move(metavar),
                      [out](const std::string& v) -> Status {
                          *out = v;
                          return {};
                      }});
}

void Flags::option(std::vector<std::string> names, int* out, std::string help,
                   std::string metavar) {
    specs_.push_back({std::move(names), true, std::move(help), std::move(metavar),
                      [out](const std::string& v) -> Status {
                          auto n = parse_int(v);
                          if (!n || *n < 0 || *n > 1'000'000)
                              return make_error("expected a number, got \"" + v + "\"");
                          *out = static_cast<int>(*n);
                          return {};
                      }});
}

void Flags::list(std::vector<std::string> names, std::vector<std::string>* out, std::string help,
                 std::string metavar) {
    specs_.push_back({std::move(names), true, std::move(help), std::move(metavar),
                      [out](const std::string& v) -> Status {
                          out->push_back(v);
                          return {};
                      }});
}

void Flags::ignored(std::vector<std::string> names, bool takes_value, std::string help) {
    specs_.push_back({std::move(names), takes_value, std::move(help), takes_value ? "value" : "",
                      [](const std::string&) -> Status { return {}; }});
}

const Flags::Spec* Flags::find(const std::string& name) const {
    for (auto& s : specs_)
        for (auto& n : s.names)
            if (n == name) return &s;
    return nullptr;
}

Result<std::vector<std::string>> Flags::parse(const std::vector<std::string>& args,
                                              bool stop_at_positional) {
    std::vector<std::string> positional;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--") {
            positional.insert(positional.end(), args.begin() + static_cast<long>(i) + 1,
                              args.end());
            break;
        }
        if (a.size() < 2 || a[0] != '-') {
            if (stop_at_positional) {
                positional.insert(positional.end(), args.begin() + static_cast<long>(i),
                                  args.end());
                break;
            }
            positional.push_back(a);
            continue;
        }
        std::string body = a.substr(a[1] == '-' ? 2 : 1);
        std::string value;
        bool has_value = false;
        if (auto eq = body.find('='); eq != std::string::npos) {
            value = body.substr(eq + 1);
            body = body.substr(0, eq);
            has_value = true;
        }
        if (body == "help" || body == "h") {
            help_ = true;
            continue;
        }
        const Spec* s = find(body);
        if (!s)
            return make_error("unknown flag " + a);
        if (s->takes_value && !has_value) {
            if (i + 1 >= args.size()) return make_error("flag " + a + " needs a value");
            value = args[++i];
        }
        auto st = s->set(value);
        if (!st) return std::move(st).error().context("flag --" + s->names[0]);
    }
    return positional;
}

std::string Flags::usage() const {
    std::string out = "usage: " + usage_line_ + "\n\n" + summary_ + "\n";
    if (!specs_.empty()) out += "\noptions:\n";
    for (auto& s : specs_) {
        std::string names;
        for (auto& n : s.names) {
            if (!names.empty()) names += ", ";
            names += (n.size() == 1 ? "-" : "--") + n;
        }
        if (s.takes_value) names += " " + s.metavar;
        out += "  " + names;
        if (names.size() < 30)
            out += std::string(30 - names.size(), ' ');
        else
            out += "\n" + std::string(32, ' ');
        out += s.help + "\n";
    }
    return out;
}

}  // namespace kapsel::cli
