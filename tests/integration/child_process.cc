#include "tests/integration/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

extern char** environ;

namespace kvraft::integration {
namespace {

using Steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::vector<std::string> MergedEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const std::string& x : extra) replaced |= x.substr(0, x.find('=')) == name;
    if (!replaced) env.push_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<char*> Pointers(const std::vector<std::string>& strings) {
  std::vector<char*> p;
  for (const std::string& s : strings) p.push_back(const_cast<char*>(s.c_str()));
  p.push_back(nullptr);
  return p;
}

// Writes `s` to stderr, in the child: async-signal-safe.
void WriteStderr(const char* s) { (void)!write(STDERR_FILENO, s, strlen(s)); }

// The child's side of ForkExec, between fork and exec: async-signal-safe
// calls only.
[[noreturn]] void ExecChild(const ChildSpec& spec, pid_t parent) {
  // Die with the test: a crashed or killed test must not leave it running.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the parent died before prctl
  if (spec.ownProcessGroup) setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction defaults {};
  defaults.sa_handler = SIG_DFL;
  sigaction(SIGPIPE, &defaults, nullptr);
  dup2(spec.stdinFd, STDIN_FILENO);
  dup2(spec.outFd, STDOUT_FILENO);
  dup2(spec.outFd, STDERR_FILENO);
  // The test's own sockets must not live on in the child: a test that
  // closes a connection expects the server to see it closed.
  if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
    for (int fd = 3; fd < 4096; ++fd) close(fd);
  }
  execve(spec.path, spec.argv, spec.envp != nullptr ? spec.envp : environ);
  // strerror is not async-signal-safe: say the path and the errno number.
  char number[16];
  char* digits = number + sizeof number;
  *--digits = '\0';
  int e = errno;
  do {
    *--digits = static_cast<char>('0' + e % 10);
    e /= 10;
  } while (e > 0);
  WriteStderr("child_process: exec of ");
  WriteStderr(spec.path);
  WriteStderr(" failed: errno ");
  WriteStderr(digits);
  WriteStderr("\n");
  _exit(127);
}

}  // namespace

pid_t ForkExec(const ChildSpec& spec) {
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) ExecChild(spec, parent);
  return pid;
}

std::string FindProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) return access(program.c_str(), X_OK) == 0 ? program : "";
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path == nullptr ? "/usr/bin:/bin" : path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

ProgramResult RunProgram(const std::vector<std::string>& args, const std::vector<std::string>& extraEnv,
                         std::chrono::milliseconds limit) {
  ProgramResult result;
  if (args.empty()) return result;
  const std::string path = FindProgram(args[0]);
  if (path.empty()) {
    result.output = "no executable '" + args[0] + "'";
    return result;
  }
  const std::vector<std::string> env = MergedEnvironment(extraEnv);
  std::vector<char*> argv = Pointers(args);
  std::vector<char*> envp = Pointers(env);
  int pipeFds[2];
  if (pipe2(pipeFds, O_CLOEXEC) != 0) {
    result.output = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  const int stdinFd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t pid = ForkExec({.path = path.c_str(),
                              .argv = argv.data(),
                              .envp = envp.data(),
                              .stdinFd = stdinFd,
                              .outFd = pipeFds[1],
                              .ownProcessGroup = true});  // so that a timeout kills its children too
  const int forkError = errno;
  close(pipeFds[1]);
  if (stdinFd >= 0) close(stdinFd);
  if (pid < 0) {
    close(pipeFds[0]);
    result.output = std::string("fork: ") + std::strerror(forkError);
    return result;
  }

  const Steady::time_point deadline = Steady::now() + limit;
  char buffer[4096];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
    if (left.count() <= 0) {
      result.timedOut = true;
      break;
    }
    pollfd p{pipeFds[0], POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // the deadline check above ends the loop
    const ssize_t n = read(pipeFds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // every writer closed the pipe: the program ended
    result.output.append(buffer, static_cast<size_t>(n));
  }
  close(pipeFds[0]);
  if (result.timedOut) kill(-pid, SIGKILL);
  // The pipe closed, so the program is exiting; bound the wait anyway.
  const Steady::time_point reapBy = Steady::now() + 10s;
  int status = 0;
  pid_t r = 0;
  while ((r = waitpid(pid, &status, WNOHANG)) == 0 && Steady::now() < reapBy) std::this_thread::sleep_for(2ms);
  if (r != pid) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);  // SIGKILL: this returns
    result.timedOut = true;
  }
  if (result.timedOut) return result;
  if (WIFEXITED(status)) result.exitCode = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.exitCode = 128 + WTERMSIG(status);
  return result;
}

}  // namespace kvraft::integration
