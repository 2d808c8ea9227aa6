// `kapsel run IMAGE` and the commands around it, as a podman user types them: every
// run option reaches the container, detached containers have logs, stop and rm, names
// are unique, and runc's verbs (exec, kill, pause, state) take the names too.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace kapsel::test {
namespace {

namespace fsys = std::filesystem;
using namespace std::chrono_literals;

class RunImage : public ImageStoreTest {
  protected:
    static std::vector<std::string> lines(const std::string& s) {
        std::vector<std::string> out;
        std::string line;
        for (char c : s) {
            if (c != '\n')
                line += c;
            else if (!line.empty())
                out.push_back(std::move(line)), line.clear();
        }
        if (!line.empty()) out.push_back(line);
        return out;
    }
    // Nothing of a removed container is left: no record, no state, no mount.
    void expect_no_container_left() {
        EXPECT_TRUE(containers().empty()) << containers().dump();
        for (auto& e : fsys::directory_iterator(store() + "/containers"))
            ADD_FAILURE() << "left: " << e.path();
        std::ifstream mounts("/proc/self/mountinfo");
        for (std::string line; std::getline(mounts, line);)
            EXPECT_EQ(std::string::npos, line.find(store())) << "mount left: " << line;
    }
};

TEST_F(RunImage, TheContainersExitCodeIsKapsels) {
    EXPECT_EQ(7, k({"run", "--rm", kImage, "sh", "-c", "exit 7"}).code);
    EXPECT_EQ("hello\n", k({"run", "--rm", kImage, "echo", "hello"}).out);
    expect_no_container_left();
}

TEST_F(RunImage, TheImagesConfigIsTheContainersDefault) {
    // The busybox layer under a config with every default a podman user relies on.
    std::string oci = std::string(KAPSEL_TEST_IMAGES) + "/oci";
    json index = json::parse(std::ifstream(oci + "/index.json"));
    std::string manifest_digest = index["manifests"][0]["digest"];
    json manifest = json::parse(std::ifstream(oci + "/blobs/sha256/" + manifest_digest.substr(7)));
    std::string layer =
        oci + "/blobs/sha256/" + manifest["layers"][0]["digest"].get<std::string>().substr(7);
    json config = {{"Entrypoint", {"/bin/sh", "-c"}},
                   {"Cmd", {"echo $GREETING from $(pwd) as $(id -un)"}},
                   {"Env", {"PATH=/bin", "GREETING=hi"}},
                   {"WorkingDir", "/srv/app"},
                   {"User", "nobody"},
                   {"ExposedPorts", {{"8080/tcp", json::object()}}}};
    std::string dir = root() + "/configured";
    Output made = run_program({"/usr/bin/python3", std::string(KAPSEL_TEST_TOOLS) + "/mkimage.py",
                               dir, "localhost/configured:1", "--config", config.dump(), layer});
    ASSERT_EQ(0, made.code) << made.err;
    ASSERT_EQ(0, k({"pull", "-q", "oci:" + dir + ":localhost/configured:1"}).code);
    Output o = k({"run", "--name", "configured", "localhost/configured:1"});
    EXPECT_EQ("hi from /srv/app as nobody\n", o.out) << o.err;
    // Arguments replace Cmd and keep the Entrypoint, as with podman.
    EXPECT_EQ("args\n", k({"run", "--rm", "localhost/configured:1", "echo args"}).out);
    json inspected = json::parse(k({"inspect", "configured"}).out);
    EXPECT_EQ("8080/tcp", inspected[0]["Config"]["annotations"]["io.kapsel.exposed-ports"])
        << inspected.dump();
}

TEST_F(RunImage, EnvironmentComesFromOptionsFilesAndKapselsOwn) {
    std::string env_file = root() + "/env";
    std::ofstream(env_file) << "# a comment\nFROM_FILE=yes\n\nSHARED=file\n";
    std::string out =
        sh("echo $A/$FROM_FILE/$SHARED/$PASSED",
           {"-e", "A=1", "--env-file", env_file, "-e", "SHARED=option", "-e", "PASSED"});
    // -e KEY takes the value from kapsel's environment, as with podman.
    Output o = k({"run", "--rm", "-e", "A=1", "--env-file", env_file, "-e", "SHARED=option", "-e",
                  "PASSED", kImage, "sh", "-c", "echo $A/$FROM_FILE/$SHARED/$PASSED"},
                 {"PASSED=through"});
    EXPECT_EQ("1/yes/option/through\n", o.out) << o.err;
    EXPECT_EQ("1/yes/option/\n", out);
    Output missing = k({"run", "--rm", "--env-file", root() + "/no-such-file", kImage, "true"});
    EXPECT_NE(0, missing.code);
    EXPECT_NE(std::string::npos, missing.err.find("no-such-file")) << missing.err;
}

TEST_F(RunImage, WorkdirUserHostnameAndEntrypoint) {
    EXPECT_EQ("/tmp 65534 box\n", sh("echo $(pwd) $(id -u) $(hostname)",
                                     {"-w", "/tmp", "-u", "nobody", "--hostname", "box"}));
    EXPECT_EQ("42:43\n", sh("echo $(id -u):$(id -g)", {"-u", "42:43"}));
    EXPECT_EQ("from entrypoint\n",
              k({"run", "--rm", "--entrypoint", "/bin/echo", kImage, "from", "entrypoint"}).out);
    Output bad = k({"run", "--rm", "-u", "nosuchuser", kImage, "true"});
    EXPECT_NE(0, bad.code);
    EXPECT_NE(std::string::npos, bad.err.find("nosuchuser")) << bad.err;
    expect_no_container_left();
}

TEST_F(RunImage, ReadOnlyRootKeepsScratchDirectoriesWritable) {
    EXPECT_EQ("refused\ntmp\nvar-tmp\n",
              sh("touch /x 2>/dev/null && echo written || echo refused; touch /tmp/a && echo tmp; "
                 "touch /var/tmp/b && echo var-tmp",
                 {"--read-only"}));
    EXPECT_EQ("written\n", sh("touch /x && echo written"));
}

TEST_F(RunImage, VolumesBindHostDirectoriesAndRoIsReadOnly) {
    std::string host = root() + "/data";
    fsys::create_directory(host);
    std::ofstream(host + "/from-host") << "host file\n";
    EXPECT_EQ("host file\n", sh("cat /data/from-host; echo container > /data/from-container",
                                {"-v", host + ":/data"}));
    std::ifstream written(host + "/from-container");
    std::string line;
    std::getline(written, line);
    EXPECT_EQ("container", line);
    EXPECT_EQ("refused\n", sh("touch /data/x 2>/dev/null && echo written || echo refused",
                              {"-v", host + ":/data:ro"}));
    EXPECT_FALSE(fsys::exists(host + "/x"));
    Output bad = k({"run", "--rm", "-v", host, kImage, "true"});
    EXPECT_EQ(1, bad.code);
    EXPECT_NE(std::string::npos, bad.err.find("HOST:CONTAINER")) << bad.err;
    Output missing = k({"run", "--rm", "-v", root() + "/nothing-here:/data", kImage, "true"});
    EXPECT_NE(0, missing.code);
    EXPECT_NE(std::string::npos, missing.err.find("nothing-here")) << missing.err;
    expect_no_container_left();
}

TEST_F(RunImage, NetworkIsPrivateWithLoopbackUnlessHostOrABridge) {
    // Bit 0 of flags is IFF_UP: loopback is up, and it is the only interface.
    EXPECT_EQ("lo 0x9\n", sh("echo $(ls /sys/class/net) $(cat /sys/class/net/lo/flags)", {"--network", "private"}));
    EXPECT_EQ("lo\n", sh("ls /sys/class/net", {"--network", "none"}));
    size_t host_interfaces = 0;
    for ([[maybe_unused]] auto& e : fsys::directory_iterator("/sys/class/net")) ++host_interfaces;
    EXPECT_EQ(std::to_string(host_interfaces) + "\n",
              sh("ls /sys/class/net | wc -l", {"--network", "host"}));
    // The default: a bridge network (issue 15, tests in network_test.cpp) where netavark is
    // installed, else private with a warning.
    bool netavark = access("/usr/lib/podman/netavark", X_OK) == 0;
    EXPECT_EQ(netavark ? "eth0 lo\n" : "lo\n", sh("echo $(ls /sys/class/net)"));
    Output bad = k({"run", "--rm", "--network", "nosuchmode:x", kImage, "true"});
    EXPECT_NE(0, bad.code);
    EXPECT_NE(std::string::npos, bad.err.find("nosuchmode:x")) << bad.err;
    expect_no_container_left();
}

TEST_F(RunImage, CapabilitiesAndNoNewPrivileges) {
    // podman's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
    // NET_BIND_SERVICE SYS_CHROOT SETFCAP.
    EXPECT_EQ("00000000800405fb 0\n", sh("echo $(grep CapEff /proc/self/status | cut -f2) "
                                         "$(grep NoNewPrivs /proc/self/status | cut -f2)"));
    EXPECT_EQ("0000000000000000\n",
              sh("grep CapEff /proc/self/status | cut -f2", {"--cap-drop", "ALL"}));
    EXPECT_EQ("00000000800415fb\n",
              sh("grep CapEff /proc/self/status | cut -f2", {"--cap-add", "NET_ADMIN"}));
    EXPECT_EQ("1\n", sh("grep NoNewPrivs /proc/self/status | cut -f2",
                        {"--security-opt", "no-new-privileges"}));
    Output bad = k({"run", "--rm", "--security-opt", "label=disable", kImage, "true"});
    EXPECT_EQ(1, bad.code);
    EXPECT_NE(std::string::npos, bad.err.find("label=disable")) << bad.err;
}

TEST_F(RunImage, LimitsHoldInTheContainersCgroup) {
    // The container sees its own cgroup as the root (a cgroup namespace): v1 here, v2 elsewhere.
    std::string v1 =
        sh("cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
           "/sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || "
           "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max",
           {"--memory", "64m", "--pids-limit", "20", "--cpus", "0.5"});
    EXPECT_TRUE(v1 == "67108864\n20\n50000\n" || v1 == "67108864\n20\n50000 100000\n") << v1;
    // The pids limit holds: of 30 background sleeps, 18 start (20 less the two shells);
    // without the limit all 30 do.
    const std::string forks =
        "sh -c 'for i in $(seq 30); do sleep 5 & echo started >> /tmp/n; done' 2>/dev/null; "
        "kill -9 -1; wait; wc -l < /tmp/n";
    EXPECT_EQ("18\n", sh(forks, {"--pids-limit", "20"}));
    EXPECT_EQ("30\n", sh(forks));
    Output bad = k({"run", "--rm", "--memory", "lots", kImage, "true"});
    EXPECT_EQ(1, bad.code);
    EXPECT_NE(std::string::npos, bad.err.find("--memory")) << bad.err;
}

TEST_F(RunImage, DetachedContainerHasLogsStopAndRm) {
    // A container that ignores SIGTERM: stop waits its timeout, then kills.
    Output run = k({"run", "-d", "--name", "ticker", kImage, "sh", "-c",
                    "trap '' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"});
    ASSERT_EQ(0, run.code) << run.err;
    std::string id = lines(run.out).at(0);
    EXPECT_EQ(64u, id.size()) << "prints the full id";
    EXPECT_EQ("running", status_of("ticker"));
    std::this_thread::sleep_for(400ms);
    std::string logs = k({"logs", "ticker"}).out;
    EXPECT_EQ(0u, logs.rfind("tick 0\ntick 1\n", 0)) << logs;
    EXPECT_EQ(std::vector<std::string>{id.substr(0, 12)}, lines(k({"ps", "-q"}).out));
    auto t0 = std::chrono::steady_clock::now();
    Output stop = k({"stop", "-t", "1", "ticker"});
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(0, stop.code) << stop.err;
    EXPECT_GE(took, 900ms) << "stop waited for the timeout";
    EXPECT_LT(took, 10s);
    EXPECT_TRUE(wait_for_status("ticker", "exited")) << status_of("ticker");
    EXPECT_EQ(137, containers()[0]["ExitCode"]) << containers().dump();
    EXPECT_TRUE(k({"ps", "-q"}).out.empty()) << "ps without -a lists running containers only";
    EXPECT_EQ(0, k({"rm", "ticker"}).code);
    expect_no_container_left();
}

TEST_F(RunImage, LogsFollowUntilTheContainerExits) {
    ASSERT_EQ(
        0, k({"run", "-d", "--name", "short", kImage, "sh", "-c", "echo one; sleep 0.5; echo two"})
               .code);
    Output follow = k({"logs", "-f", "short"});
    EXPECT_EQ(0, follow.code) << follow.err;
    EXPECT_EQ("one\ntwo\n", follow.out);
    EXPECT_TRUE(wait_for_status("short", "exited"));
    EXPECT_EQ(0, containers()[0]["ExitCode"]);
}

TEST_F(RunImage, CheckpointAndRestoreByName) {
    const char* criu = "/opt/kapsel-criu/bin/criu";
    if (access(criu, X_OK) != 0) GTEST_SKIP() << "skipped: CRIU is missing (scripts/install-criu)";
    if (run_program({criu, "check"}).code != 0) GTEST_SKIP() << "skipped: `criu check` fails here";
    // --rm too: a checkpoint's end of the container is not its exit.
    ASSERT_EQ(0, k({"run", "-d", "--rm", "--name", "counter", kImage, "sh", "-c",
                    "i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done"})
                     .code);
    auto last = [&] {
        auto l = lines(k({"logs", "counter"}).out);
        return l.empty() ? 0 : std::stoi(l.back());
    };
    for (int i = 0; i < 200 && last() < 5; ++i) std::this_thread::sleep_for(20ms);
    std::string images = root() + "/ck";
    Output ck = k({"checkpoint", "--image-path", images, "counter"});
    ASSERT_EQ(0, ck.code) << ck.err;
    EXPECT_TRUE(wait_for_status("counter", "checkpointed")) << status_of("counter");
    int at_dump = last();
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(at_dump, last()) << "nothing runs after the checkpoint";

    Output rs = k({"restore", "counter"});
    ASSERT_EQ(0, rs.code) << rs.err;
    EXPECT_EQ("running", status_of("counter"));
    for (int i = 0; i < 200 && last() < at_dump + 3; ++i) std::this_thread::sleep_for(20ms);
    auto l = lines(k({"logs", "counter"}).out);
    ASSERT_GT(l.size(), static_cast<size_t>(at_dump));
    EXPECT_EQ(std::to_string(at_dump + 1), l[at_dump]) << "the log goes on where it was";
    EXPECT_EQ(0, k({"exec", "counter", "true"}).code) << "a whole container again";
    Output again = k({"restore", "counter"});
    EXPECT_NE(0, again.code) << "a running container has no checkpoint to restore";
    // Its end now is an exit, and --rm removes it.
    EXPECT_EQ(0, k({"stop", "-t", "1", "counter"}).code);
    for (int i = 0; i < 250 && !containers().empty(); ++i) std::this_thread::sleep_for(20ms);
    expect_no_container_left();
}

TEST_F(RunImage, NamesAreUniqueAndRmNeedsForceWhileRunning) {
    ASSERT_EQ(0, k({"run", "-d", "--name", "one", kImage, "sleep", "100"}).code);
    Output again = k({"run", "-d", "--name", "one", kImage, "true"});
    EXPECT_NE(0, again.code);
    EXPECT_NE(std::string::npos, again.err.find("\"one\" is in use")) << again.err;
    EXPECT_EQ(1u, containers().size()) << "the refused run left nothing";
    Output rm = k({"rm", "one"});
    EXPECT_NE(0, rm.code);
    EXPECT_NE(std::string::npos, rm.err.find("running")) << rm.err;
    EXPECT_EQ("running", status_of("one"));
    EXPECT_EQ(0, k({"rm", "-f", "one"}).code);
    expect_no_container_left();
}

TEST_F(RunImage, RuncVerbsTakeTheContainersName) {
    ASSERT_EQ(0, k({"run", "-d", "--name", "svc", kImage, "sleep", "100"}).code);
    Output exec = k({"exec", "-i", "svc", "sh", "-c", "echo in $(hostname); exit 3"});
    EXPECT_EQ(3, exec.code) << exec.err;
    EXPECT_EQ(0u, exec.out.rfind("in ", 0)) << exec.out;
    ASSERT_EQ(0, k({"pause", "svc"}).code);
    EXPECT_EQ("paused", json::parse(k({"state", "svc"}).out)["status"]);
    Output paused_exec = k({"exec", "svc", "true"});
    EXPECT_NE(0, paused_exec.code);
    EXPECT_NE(std::string::npos, paused_exec.err.find("paused")) << paused_exec.err;
    ASSERT_EQ(0, k({"resume", "svc"}).code);
    ASSERT_EQ(0, k({"kill", "svc", "KILL"}).code);
    EXPECT_TRUE(wait_for_status("svc", "exited"));
    EXPECT_EQ(0, k({"rm", "svc"}).code);
    Output gone = k({"exec", "svc", "true"});
    EXPECT_NE(0, gone.code);
    EXPECT_NE(std::string::npos, gone.err.find("\"svc\" does not exist")) << gone.err;
}

TEST_F(RunImage, DetachedRmCleansUpWhenTheContainerExits) {
    ASSERT_EQ(0, k({"run", "-d", "--rm", kImage, "sh", "-c", "sleep 0.2"}).code);
    for (int i = 0; i < 100 && !containers().empty(); ++i) std::this_thread::sleep_for(50ms);
    expect_no_container_left();
}

TEST_F(RunImage, DetachedWithATerminalLogsWhatTheTerminalShows) {
    Output run = k({"run", "-dt", "--name", "tty", kImage, "sh", "-c",
                    "test -t 1 && echo on-a-tty; echo bye"});
    ASSERT_EQ(0, run.code) << run.err;
    EXPECT_TRUE(wait_for_status("tty", "exited"));
    std::string logs = k({"logs", "tty"}).out;
    EXPECT_NE(std::string::npos, logs.find("on-a-tty")) << logs;
    EXPECT_NE(std::string::npos, logs.find("bye")) << logs;
}

TEST_F(RunImage, InteractiveWithATerminalThroughAPty) {
    if (access("/usr/bin/script", X_OK) != 0)
        GTEST_SKIP() << "skipped: script(1) from util-linux is missing";
    std::string cmd = kapsel_binary() + " --root " + root() + "/state --storage-root " + store() +
                      " run --rm -it " + kImage +
                      " sh -c 'test -t 0 && echo stdin-is-a-tty; read line; echo got:$line'";
    Output o = run_program({"/usr/bin/script", "-qec", cmd, "/dev/null"}, "hello\n");
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_NE(std::string::npos, o.out.find("stdin-is-a-tty")) << o.out;
    EXPECT_NE(std::string::npos, o.out.find("got:hello")) << o.out;
}

TEST_F(RunImage, InteractiveWithoutATerminalPassesStdin) {
    Output o = kapsel(
        {"--storage-root", store(), "run", "--rm", "-i", kImage, "sh", "-c", "read a; echo got:$a"},
        "piped\n");
    EXPECT_EQ("got:piped\n", o.out) << o.err;
}

// Issue 12, break 3: a running container swaps one of its directories for a symlink
// to a host directory while commit (or diff) reads its changes from the host. Read
// by path, the walk followed the symlink and put a root-only host file into the
// image. Read through fds below the upper dir, a swap is at worst an error.
TEST_F(RunImage, CommitAndDiffNeverReadTheHostThroughASymlinkTheContainerSwapsIn) {
    std::string host_dir = root() + "/host-only";
    fsys::create_directory(host_dir);
    // Content that appears nowhere else: not in the image, not in any path.
    std::ofstream(host_dir + "/key") << "HOST" << "-ONLY-" << getpid() << "\n";
    fsys::permissions(host_dir + "/key", fsys::perms::owner_read);
    // /a/d is a directory of the container's and /a/l a symlink to the host directory;
    // the two names swap places as fast as the kernel allows. The container's key has
    // the host key's size, so that a read through the symlink is not cut short.
    std::string tool = KAPSEL_TEST_RENAME_EXCHANGER;
    ASSERT_EQ(0, k({"run", "-d", "--name", "racer", "-v",
                    fsys::path(tool).parent_path().string() + ":/tools:ro", kImage, "sh", "-c",
                    "mkdir -p /a/d; echo MINE-ONLY-" + std::to_string(getpid()) +
                        " > /a/d/key; ln -s " + host_dir +
                        " /a/l; exec /tools/" + fsys::path(tool).filename().string() +
                        " /a/d /a/l"})
                     .code);
    int committed = 0;
    for (int i = 0; i < 60; ++i) {
        Output c = k({"commit", "--pause=false", "racer", "localhost/race:" + std::to_string(i)});
        if (c.code == 0) {
            ++committed;
        } else {
            // Caught mid-swap: refused, in one line naming what changed.
            EXPECT_NE(std::string::npos, c.err.find("changed while it was read")) << c.err;
        }
        k({"diff", "racer"});
    }
    // Paused (the default), the container cannot swap anything while it is read.
    Output paused = k({"commit", "racer", "localhost/race:paused"});
    EXPECT_EQ(0, paused.code) << paused.err;
    EXPECT_EQ("running", status_of("racer")) << "thawed after the commit";
    Output found = run_program({"/bin/grep", "-rl", "--binary-files=text",
                                "HOST-ONLY-" + std::to_string(getpid()), store()});
    EXPECT_EQ("", found.out) << "the host file's content reached the store (" << committed
                             << " commits succeeded)";
    k({"rm", "-f", "racer"});
}

// Issue 12: commit writes the container's xattrs into the layer (a `setcap` or a
// user.* note survives, as with podman) but never overlayfs's own: the opaque marker of
// a directory the container replaced becomes a ".wh..wh..opq" entry, and an object
// overlayfs keeps by reference (a redirect) is refused instead of committed empty.
TEST_F(RunImage, CommitKeepsXattrsButNeverOverlaysOwn) {
    // /home, not /etc: kapsel binds /etc/hosts and /etc/hostname, which rm -rf cannot remove.
    ASSERT_EQ(0, k({"run", "-d", "--name", "x", "--network", "none", kImage, "sh", "-c",
                    "mkdir -p /data/d; echo hi > /data/d/f; rm -rf /home; mkdir /home;"
                    " echo new > /home/only; sleep 1000"})
                     .code);
    std::string id = json::parse(k({"inspect", "x"}).out)[0]["Id"];
    std::string upper = store() + "/containers/" + id + "/upper";
    for (int i = 0; i < 100 && !fsys::exists(upper + "/home/only"); ++i)
        std::this_thread::sleep_for(50ms);
    // What a `setfattr` or `setcap` in the container leaves in its upper dir.
    ASSERT_EQ(0, ::setxattr((upper + "/data/d/f").c_str(), "user.note", "kept", 4, 0));
    ASSERT_EQ(0, ::setxattr((upper + "/data/d").c_str(), "trusted.label", "dir", 3, 0));
    Output c = k({"commit", "x", "localhost/xa:1"});
    ASSERT_EQ(0, c.code) << c.err;

    json img = json::parse(k({"inspect", "localhost/xa:1"}).out)[0];
    std::string layer = store() + "/layers/" + std::string(img["Layers"].back()).substr(7);
    char v[16] = {};
    ASSERT_EQ(4, ::getxattr((layer + "/data/d/f").c_str(), "user.note", v, sizeof v));
    EXPECT_EQ("kept", std::string(v, 4));
    ASSERT_EQ(3, ::getxattr((layer + "/data/d").c_str(), "trusted.label", v, sizeof v));
    // The replaced /home hides the image's /home in the committed image too.
    Output listed = k({"run", "--rm", "--network", "none", "localhost/xa:1", "ls", "/home"});
    EXPECT_EQ("only\n", listed.out) << listed.err;

    // A directory overlayfs would find elsewhere (redirect_dir=on): its children are not
    // in the upper dir, so writing it as it is would lose them.
    ASSERT_EQ(0, ::setxattr((upper + "/data/d").c_str(), "trusted.overlay.redirect", "/x", 2, 0));
    Output refused = k({"commit", "x", "localhost/xa:2"});
    EXPECT_NE(0, refused.code);
    EXPECT_NE(std::string::npos, refused.err.find("trusted.overlay.redirect")) << refused.err;
    EXPECT_NE(0, k({"inspect", "localhost/xa:2"}).code) << "no image for the refused commit";
    k({"rm", "-f", "x"});
}

// Issue 12: kill -9 of an attached `run --rm` in its first milliseconds left a
// created container (or a cgroup without a record) that system prune kept forever.
TEST_F(RunImage, PruneRemovesWhatARunKilledEarlyLeft) {
    std::vector<std::string> dirs_before;
    for (int i = 0; i < 16; ++i) {
        pid_t pid = fork();
        if (pid == 0)
            exec_argv({kapsel_binary(), "--root", root() + "/state", "--storage-root", store(),
                       "run", "--rm", kImage, "sleep", "10"});
        // Spread over create's milliseconds: before, during and after the record.
        std::this_thread::sleep_for(std::chrono::microseconds(2000 + i * 1500));
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
    }
    std::vector<std::string> ids;
    for (auto& e : fsys::directory_iterator(store() + "/containers"))
        ids.push_back(e.path().filename());
    Output prune = k({"system", "prune"});
    EXPECT_EQ(0, prune.code) << prune.err;
    // What prune keeps runs: a run killed after start leaves its program running, as
    // a podman run killed after start does; rm -f removes those.
    for (auto& c : containers()) {
        EXPECT_EQ("running", c["State"]) << c.dump();
        k({"rm", "-f", c["Id"]});
    }
    expect_no_container_left();
    for (auto& id : ids) {
        Output cg = run_program(
            {"/usr/bin/find", "/sys/fs/cgroup", "-maxdepth", "4", "-type", "d", "-name", id});
        EXPECT_EQ("", cg.out) << "cgroup left for " << id;
        EXPECT_FALSE(fsys::exists(root() + "/state/" + id)) << "state left for " << id;
    }
}

// A damaged store record is an error naming the file, never an uncaught exception.
TEST_F(RunImage, ADamagedImageListIsAnErrorNotACrash) {
    std::string list = store() + "/images.json";
    std::string good;
    {
        std::ifstream in(list);
        std::stringstream text;
        text << in.rdbuf();
        good = text.str();
    }
    for (const char* bad : {R"([{"id": 5}])", R"([{"names": [1]}])", R"([7])", R"([{"size": "x"}])"}) {
        std::ofstream(list, std::ios::trunc) << bad;
        Output o = k({"images"});
        EXPECT_EQ(1, o.code) << bad;
        EXPECT_NE(std::string::npos, o.err.find("images.json is corrupt")) << bad << ": " << o.err;
    }
    std::ofstream(list, std::ios::trunc) << good;
    EXPECT_EQ(0, k({"images"}).code);
}

}  // namespace
}  // namespace kapsel::test
