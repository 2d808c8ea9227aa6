// Runs a helper program to its end: text on its stdin, its stdout and stderr collected
// (bounded), its exit status. For helpers that take JSON in and give JSON out (netavark).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace kapsel {

struct Completed {
    int status = 0;  // waitpid's
    std::string out, err;
    bool exited_ok() const;  // exited with 0
};

// `argv[0]` is the program's path (not searched). The child gets no fd of ours but its
// three pipes (all others are closed in it, whether O_CLOEXEC or not). Output beyond `max_output` per stream is
// an error; so is a program still running after `timeout` (it is killed then). A
// program that leaves a daemon behind holding its stdout (netavark's aardvark-dns does
// not, but a future one might) does not make us wait: reading stops once the program
// itself has ended and its pipes are drained of what is there.
//
// `hold_fd` (when not -1) is kept open, in a process of ours that waits for the program,
// for as long as the program runs, even if kapsel itself is killed meanwhile: a lock
// taken on it then guards the program's whole run, not just kapsel's (netavark killed
// with the kapsel that ran it would leave its work half done, and one that finishes
// after kapsel's death must not run beside the next one). The program itself does not
// get it, nor does whatever it leaves running (aardvark-dns would hold the lock for good).
Result<Completed> run_program(const std::vector<std::string>& argv, std::string_view input,
                              size_t max_output = 1 << 20,
                              std::chrono::milliseconds timeout = std::chrono::seconds(60),
                              int hold_fd = -1);

// run_program for a program that leaves a daemon running (netavark's aardvark-dns, pasta):
// a kapsel that is a child subreaper (run and create are, to reap the container's
// orphans) would adopt the daemon and keep it as a child it never waits for; so it is no
// subreaper while the program runs, and the daemon goes to init, as under podman.
Result<Completed> run_program_unreaped(const std::vector<std::string>& argv, std::string_view input,
                                       size_t max_output = 1 << 20,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(60),
                                       int hold_fd = -1);

}  // namespace kapsel
