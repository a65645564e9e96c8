#pragma once
// KvdCluster: a cluster of real kvd processes on 127.0.0.1 for tests.
//
// Each node is a child process with its own data directory, glog directory
// and stdout/stderr file under one fresh data root (in /dev/shm when it can,
// so fsync is cheap). Nodes are killed, stopped, paused and restarted by
// signal, the way an operator or a crash would. Every wait is bounded.
//
// Children get PR_SET_PDEATHSIG(SIGKILL), so no kvd outlives a test that
// crashes. Linux ties that signal to the *thread* that forked, not the
// process: call Start()/StartAll() from the test's main thread (or from a
// thread that outlives the cluster).
//
// Not thread-safe: drive one KvdCluster from one thread.
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "KvService.h"

namespace kvraft::integration {

class KvdCluster {
 public:
  struct Options {
    int nodes = 3;
    // Passed to every kvd, after the harness's own flags (so they override
    // them: gflags keeps the last value of a repeated flag).
    std::vector<std::string> extraFlags;
    std::string clusterId = "test";
  };

  // Makes a fresh data root and reserves 2 loopback ports per node (peer and
  // client). Starts nothing.
  explicit KvdCluster(Options options);
  // SIGKILLs and reaps whatever runs. Fails the test if a node died on its
  // own. Removes the data root, unless the test failed: then prints where it
  // is and the tail of each node's log.
  ~KvdCluster();
  KvdCluster(const KvdCluster&) = delete;
  KvdCluster& operator=(const KvdCluster&) = delete;

  int size() const { return static_cast<int>(nodes_.size()); }

  // Flags for node i only, passed after Options::extraFlags (so they win).
  // Takes effect at its next Start.
  void SetNodeFlags(int i, std::vector<std::string> flags);

  void StartAll();
  // Forks and execs kvd as node i (1..nodes); returns at once. Fails the
  // test if node i already runs.
  void Start(int i);
  // SIGKILL, then reap.
  void Kill(int i);
  // SIGKILL to every running node at once, then reap them all: a power cut.
  void KillAll();
  // SIGTERM (SIGCONT first if paused) and wait up to 20 s for the exit.
  // Returns the exit status (0 is a clean stop), 128+signal if a signal
  // ended it, or -1 (and fails the test, and SIGKILLs it) if it did not
  // exit in time or was not running.
  int Stop(int i);
  void Pause(int i);   // SIGSTOP
  void Resume(int i);  // SIGCONT
  // Whether node i's process exists and has not exited (paused counts as
  // running).
  bool Running(int i) const;
  bool Paused(int i) const;

  // Polls every running, unpaused node's Status until one says it is the
  // leader and a majority of the cluster agree on that leader and term, or
  // `limit` passes. Returns the leader's id, or 0.
  int WaitForLeader(std::chrono::milliseconds limit);
  // Polls until every running, unpaused node answers Status, or `limit`
  // passes; false (naming the nodes in a test failure) then. A leader and
  // a majority may be up while a slow node is still opening its stores:
  // a test that connects to each node's ports itself waits for this.
  bool WaitAllServing(std::chrono::milliseconds limit);

  // Node i's answer to KvService.Status over a fresh connection; false if it
  // did not answer within `timeout`.
  bool Status(int i, kvraft::thrift::NodeStatus* out,
              std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) const;

  std::vector<std::string> ClientEndpoints() const;  // "127.0.0.1:port", node 1 first
  std::string ClientEndpoint(int i) const;
  std::string PeerEndpoint(int i) const;
  std::string DataDir(int i) const;
  std::string LogDir(int i) const;
  std::string root() const { return root_; }
  // Everything node i logged so far, over all its runs: its glog INFO files
  // (which hold every severity) in the order written, then its .out file
  // (stdout and stderr).
  std::string LogText(int i) const;

 private:
  struct Node {
    int peerPort = 0;
    int clientPort = 0;
    pid_t pid = 0;  // 0: not running (or already reaped)
    bool paused = false;
    std::vector<std::string> flags;  // SetNodeFlags
  };

  Node& node(int i);
  const Node& node(int i) const;
  std::vector<std::string> Argv(int i) const;
  // Waits up to `limit` for node i's process to exit and reaps it; returns
  // its wait status, or -1 if it is still running at the limit.
  int Reap(int i, std::chrono::milliseconds limit);
  void ReportNodesThatDied();
  void PrintLogTails() const;

  const Options options_;
  std::string root_;
  std::vector<Node> nodes_;  // nodes_[i - 1] is node i
};

}  // namespace kvraft::integration
