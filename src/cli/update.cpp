// kapsel update [options] ID
#include <unistd.h>

#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "runtime/containers.hpp"
#include "runtime/manage.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kapsel::cli {

int update_main(const Globals& g, const Args& args) {
    std::string resources_file, memory, swap, reservation, kmem, kmem_tcp, shares, quota, period,
        rt_runtime, rt_period, cpus, mems, pids, blkio_weight, l3, membw;
    Flags f("update", "kapsel update [options] <container-id>",
            "Change the resource limits of a container that has not stopped. Sizes take k, m, g\n"
            "suffixes; -1 means unlimited.");
    f.option({"resources", "r"}, &resources_file,
             "a JSON file with linux.resources fields (\"-\": stdin)", "file");
    f.option({"memory"}, &memory, "memory limit", "bytes");
    f.option({"memory-swap"}, &swap, "memory plus swap limit", "bytes");
    f.option({"memory-reservation"}, &reservation, "memory soft limit", "bytes");
    f.option({"kernel-memory"}, &kmem, "deprecated; ignored by current kernels", "bytes");
    f.option({"kernel-memory-tcp"}, &kmem_tcp, "kernel TCP buffer limit (cgroup v1)", "bytes");
    f.option({"cpu-shares", "cpu-share"}, &shares, "CPU shares (relative weight; --cpu-share is runc's spelling)", "n");
    f.option({"cpu-quota"}, &quota, "CPU time per period, in microseconds (-1: none)", "us");
    f.option({"cpu-period"}, &period, "CFS period, in microseconds", "us");
    f.option({"cpu-rt-runtime"}, &rt_runtime, "real-time runtime per period, in microseconds",
             "us");
    f.option({"cpu-rt-period"}, &rt_period, "real-time period, in microseconds", "us");
    f.option({"cpuset-cpus"}, &cpus, "CPUs to run on (0-3, 0,1)", "list");
    f.option({"cpuset-mems"}, &mems, "memory nodes to use", "list");
    f.option({"pids-limit"}, &pids, "maximum number of processes (0 or -1: none)", "n");
    f.option({"blkio-weight"}, &blkio_weight, "block I/O weight (10-1000)", "n");
    f.option({"l3-cache-schema"}, &l3, "Intel RDT (not supported)", "schema");
    f.option({"mem-bw-schema"}, &membw, "Intel RDT (not supported)", "schema");
    auto pos = f.parse(args);
    if (!pos) return usage_error("update", pos.error().message);
    if (f.help_requested()) return std::fputs(f.usage().c_str(), stdout), 0;
    if (pos->size() != 1) return usage_error("update", "expects exactly one container id");
    if (!l3.empty() || !membw.empty())
        return fail(make_error("update: Intel RDT is not supported by kapsel"));

    nlohmann::json r = nlohmann::json::object();
    if (!resources_file.empty()) {
        auto text =
            resources_file == "-" ? fs::read_file("/dev/stdin") : fs::read_file(resources_file);
        if (!text) return fail(text.error());
        r = nlohmann::json::parse(*text, nullptr, false);
        if (r.is_discarded() || !r.is_object())
            return fail(make_error("update: " + resources_file +
                                   " is not a JSON object of linux.resources fields"));
    }
    auto bytes = [&](const std::string& text, const char* section, const char* key) -> Status {
        if (text.empty()) return {};
        auto v = runtime::parse_bytes(text);
        if (!v) return std::move(v).error().context(std::string("--") + key);
        r[section][key == std::string("memory") ? "limit" : key] = *v;
        return {};
    };
    auto number = [&](const std::string& text, const char* flag, const char* section,
                      const char* key) -> Status {
        if (text.empty()) return {};
        auto v = parse_int(text);
        if (!v) return make_error(std::string("--") + flag + ": \"" + text + "\" is not a number");
        r[section][key] = *v;
        return {};
    };
    Status st;
    if (st) st = bytes(memory, "memory", "memory");
    if (st && !swap.empty()) {
        auto v = runtime::parse_bytes(swap);
        if (!v)
            st = std::move(v).error().context("--memory-swap");
        else
            r["memory"]["swap"] = *v;
    }
    if (st && !reservation.empty()) {
        auto v = runtime::parse_bytes(reservation);
        if (!v)
            st = std::move(v).error().context("--memory-reservation");
        else
            r["memory"]["reservation"] = *v;
    }
    if (st && !kmem.empty()) {
        auto v = runtime::parse_bytes(kmem);
        if (!v)
            st = std::move(v).error().context("--kernel-memory");
        else
            r["memory"]["kernel"] = *v;
    }
    if (st && !kmem_tcp.empty()) {
        auto v = runtime::parse_bytes(kmem_tcp);
        if (!v)
            st = std::move(v).error().context("--kernel-memory-tcp");
        else
            r["memory"]["kernelTCP"] = *v;
    }
    if (st) st = number(shares, "cpu-shares", "cpu", "shares");
    if (st) st = number(quota, "cpu-quota", "cpu", "quota");
    if (st) st = number(period, "cpu-period", "cpu", "period");
    if (st) st = number(rt_runtime, "cpu-rt-runtime", "cpu", "realtimeRuntime");
    if (st) st = number(rt_period, "cpu-rt-period", "cpu", "realtimePeriod");
    if (st && !cpus.empty()) r["cpu"]["cpus"] = cpus;
    if (st && !mems.empty()) r["cpu"]["mems"] = mems;
    if (st) st = number(pids, "pids-limit", "pids", "limit");
    if (st) st = number(blkio_weight, "blkio-weight", "blockIO", "weight");
    if (!st) return usage_error("update", st.error().message);
    if (r.empty())
        return usage_error("update", "nothing to update: give --resources or a limit flag");
    auto id = runtime::runtime_id(g, (*pos)[0]);
    if (!id) return fail(id.error());
    auto done = runtime::update(g, *id, r);
    return done ? 0 : fail(done.error());
}

}  // namespace kapsel::cli
