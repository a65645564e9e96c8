#include "tests/integration/kvd_cluster.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "tests/integration/child_process.h"
#include "tests/integration/loopback_port.h"
#include "tests/integration/thrift_link.h"

#ifndef KVD_PATH
#error "KVD_PATH must name the kvd binary (a compile definition)"
#endif

namespace kvraft::integration {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kStopLimit = 20s;
// SIGKILL cannot be caught; this only bounds a process stuck in the kernel.
constexpr std::chrono::milliseconds kKillLimit = 10s;
constexpr int kLogTailLines = 40;

// Where the data roots go: /dev/shm keeps fsync cheap, so that tests measure
// kvd and not the disk.
fs::path DataRootBase() {
  if (access("/dev/shm", W_OK) == 0) return "/dev/shm";
  return fs::temp_directory_path();
}

// The running test's name, to tell data roots apart when one is kept.
std::string TestNameForPath() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info == nullptr ? "cluster" : std::string(info->test_suite_name()) + "." + info->name();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
  }
  return name;
}

std::string MakeDataRoot() {
  std::string pattern = (DataRootBase() / ("kvd_test." + TestNameForPath() + ".XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << pattern << ": " << std::strerror(errno);
    return "";
  }
  return pattern;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string LastLines(const std::string& text, int lines) {
  // The final newline ends the last line; count `lines` more before it.
  size_t end = text.size();
  if (end > 0 && text[end - 1] == '\n') --end;
  for (int n = 0; n < lines; ++n) {
    const size_t newline = text.rfind('\n', end == 0 ? 0 : end - 1);
    if (newline == std::string::npos || end == 0) return text;
    end = newline;
  }
  return text.substr(end + 1);
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

}  // namespace

KvdCluster::KvdCluster(Options options) : options_(std::move(options)) {
  root_ = MakeDataRoot();
  nodes_.resize(static_cast<size_t>(std::max(options_.nodes, 1)));
  for (Node& n : nodes_) {
    n.peerPort = ReserveLoopbackPort();
    n.clientPort = ReserveLoopbackPort();
  }
}

KvdCluster::~KvdCluster() {
  ReportNodesThatDied();
  for (int i = 1; i <= size(); ++i) {
    if (node(i).pid != 0) Kill(i);
  }
  if (root_.empty()) return;
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "kvd_cluster: the test failed; the cluster's data and logs are kept in %s\n",
                 root_.c_str());
    PrintLogTails();
    return;
  }
  std::error_code ec;
  fs::remove_all(root_, ec);
}

KvdCluster::Node& KvdCluster::node(int i) {
  if (i < 1 || i > size()) {
    // A test that names a node the cluster does not have is wrong itself.
    std::fprintf(stderr, "kvd_cluster: no node %d in a cluster of %d\n", i, size());
    std::abort();
  }
  return nodes_[static_cast<size_t>(i - 1)];
}

const KvdCluster::Node& KvdCluster::node(int i) const {
  return const_cast<KvdCluster*>(this)->node(i);
}

void KvdCluster::SetNodeFlags(int i, std::vector<std::string> flags) { node(i).flags = std::move(flags); }

std::string KvdCluster::ClientEndpoint(int i) const {
  return "127.0.0.1:" + std::to_string(node(i).clientPort);
}

std::string KvdCluster::PeerEndpoint(int i) const {
  return "127.0.0.1:" + std::to_string(node(i).peerPort);
}

std::vector<std::string> KvdCluster::ClientEndpoints() const {
  std::vector<std::string> endpoints;
  for (int i = 1; i <= size(); ++i) endpoints.push_back(ClientEndpoint(i));
  return endpoints;
}

std::string KvdCluster::DataDir(int i) const { return root_ + "/node" + std::to_string(i); }
std::string KvdCluster::LogDir(int i) const { return root_ + "/node" + std::to_string(i) + ".log"; }

std::vector<std::string> KvdCluster::Argv(int i) const {
  std::string peers, clients;
  for (int j = 1; j <= size(); ++j) {
    const std::string sep = j == 1 ? "" : ",";
    peers += sep + std::to_string(j) + "=" + PeerEndpoint(j);
    clients += sep + std::to_string(j) + "=" + ClientEndpoint(j);
  }
  std::vector<std::string> argv = {
      KVD_PATH,
      "--node_id=" + std::to_string(i),
      "--cluster_id=" + options_.clusterId,
      "--peers=" + peers,
      "--client_addresses=" + clients,
      "--data_dir=" + DataDir(i),
      "--log_dir=" + LogDir(i),
      "--logbufsecs=0",
  };
  argv.insert(argv.end(), options_.extraFlags.begin(), options_.extraFlags.end());
  argv.insert(argv.end(), node(i).flags.begin(), node(i).flags.end());
  return argv;
}

void KvdCluster::StartAll() {
  for (int i = 1; i <= size(); ++i) Start(i);
}

void KvdCluster::Start(int i) {
  Node& n = node(i);
  if (n.pid != 0) {
    if (Running(i)) {
      ADD_FAILURE() << "Start(" << i << "): node " << i << " already runs (pid " << n.pid << ")";
      return;
    }
    ReportNodesThatDied();
  }
  if (access(KVD_PATH, X_OK) != 0) {
    ADD_FAILURE() << "cannot run " << KVD_PATH << ": " << std::strerror(errno) << " (build the kvd target)";
    return;
  }
  std::error_code ec;
  fs::create_directories(LogDir(i), ec);
  if (ec) {
    ADD_FAILURE() << "cannot create " << LogDir(i) << ": " << ec.message();
    return;
  }
  // Everything the child needs is made before ForkExec (see ChildSpec).
  const std::vector<std::string> args = Argv(i);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const std::string outPath = root_ + "/node" + std::to_string(i) + ".out";
  const int outFd = open(outPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int stdinFd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (outFd < 0 || stdinFd < 0) {
    ADD_FAILURE() << "cannot open " << outPath << " or /dev/null: " << std::strerror(errno);
    if (outFd >= 0) close(outFd);
    if (stdinFd >= 0) close(stdinFd);
    return;
  }
  // Not a process group of its own: kvd starts no processes, and signals go
  // to the node's pid.
  const pid_t pid = ForkExec({.path = argv[0], .argv = argv.data(), .stdinFd = stdinFd, .outFd = outFd});
  const int forkError = errno;
  close(outFd);
  close(stdinFd);
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(forkError);
    return;
  }
  n.pid = pid;
  n.paused = false;
}

int KvdCluster::Reap(int i, std::chrono::milliseconds limit) {
  Node& n = node(i);
  const Steady::time_point deadline = Steady::now() + limit;
  while (true) {
    int status = 0;
    const pid_t pid = n.pid;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) {
      n.pid = 0;
      n.paused = false;
      return r == pid ? status : 0;
    }
    if (Steady::now() >= deadline) return -1;
    std::this_thread::sleep_for(2ms);
  }
}

void KvdCluster::Kill(int i) {
  Node& n = node(i);
  if (n.pid == 0) return;
  if (!Running(i)) ReportNodesThatDied();
  if (n.pid == 0) return;
  kill(n.pid, SIGKILL);
  if (Reap(i, kKillLimit) == -1) ADD_FAILURE() << "node " << i << " (pid " << n.pid << ") survived SIGKILL";
}

void KvdCluster::KillAll() {
  ReportNodesThatDied();
  for (const Node& n : nodes_) {
    if (n.pid != 0) kill(n.pid, SIGKILL);
  }
  for (int i = 1; i <= size(); ++i) {
    if (node(i).pid != 0 && Reap(i, kKillLimit) == -1) {
      ADD_FAILURE() << "node " << i << " (pid " << node(i).pid << ") survived SIGKILL";
    }
  }
}

int KvdCluster::Stop(int i) {
  Node& n = node(i);
  if (n.pid == 0 || !Running(i)) {
    ReportNodesThatDied();
    ADD_FAILURE() << "Stop(" << i << "): node " << i << " is not running";
    return -1;
  }
  const pid_t pid = n.pid;
  kill(pid, SIGTERM);
  if (n.paused) kill(pid, SIGCONT);
  const int status = Reap(i, kStopLimit);
  if (status == -1) {
    ADD_FAILURE() << "node " << i << " (pid " << pid << ") did not exit within "
                  << std::chrono::duration_cast<std::chrono::seconds>(kStopLimit).count()
                  << " s of SIGTERM; killing it";
    Kill(i);
    return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

void KvdCluster::Pause(int i) {
  Node& n = node(i);
  if (n.pid == 0) {
    ADD_FAILURE() << "Pause(" << i << "): node " << i << " is not running";
    return;
  }
  kill(n.pid, SIGSTOP);
  n.paused = true;
}

void KvdCluster::Resume(int i) {
  Node& n = node(i);
  if (n.pid == 0) {
    ADD_FAILURE() << "Resume(" << i << "): node " << i << " is not running";
    return;
  }
  kill(n.pid, SIGCONT);
  n.paused = false;
}

bool KvdCluster::Running(int i) const {
  const Node& n = node(i);
  if (n.pid == 0) return false;
  // WNOWAIT: look without reaping, so that Reap still gets the status.
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(n.pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
  return info.si_pid == 0;
}

bool KvdCluster::Paused(int i) const { return node(i).paused; }

void KvdCluster::ReportNodesThatDied() {
  for (int i = 1; i <= size(); ++i) {
    Node& n = node(i);
    if (n.pid == 0 || Running(i)) continue;
    const pid_t pid = n.pid;
    const int status = Reap(i, kKillLimit);
    ADD_FAILURE() << "node " << i << " (pid " << pid << ") exited on its own with "
                  << DescribeWaitStatus(status) << "; its log is in " << LogDir(i) << " and " << root_
                  << "/node" << i << ".out";
  }
}

bool KvdCluster::Status(int i, kvraft::thrift::NodeStatus* out, std::chrono::milliseconds timeout) const {
  return QueryStatus(ClientEndpoint(i), timeout, out);
}

int KvdCluster::WaitForLeader(std::chrono::milliseconds limit) {
  const Steady::time_point deadline = Steady::now() + limit;
  const size_t majority = nodes_.size() / 2 + 1;
  while (true) {
    std::vector<kvraft::thrift::NodeStatus> seen;
    for (int i = 1; i <= size(); ++i) {
      if (!Running(i) || node(i).paused) continue;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
      kvraft::thrift::NodeStatus s;
      if (Status(i, &s, std::clamp<std::chrono::milliseconds>(left, 50ms, 500ms))) seen.push_back(s);
    }
    for (const kvraft::thrift::NodeStatus& leader : seen) {
      if (leader.role != "leader") continue;
      const size_t agree = std::count_if(seen.begin(), seen.end(), [&](const kvraft::thrift::NodeStatus& s) {
        return s.term == leader.term && (s.nodeId == leader.nodeId || s.leaderId == leader.nodeId);
      });
      if (agree >= majority) return static_cast<int>(leader.nodeId);
    }
    if (Steady::now() >= deadline) return 0;
    std::this_thread::sleep_for(20ms);
  }
}

bool KvdCluster::WaitAllServing(std::chrono::milliseconds limit) {
  const Steady::time_point deadline = Steady::now() + limit;
  std::string silent;
  while (true) {
    silent.clear();
    for (int i = 1; i <= size(); ++i) {
      if (!Running(i) || node(i).paused) continue;
      kvraft::thrift::NodeStatus s;
      if (!Status(i, &s, 500ms)) silent += (silent.empty() ? "" : ", ") + std::to_string(i);
    }
    if (silent.empty()) return true;
    if (Steady::now() >= deadline) break;
    std::this_thread::sleep_for(20ms);
  }
  ADD_FAILURE() << "these nodes did not answer Status within " << limit.count() << " ms: " << silent;
  return false;
}

std::string KvdCluster::LogText(int i) const {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(LogDir(i), ec)) {
    // glog keeps a symlink (kvd.INFO) to the newest file: skip it.
    if (e.is_symlink() || !e.is_regular_file()) continue;
    if (e.path().filename().string().find(".INFO.") != std::string::npos) files.push_back(e.path());
  }
  // One file per run; runs of one node never overlap, so the order of last
  // writes is the order of runs.
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    std::error_code e1, e2;
    const auto ta = fs::last_write_time(a, e1), tb = fs::last_write_time(b, e2);
    return ta != tb ? ta < tb : a < b;
  });
  std::string text;
  for (const fs::path& f : files) text += ReadFile(f);
  text += ReadFile(root_ + "/node" + std::to_string(i) + ".out");
  return text;
}

void KvdCluster::PrintLogTails() const {
  for (int i = 1; i <= size(); ++i) {
    std::fprintf(stderr, "---- node %d: last %d lines of its log (%s) ----\n%s", i, kLogTailLines,
                 LogDir(i).c_str(), LastLines(LogText(i), kLogTailLines).c_str());
  }
  std::fprintf(stderr, "---- end of node logs ----\n");
}

}  // namespace kvraft::integration
