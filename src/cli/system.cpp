// kapsel system check [--repair] | system prune
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/images.hpp"

namespace kapsel::cli {

static const char* kSystemUsage =
    "usage: kapsel system check [--repair]\n"
    "       kapsel system prune [-f]\n\n"
    "Look after the image store (--storage-root):\n"
    "  check   verify every blob's and stored file's digest (and a stored file's mode, owner,\n"
    "          mtime and xattrs against its name), every image's manifest, config,\n"
    "          blobs and layers, every container's image; one line per finding; exit 1 if\n"
    "          anything is damaged (leftovers and unreferenced content alone: exit 0)\n"
    "  prune   remove what nothing references: leftovers of interrupted imports in tmp/,\n"
    "          blobs and layers no image or container uses, incomplete layers, stored files\n"
    "          no layer uses, --rm containers whose monitor died\n";

static int check_main(const Globals& g, const Args& args) {
    bool repair = false;
    Flags f(
        "system check", "kapsel system check [options]",
        "Verify the image store; one line per finding on stdout. Lines ending in \"(prune removes\n"
        "it)\" are leftovers and unreferenced content, which leave the store consistent; the\n"
        "others are damage. Exit status 1 if there is damage, 0 otherwise.");
    f.flag({"repair"}, &repair,
           "remove corrupt blobs and files, unpack damaged layers again from their blobs, drop\n"
           "images that cannot be mended; exit status 1 if damage remains");
    auto pos = f.parse(args);
    if (!pos) return usage_error("system", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (!pos->empty()) return usage_error("system", "check takes no arguments");
    auto res = runtime::system_check(g, repair);
    if (!res) return fail(res.error());
    for (auto& p : res->findings) std::printf("%s\n", p.line().c_str());
    // What a killed import leaves is garbage, not damage: the store is consistent.
    auto damaged = [](const image::CheckResult& r) {
        for (auto& p : r.findings)
            if (!p.prunable) return true;
        return false;
    };
    if (!repair) return damaged(*res) ? 1 : 0;
    for (auto& r : res->repaired) std::printf("repaired: %s\n", r.c_str());
    // Whatever repair could not mend, a second look finds.
    auto again = runtime::system_check(g, false);
    if (!again) return fail(again.error());
    bool damage = false, garbage = false;
    for (auto& p : again->findings) {
        if (p.prunable)
            garbage = true;
        else
            damage = true, std::printf("not repaired: %s\n", p.line().c_str());
    }
    if (garbage) std::printf("kapsel system prune removes the rest\n");
    return damage ? 1 : 0;
}

static int prune_main(const Globals& g, const Args& args) {
    bool force = false;
    Flags f("system prune", "kapsel system prune [options]",
            "Remove what nothing references from the image store and print what was removed.\n"
            "Images are kept (kapsel rmi removes them); so are containers, except --rm ones\n"
            "whose monitor died.");
    f.flag({"force", "f"}, &force, "accepted for podman compatibility (kapsel never asks)");
    auto pos = f.parse(args);
    if (!pos) return usage_error("system", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (!pos->empty()) return usage_error("system", "prune takes no arguments");
    auto res = runtime::system_prune(g);
    if (!res) return fail(res.error());
    for (auto& l : res->removed) std::printf("%s\n", l.c_str());
    std::printf("Total reclaimed space: %s\n", image::human_bytes(res->bytes).c_str());
    return 0;
}

int system_main(const Globals& g, const Args& args) {
    if (args.empty()) return usage_error("system", "expects check or prune");
    const std::string& sub = args[0];
    Args rest(args.begin() + 1, args.end());
    if (sub == "check") return check_main(g, rest);
    if (sub == "prune") return prune_main(g, rest);
    if (sub == "--help" || sub == "-h" || sub == "help") return std::fputs(kSystemUsage, stdout), 0;
    return usage_error("system", "unknown subcommand \"" + sub + "\" (check or prune)");
}

}  // namespace kapsel::cli
