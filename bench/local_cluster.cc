#include "bench/local_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <glog/logging.h>

#include "core/kv_client.h"

namespace kvraft::bench {

bool FreeLoopbackPorts(int count, std::vector<int>* ports) {
  // Every probe stays bound until all are chosen: closed one by one, the
  // kernel may hand the same port out again, and a cluster given one port
  // twice cannot start ("address ... is used twice").
  std::vector<int> probes;
  ports->clear();
  bool ok = true;
  for (int i = 0; i < count && ok; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      ok = false;
      break;
    }
    probes.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
         getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    if (ok) ports->push_back(ntohs(addr.sin_port));
  }
  const int saved = errno;
  for (int fd : probes) close(fd);
  errno = saved;
  return ok;
}

namespace {

bool Exited(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) == pid;
}

}  // namespace

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return -1;
  // The command name (field 2) is in parentheses and may hold spaces, so
  // fields are counted from the last ')': state is field 3, utime 14, stime 15.
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(line.substr(close + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int n = 3; n <= 15 && (fields >> field); ++n) {
    if (n == 14) utime = std::stoull(field);
    if (n == 15) stime = std::stoull(field);
  }
  if (!fields) return -1;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

LocalCluster::LocalCluster(Options options) : options_(std::move(options)) {}

LocalCluster::~LocalCluster() {
  Stop();
  RemoveData();
}

bool LocalCluster::Start(std::string* error) {
  if (!options_.keptDir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options_.keptDir, ec);
    if (ec) {
      *error = "cannot make " + options_.keptDir + ": " + ec.message();
      return false;
    }
    dataDir_ = options_.keptDir;
  } else {
    std::string pattern = options_.dataRoot + "/kvbench.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      *error = "cannot make a directory under " + options_.dataRoot + ": " + std::strerror(errno);
      return false;
    }
    dataDir_ = pattern;
  }

  // Another process could take one of these before kvd binds it; on a
  // benchmark machine that is rare enough, and Start's caller then sees
  // kvd exit and the leader wait fail.
  std::vector<int> ports;
  if (!FreeLoopbackPorts(2 * options_.nodes, &ports)) {
    *error = std::string("no free loopback port: ") + std::strerror(errno);
    return false;
  }
  std::string peers, clients;
  for (int n = 1; n <= options_.nodes; ++n) {
    const int peerPort = ports[2 * (n - 1)];
    const int clientPort = ports[2 * (n - 1) + 1];
    const std::string sep = n == 1 ? "" : ",";
    peers += sep + std::to_string(n) + "=127.0.0.1:" + std::to_string(peerPort);
    const std::string client = "127.0.0.1:" + std::to_string(clientPort);
    clients += sep + std::to_string(n) + "=" + client;
    endpoints_.push_back(client);
  }

  for (int n = 1; n <= options_.nodes; ++n) {
    const std::string nodeDir = dataDir_ + "/node" + std::to_string(n);
    std::filesystem::create_directories(nodeDir + "/logs");
    std::vector<std::string> args = {options_.kvdPath,
                                     "--node_id=" + std::to_string(n),
                                     "--cluster_id=kvbench",
                                     "--peers=" + peers,
                                     "--client_addresses=" + clients,
                                     "--data_dir=" + nodeDir + "/data",
                                     "--log_dir=" + nodeDir + "/logs"};
    args.insert(args.end(), options_.extraKvdArgs.begin(), options_.extraKvdArgs.end());
    // Everything the child needs is made before fork: it may only make
    // async-signal-safe calls before exec.
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string outPath = nodeDir + "/kvd.out";
    const int out = open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
      *error = "cannot open " + outPath + ": " + std::strerror(errno);
      return false;
    }
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) {
      // No node outlives a kvbench that dies without cleaning up.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      const int in = open("/dev/null", O_RDONLY);
      dup2(in, 0);
      dup2(out, 1);
      dup2(out, 2);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out);
    if (pid < 0) {
      *error = std::string("fork: ") + std::strerror(errno);
      return false;
    }
    pids_.push_back(pid);
    LOG(INFO) << "kvd node " << n << " started, pid " << pid << ", output " << outPath;
  }
  return true;
}

bool LocalCluster::WaitForLeader(std::chrono::milliseconds timeout, std::string* error) {
  client::KvClient::Options options;
  options.endpoints = endpoints_;
  options.attemptTimeout = std::chrono::milliseconds(500);
  client::KvClient client(options);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    for (size_t i = 0; i < pids_.size(); ++i) {
      if (Exited(pids_[i])) {
        *error = "kvd node " + std::to_string(i + 1) + " exited; see " + dataDir_ + "/node" +
                 std::to_string(i + 1) + "/kvd.out";
        pids_[i] = -1;
        return false;
      }
    }
    for (const auto& status : client.Status()) {
      if (status.reachable && status.role == "leader") return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  *error = "no leader within " + std::to_string(timeout.count()) + " ms; see the logs under " +
           dataDir_;
  return false;
}

void LocalCluster::Stop() {
  for (pid_t pid : pids_) {
    if (pid > 0) kill(pid, SIGTERM);
  }
  for (size_t i = 0; i < pids_.size(); ++i) {
    const pid_t pid = pids_[i];
    if (pid <= 0) continue;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        LOG(WARNING) << "kvd pid " << pid << " ignored SIGTERM for 20 s; killing it";
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  pids_.clear();
}

void LocalCluster::RemoveData() {
  if (dataDir_.empty() || !pids_.empty() || !options_.keptDir.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(dataDir_, ec);
  if (ec) LOG(WARNING) << "cannot remove " << dataDir_ << ": " << ec.message();
  dataDir_.clear();
}

double LocalCluster::CpuSeconds() const {
  double total = 0;
  for (pid_t pid : pids_) {
    const double seconds = pid > 0 ? ProcessCpuSeconds(pid) : -1;
    if (seconds < 0) return -1;
    total += seconds;
  }
  return total;
}

}  // namespace kvraft::bench
