#pragma once
// LocalCluster: a 3-node kvd cluster on loopback for one benchmark run.
// Ports are picked free by the kernel; data lives in a new temporary
// directory that is deleted at the end, or in a given directory that is kept
// (and, if an earlier run left a cluster there, reopened). Each node's CPU
// time can be read from /proc so that the run can report server CPU per
// operation.
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace kvraft::bench {

class LocalCluster {
 public:
  struct Options {
    std::string kvdPath;
    // The temporary directory is made under this; /tmp by default so that
    // the nodes' fsyncs reach the disk, as in the etcd anchor.
    std::string dataRoot = "/tmp";
    // If set: the cluster's directory instead of a temporary one, made if
    // missing and kept after the run. The nodes' addresses are flags, not
    // data, so a cluster kept here restarts on new ports.
    std::string keptDir;
    int nodes = 3;
    std::vector<std::string> extraKvdArgs;  // appended to every node's command line
  };

  explicit LocalCluster(Options options);
  // Stops the nodes (if still running) and deletes the data unless kept.
  ~LocalCluster();
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  // Starts every node. False (with the reason in *error) if a directory,
  // port or process could not be had.
  bool Start(std::string* error);
  // Polls the nodes' Status until one says it is the leader. False on
  // timeout, or if a node has exited.
  bool WaitForLeader(std::chrono::milliseconds timeout, std::string* error);
  // SIGTERM to every node, then waits for each (SIGKILL after 20 s).
  void Stop();
  // Deletes the data directory (the nodes must have stopped); a kept
  // directory stays.
  void RemoveData();

  // The client addresses, host:port.
  const std::vector<std::string>& Endpoints() const { return endpoints_; }
  const std::string& DataDir() const { return dataDir_; }
  // utime + stime of all nodes so far, in seconds; -1 if a node's
  // /proc/<pid>/stat could not be read.
  double CpuSeconds() const;

 private:
  Options options_;
  std::string dataDir_;
  std::vector<std::string> endpoints_;
  std::vector<pid_t> pids_;
};

// utime + stime of process `pid` in seconds, or -1 if /proc/<pid>/stat
// cannot be read or parsed.
double ProcessCpuSeconds(pid_t pid);

// `count` distinct loopback ports the kernel considers free now; false
// (errno set) if it has none to give.
bool FreeLoopbackPorts(int count, std::vector<int>* ports);

}  // namespace kvraft::bench
