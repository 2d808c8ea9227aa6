// Client test harness: podman and containerd drive kapsel through a recording wrapper,
// so a test can assert what a user sees and also every command line the client used.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../integration/harness.hpp"

namespace kapsel::test {

// One call of the runtime by a client, as the wrapper recorded it.
struct RuntimeCall {
    std::string pid;                // the wrapper's pid, which pairs CALL and EXIT records
    std::string caller;             // the parent's comm: podman, conmon, containerd-shim
    std::vector<std::string> args;  // argv without the program name
    int exit_code = -1;             // -1 while no exit is recorded
    std::string log_file;           // the --log argument, if any
    std::string log_bytes;          // what this call appended to that file
};

// A script named `kapsel` (podman keys runtime_supports_json on the name) that appends
// each argv to DIR/calls.log, runs kapsel as a child, saves the bytes the call added to
// its --log file to DIR/logs/PID.log, and records the exit code.
class RecordingRuntime {
  public:
    explicit RecordingRuntime(const std::string& dir);
    const std::string& path() const { return path_; }
    std::vector<RuntimeCall> calls() const;
    std::string raw_log() const;

  private:
    std::string dir_, path_;
};

// The call with the temporary directory, ids and random numbers replaced (and each of
// `words` by its placeholder), e.g. `--log <TMP>/.../oci-log create --bundle <TMP>/... <ID>`.
std::string argv_pattern(const RuntimeCall& call, const std::string& tmp,
                         const std::vector<std::pair<std::string, std::string>>& words = {});

// Runs `command` (a shell command line) under script(1) on a new pty. The pipe to its
// stdin stays open until it exits: at EOF script would end the session, and a client
// attached with -i could detach before the container's output arrived.
Output run_on_pty(const std::string& command, int timeout_ms = 30000);

bool executable(const std::string& path);
// Live processes other than this one with `needle` in their command line ("PID: CMDLINE").
std::vector<std::string> processes_mentioning(const std::string& needle);
// Mount points strictly below `dir`, as this process sees them.
std::vector<std::string> mounts_below(const std::string& dir);
std::string read_file(const std::string& path);
// The host path of a cgroup file of process `pid`: FILE_V1 in the v1 hierarchy that has
// CONTROLLER, or FILE_V2 in the cgroup2 hierarchy when no v1 hierarchy has it.
std::string cgroup_file(int pid, const std::string& controller, const std::string& file_v1,
                        const std::string& file_v2);
// Quotes a word for sh.
std::string shell_quote(const std::string& word);

// Base of the podman and containerd tests: a temporary directory with the recording
// runtime; at the end prints every call, checks exit codes and the JSON logs, and on
// failure adds the wrapper log and kapsel's --log output to the failure message.
class ClientTest : public ::testing::Test {
  protected:
    void SetUp() override;
    void TearDown() override;

    // Runs a client command, echoing it and its output to the test log.
    Output client(const std::vector<std::string>& argv, int timeout_ms = 30000,
                  const std::vector<std::string>& env = {}, const std::string& input = "");
    // Marks calls that may fail (the test expects those failures).
    void allow_failure(std::function<bool(const RuntimeCall&)> expected);
    // Waits until every recorded call has exited (a client may return before its
    // cleanup process has called the runtime).
    void wait_for_calls(int timeout_ms = 10000);
    // The wrapper log and every --log file's bytes, for failure messages.
    std::string diagnostics() const;
    virtual std::string extra_diagnostics() const { return ""; }
    // Undoes what the client made (containers, daemons); runs before the checks.
    virtual void client_cleanup() {}
    // Releases mounts the client itself keeps (not its containers'); runs once every
    // process the client started has gone, so none of them can mount it again.
    virtual void release_client_mounts() {}

    std::string tmp() const { return tmp_.path(); }
    const RecordingRuntime& runtime() const { return *runtime_; }

    // Set by SetUp when the test can run; TearDown does nothing otherwise.
    bool ready_ = false;
    // Names the argv patterns replace with placeholders, e.g. {namespace, "<NS>"}.
    std::vector<std::pair<std::string, std::string>> pattern_words_;

  private:
    TempDir tmp_;
    std::unique_ptr<RecordingRuntime> runtime_;
    std::vector<std::function<bool(const RuntimeCall&)>> allowed_failures_;
};

// The busybox image made by scripts/make-image-fixtures.
std::string image_dir();
std::string image_name();

// Whether kapsel has a verb (its `VERB --help` succeeds).
bool kapsel_has_verb(const std::string& verb);

// An assertion message with the client's runtime calls and kapsel's logs.
#define WITH_CALLS "\n" << diagnostics()

}  // namespace kapsel::test
