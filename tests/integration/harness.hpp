// Integration test harness: runs the real kapsel binary on real bundles built from
// the busybox fixture, each test with its own --root, and cleans up after itself.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kapsel::test {

using json = nlohmann::json;

struct Output {
    int code = -1;  // exit code, 128+N when killed by a signal
    std::string out, err;
};

// Runs a program; stdin from `input`; gives up (kills it) after timeout_ms.
Output run_program(const std::vector<std::string>& argv, const std::string& input = "",
                   int timeout_ms = 30000, const std::vector<int>& pass_fds = {},
                   const std::vector<std::string>& extra_env = {});

// In a forked child: execs argv[0] (a path) with argv; exits 127 if it cannot.
[[noreturn]] void exec_argv(const std::vector<std::string>& argv);

std::string kapsel_binary();
std::string fixture_rootfs();  // the shared, never written busybox rootfs
bool have_root();
// Whether this process may hold CAP_SYS_RESOURCE (it is in the bounding set).
bool prctl_capbset_read_resource();
// True while `pid` runs (a zombie or a missing pid is not running).
bool process_alive(int pid);

// A fresh temporary directory, removed (with anything mounted below it unmounted) at destruction.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

// A listening unix socket like the ones containerd, conmon and seccomp agents
// offer: receives one message with one fd (SCM_RIGHTS).
class FdListener {
public:
    FdListener();
    ~FdListener();
    const std::string& path() const { return path_; }
    // Accepts one connection; returns the fd it carried (-1 on timeout or none).
    int receive(std::string* message = nullptr, int timeout_ms = 10000);

private:
    TempDir dir_;
    std::string path_;
    int fd_ = -1;
};

// A bundle: config.json from `kapsel spec`, with the shared read-only fixture
// rootfs, no terminal, and `sh -c SCRIPT` as its process.
class Bundle {
  public:
    explicit Bundle(const std::string& script = "true");
    json config;
    std::string dir() const { return tmp_.path(); }
    // Gives the bundle its own writable copy of the rootfs.
    void own_rootfs();
    std::string rootfs() const;
    void write() const;
    void set_script(const std::string& script);
    // Removes a namespace from linux.namespaces.
    void drop_namespace(const std::string& type);
    void add_namespace(const std::string& type, const std::string& path = "");

  private:
    TempDir tmp_;
};

// Ends the procfs service of a state root, if one runs (KapselTest's TearDown does).
void stop_procfs_service(const std::string& state_root);

// A test fixture with its own state root and helpers to drive kapsel.
class KapselTest : public ::testing::Test {
  protected:
    void SetUp() override;
    void TearDown() override;

    Output kapsel(const std::vector<std::string>& args, const std::string& input = "",
                  int timeout_ms = 30000, const std::vector<int>& pass_fds = {},
                  const std::vector<std::string>& env = {});
    // kapsel run: writes the bundle, runs it attached, returns the output.
    Output run(Bundle& b, const std::string& id = "c1", const std::vector<std::string>& extra = {});
    json state(const std::string& id);
    std::string root() const { return root_.path(); }
    // The cgroup directories kapsel made for a container, from its state record.
    std::vector<std::string> cgroup_dirs(const std::string& id);
    // Leftovers a failed create must not leave: state dir, cgroup dirs named after id, mounts of
    // the bundle.
    void expect_nothing_left(const std::string& id, const Bundle& b);

    TempDir root_;
    std::string fixture_before_;
};

// A fixture for containers made from images: a store of its own (root()/store) with
// the busybox image loaded, and every container removed at the end.
class ImageStoreTest : public KapselTest {
  protected:
    static constexpr const char* kImage = "localhost/kapsel-busybox:latest";
    void SetUp() override;
    void TearDown() override;
    std::string store() const { return root() + "/store"; }
    // Loads the busybox image into the store at `at`.
    void load_image(const std::string& at);
    // kapsel --storage-root STORE args..., with a store other than the test's if given.
    Output k(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
             const std::string& at = "");
    // `kapsel run --rm [opts] IMAGE sh -c SCRIPT`'s output; a failed test if it failed.
    std::string sh(const std::string& script, const std::vector<std::string>& opts = {});
    // `ps -a --format json` of the test's store.
    json containers();
    // The State `ps` shows for the container named `name_or_id` (or whose id starts
    // with its first 12 characters); "(none)" when there is none.
    std::string status_of(const std::string& name_or_id);
    // Waits until that status begins with `status` (the monitor records exits
    // asynchronously).
    bool wait_for_status(const std::string& name_or_id, const std::string& status,
                         std::chrono::milliseconds limit = std::chrono::seconds(20));
};

#define REQUIRE_ROOT()                \
    if (!::kapsel::test::have_root()) \
    GTEST_SKIP() << "skipped: needs root (namespaces, mounts, cgroups)"

// A file in /proc that says whether the kernel has a feature; skip when missing.
#define REQUIRE_PATH(p, why) \
    if (access(p, F_OK) != 0) GTEST_SKIP() << "skipped: " << why << " (" << p << " is missing)"

}  // namespace kapsel::test
