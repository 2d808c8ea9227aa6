// Runs programs as an ordinary user that exists only for the test: a forked child
// unshares a mount namespace, binds test-owned copies of /etc/passwd, /etc/group,
// /etc/subuid and /etc/subgid (with the user and its subordinate ranges) over the
// host's, and becomes the user (setpriv) with a private HOME and XDG_RUNTIME_DIR.
// The setuid newuidmap/newgidmap that kapsel runs see the bound files. The host's
// files and users are never changed.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "harness.hpp"

namespace kapsel::test {

class AsUser {
  public:
    static constexpr uid_t kUid = 41000;
    static constexpr gid_t kGid = 41000;
    static constexpr const char* kName = "kapseltest";
    // /etc/subuid and /etc/subgid give the user kSubStart..kSubStart+kSubCount-1.
    static constexpr uint32_t kSubStart = 200000, kSubCount = 65536;

    // `subordinate_ids` false: /etc/subuid and /etc/subgid give the user no range.
    explicit AsUser(bool subordinate_ids = true);
    // Kills whatever still runs as the user or one of its subordinate ids (podman's
    // pause process, a container a failed test left), so no process outlives the test.
    ~AsUser();
    AsUser(const AsUser&) = delete;
    // The user's directory (0700, the user's), with home/ and run/ (XDG_RUNTIME_DIR).
    const std::string& base() const { return base_.path(); }
    std::string home() const { return base() + "/home"; }
    std::string runtime_dir() const { return base() + "/run"; }
    // A new directory below base(), the user's.
    std::string make_dir(const std::string& name, int mode = 0700) const;

    // Runs argv (argv[0] a path) as the user, with HOME, XDG_RUNTIME_DIR, USER, PATH
    // and `env` only. A non-empty `cgroup` is a cgroup v2 directory the program starts
    // in (joined as root, before the switch): a delegated subtree's.
    Output run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
               const std::string& input = "", int timeout_ms = 30000) const;
    // kapsel ARGS as the user.
    Output kapsel(const std::vector<std::string>& args,
                  const std::vector<std::string>& env = {}) const;

    std::string cgroup;  // see run()

  private:
    TempDir base_;
    bool whole_etc_ = false;  // bind a copy of all of /etc (a file to bind over is missing)
};

// A bundle the user owns: a copy of the busybox fixture (the user's files, so root
// inside a single-id map) and the config of `kapsel spec --rootless` run as the user,
// with no terminal and `sh -c SCRIPT` as its process.
class UserBundle {
  public:
    UserBundle(const AsUser& user, const std::string& script);
    json config;
    const std::string& dir() const { return dir_; }
    void set_script(const std::string& script);
    void write() const;
    // Binds `host` (a directory) at `inside`, read-write.
    void bind(const std::string& host, const std::string& inside);
    // Maps the user's own id to 0 and 1..65535 to its subordinate ids kSubStart+1..,
    // so that id N inside is kSubStart+N outside.
    void map_subordinate_ids();
    void drop_namespace(const std::string& type);

  private:
    std::string dir_;
};

}  // namespace kapsel::test
