// A cgroup of a test's own in the memory and cpu hierarchies (v1 on a hybrid host, the
// unified one on pure v2) with 256 MiB and a quota of one CPU, removed at the end: what
// the procfs tests put their readers into.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "cgroups/layout.hpp"

namespace kapsel::test {

class LimitedCgroups {
  public:
    explicit LimitedCgroups(const std::string& prefix = "kapsel-test-procfs-") {
        auto layout = cgroups::detect();
        if (!layout) {
            error_ = layout.error().message;
            return;
        }
        std::string name = prefix + std::to_string(getpid());
        const cgroups::Hierarchy* mem = layout->find("memory");
        const cgroups::Hierarchy* cpu = layout->find("cpu");
        if (!mem || !cpu) {
            error_ = "no memory or cpu controller";
            return;
        }
        for (auto* h : {mem, cpu}) {
            std::string dir = h->mount_point + "/" + name;
            if (std::find(dirs_.begin(), dirs_.end(), dir) != dirs_.end()) continue;
            // On v2 the controllers must be enabled for the root's children; one at a time,
            // as a hybrid host may have only one of them on its cgroup2 mount.
            if (h->v2)
                for (auto* c : {"+memory", "+cpu"}) write(h->mount_point + "/cgroup.subtree_control", c);
            if (mkdir(dir.c_str(), 0755) != 0) {
                error_ = "mkdir " + dir + ": " + strerror(errno);
                return;
            }
            dirs_.push_back(dir);
        }
        std::string m = mem->mount_point + "/" + name, c = cpu->mount_point + "/" + name;
        memory_limit_file_ = m + (mem->v2 ? "/memory.max" : "/memory.limit_in_bytes");
        bool ok = write(memory_limit_file_, "268435456");
        ok = ok && (cpu->v2 ? write(c + "/cpu.max", "100000 100000")
                            : write(c + "/cpu.cfs_period_us", "100000") &&
                                  write(c + "/cpu.cfs_quota_us", "100000"));
        if (!ok) error_ = "cannot set the limits in " + m + " and " + c;
    }
    ~LimitedCgroups() {
        // The processes that were in them have exited; a v1 cgroup may still be busy for
        // a moment while the kernel finishes with them.
        for (auto& d : dirs_)
            for (int i = 0; i < 50 && rmdir(d.c_str()) != 0 && errno == EBUSY; ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    LimitedCgroups(const LimitedCgroups&) = delete;
    LimitedCgroups& operator=(const LimitedCgroups&) = delete;

    const std::string& error() const { return error_; }
    // A shell command that moves the shell into the cgroups.
    std::string enter_command() const {
        std::string s;
        for (auto& d : dirs_) s += "echo $$ > " + d + "/cgroup.procs && ";
        return s;
    }
    // Moves the calling process in (a child, before it does anything else).
    bool enter() const {
        for (auto& d : dirs_)
            if (!write(d + "/cgroup.procs", "0")) return false;
        return true;
    }
    // The file that holds the memory limit (kapsel update writes it so).
    const std::string& memory_limit_file() const { return memory_limit_file_; }

  private:
    static bool write(const std::string& path, const std::string& text) {
        std::ofstream f(path);
        f << text;
        f.flush();
        return bool(f);
    }
    std::vector<std::string> dirs_;
    std::string memory_limit_file_;
    std::string error_;
};

}  // namespace kapsel::test
