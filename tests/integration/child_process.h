#pragma once
// Child processes for the tests. ForkExec starts one, set up the same way
// for every caller (kvd_cluster.h's kvd nodes and RunProgram); RunProgram
// runs a program to completion with a time limit and captures what it
// prints (stdout and stderr together), for the tests of kvctl and of the
// Python example.
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace kvraft::integration {

// What ForkExec runs, and how. Everything it points at is made before the
// fork: between fork and exec the child of a multi-threaded parent may only
// make async-signal-safe calls.
struct ChildSpec {
  const char* path = nullptr;   // exec'd as is: not searched on PATH
  char* const* argv = nullptr;  // null-terminated
  char* const* envp = nullptr;  // null-terminated; nullptr: the test's own environment
  int stdinFd = -1;             // becomes the child's stdin
  int outFd = -1;               // becomes the child's stdout and stderr
  // A process group of its own, so that killing -pid also kills whatever
  // the program started.
  bool ownProcessGroup = false;
};

// Forks a child that execs `spec.path`. In the child: SIGKILL when the
// thread that forked exits (PR_SET_PDEATHSIG: no child outlives a crashed
// test), no blocked signals, SIGPIPE at its default, stdin/stdout/stderr
// from `spec`, no other descriptor of the test's left open. If the exec
// fails the child writes "child_process: exec of <path> failed: errno <n>"
// to its stderr (`outFd`) and exits with 127.
//
// Returns the child's pid, or -1 with errno set if fork failed. The
// caller still owns (and closes) `stdinFd` and `outFd`; open them
// O_CLOEXEC.
pid_t ForkExec(const ChildSpec& spec);

struct ProgramResult {
  // The exit status; 128+N if signal N ended it; -1 if it could not start
  // or did not finish in time.
  int exitCode = -1;
  bool timedOut = false;
  std::string output;
};

// argv[0] is found on PATH unless it contains a '/'. `extraEnv` holds
// "NAME=value" entries added to (or replacing in) the test's environment.
// A program still running after `limit` is killed.
ProgramResult RunProgram(const std::vector<std::string>& argv, const std::vector<std::string>& extraEnv,
                         std::chrono::milliseconds limit);

// The absolute path of `program` (searched on PATH unless it holds a '/'),
// or "" if there is no such executable.
std::string FindProgram(const std::string& program);

}  // namespace kvraft::integration
