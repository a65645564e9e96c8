// kvd: one node of a kvraft cluster.
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <memory>

#include "core/kvd_server.h"

DEFINE_int64(node_id, 0, "This node's id: one of the ids in --peers (required).");
DEFINE_string(cluster_id, "", "The cluster's name; every node of a cluster has the same one, and "
                              "peers with another are refused (required).");
DEFINE_string(peers, "", "Every member's Raft address, this node included, as "
                         "ID=HOST:PORT,... (required). This node listens on its own "
                         "(or on --peer_listen).");
DEFINE_string(client_addresses, "", "Every member's client address, as ID=HOST:PORT,... with the "
                                    "same ids as --peers (required). This node serves clients on its "
                                    "own; NOT_LEADER answers name the leader's.");
DEFINE_string(peer_listen, "", "Where to listen for peers, as HOST:PORT, when that differs from "
                               "this node's address in --peers (behind a proxy or NAT). Default: "
                               "this node's --peers address.");
DEFINE_string(data_dir, "", "Where this node keeps its Raft log (raft/), kv state (kv/) and "
                            "snapshots (snapshots/); created if missing (required).");
DEFINE_int32(tick_ms, 10, "Length of one Raft tick in milliseconds.");
DEFINE_int32(election_ticks, 10, "Election timeout in ticks: each follower waits a random time in "
                                 "[N, 2N) ticks without a leader before it campaigns.");
DEFINE_int32(heartbeat_ticks, 1, "Ticks between a leader's heartbeats (well below --election_ticks).");
DEFINE_int32(request_timeout_ms, 5000, "How long a client call waits for its command to be applied, "
                                       "or its read confirmed, before answering TIMEOUT.");
DEFINE_uint64(max_key_bytes, 4 << 10, "Largest key accepted; larger gets TOO_LARGE. Must be the same on "
                                      "every node.");
DEFINE_uint64(max_value_bytes, 1 << 20, "Largest value accepted; larger gets TOO_LARGE. Must be the same "
                                        "on every node.");
DEFINE_uint64(max_request_bytes, 2 << 20, "Largest client request frame; a client that sends a larger "
                                          "one is disconnected (and logged). Keep it above "
                                          "--max_value_bytes plus a little.");
DEFINE_uint64(max_peer_frame_bytes, 64 << 20, "Largest frame accepted from a peer.");
DEFINE_uint64(peer_direct_send_bytes, 8 << 10,
              "A Raft message up to this size that finds its peer's connection idle is written by "
              "the Raft loop itself instead of the connection's sender thread: one thread hand-off "
              "less on each side of a round. 0 sends every message from the sender thread.");
DEFINE_bool(client_thread_per_connection, true,
            "Serve each client connection on a thread of its own, which reads a call, waits for "
            "it and writes the answer: two thread hand-offs less per call than an IO thread "
            "with workers. false: one IO thread reads every connection and hands calls to "
            "--client_threads workers. Either way a connection has at most one call in progress; "
            "further requests on it wait in the socket.");
DEFINE_int32(client_threads, 32, "With --client_thread_per_connection=false: threads serving client "
                                 "calls. A call holds its thread until its command is applied, so "
                                 "this bounds the calls in progress.");
DEFINE_int32(max_connections, 1024, "Client connections beyond this are closed as they arrive.");
DEFINE_uint64(snapshot_log_entries, 100000, "Take a snapshot and compact the log after this many "
                                            "applied entries (0: no entry limit).");
DEFINE_uint64(snapshot_log_bytes, 64 << 20, "Take a snapshot and compact the log after this many "
                                            "applied command bytes (0: no byte limit).");
DEFINE_uint64(session_expiry_ms, 60 * 60 * 1000, "A client session idle this long (leader time) is "
                                                 "forgotten. Must be the same on every node.");
DEFINE_uint64(log_cache_bytes, 16 << 20, "Bytes of recent log entries kept in memory.");

namespace {

using kvraft::Status;
using namespace kvraft::core;

// SIGTERM and SIGINT are taken by sigwait in Run(), never by a random
// thread, and never with the default action (death with the signal): main()
// blocks them before anything else, and every thread inherits the mask.
const sigset_t& StopSignals() {
  static const sigset_t set = [] {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGINT);
    return s;
  }();
  return set;
}

int Fail(const Status& s) {
  LOG(ERROR) << s.ToString();
  std::fprintf(stderr, "kvd: %s\n", s.ToString().c_str());
  return 2;
}

int Run() {
  if (FLAGS_data_dir.empty()) return Fail(Status::InvalidArgument("--data_dir is required"));
  if (FLAGS_tick_ms <= 0 || FLAGS_election_ticks <= 2 * FLAGS_heartbeat_ticks || FLAGS_heartbeat_ticks <= 0) {
    return Fail(Status::InvalidArgument(
        "--tick_ms and --heartbeat_ticks must be positive and --election_ticks more than twice "
        "--heartbeat_ticks"));
  }
  if (FLAGS_client_threads <= 0 || FLAGS_max_connections <= 0 || FLAGS_request_timeout_ms <= 0) {
    return Fail(Status::InvalidArgument(
        "--client_threads, --max_connections and --request_timeout_ms must be positive"));
  }
  KvdServer::Options options;
  Node::Options& node = options.node;
  Status s = ParseClusterConfig(FLAGS_cluster_id, FLAGS_node_id, FLAGS_peers, FLAGS_client_addresses,
                                &node.cluster);
  if (!s.ok()) return Fail(s);
  node.dataDir = FLAGS_data_dir;
  node.tickMs = FLAGS_tick_ms;
  node.electionTicks = FLAGS_election_ticks;
  node.heartbeatTicks = FLAGS_heartbeat_ticks;
  node.logCacheBytes = FLAGS_log_cache_bytes;
  node.peer.directSendBytes = FLAGS_peer_direct_send_bytes;
  node.replica.snapshotEntries = FLAGS_snapshot_log_entries;
  node.replica.snapshotBytes = FLAGS_snapshot_log_bytes;
  node.replica.kv.sessionExpiryMs = FLAGS_session_expiry_ms;
  node.replica.kv.limits.maxKeyBytes = FLAGS_max_key_bytes;
  node.replica.kv.limits.maxValueBytes = FLAGS_max_value_bytes;
  options.service.maxKeyBytes = FLAGS_max_key_bytes;
  options.service.maxValueBytes = FLAGS_max_value_bytes;
  options.service.requestTimeout = std::chrono::milliseconds(FLAGS_request_timeout_ms);
  options.peerListen = node.cluster.Self().raft;
  if (!FLAGS_peer_listen.empty()) {
    s = ParseAddress(FLAGS_peer_listen, &options.peerListen);
    if (!s.ok()) return Fail(s.Annotate("--peer_listen"));
  }
  options.clientListen = node.cluster.Self().client;
  options.clientThreadPerConnection = FLAGS_client_thread_per_connection;
  options.clientThreads = static_cast<size_t>(FLAGS_client_threads);
  options.maxRequestBytes = FLAGS_max_request_bytes;
  options.maxPeerFrameBytes = FLAGS_max_peer_frame_bytes;
  options.maxConnections = static_cast<size_t>(FLAGS_max_connections);

  RouteThriftLogsToGlog();

  std::unique_ptr<KvdServer> server;
  s = KvdServer::Start(std::move(options), &server);
  if (!s.ok()) return Fail(s);
  int signal = 0;
  sigwait(&StopSignals(), &signal);
  LOG(INFO) << "received " << strsignal(signal) << ": shutting down";
  server->Shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  pthread_sigmask(SIG_BLOCK, &StopSignals(), nullptr);
  signal(SIGPIPE, SIG_IGN);
  gflags::SetUsageMessage(
      "one node of a kvraft cluster.\n"
      "  kvd --node_id=1 --cluster_id=demo --data_dir=/var/lib/kvraft/1 \\\n"
      "      --peers=1=10.0.0.1:7001,2=10.0.0.2:7001,3=10.0.0.3:7001 \\\n"
      "      --client_addresses=1=10.0.0.1:7101,2=10.0.0.2:7101,3=10.0.0.3:7101\n"
      "SIGTERM or SIGINT stops it cleanly (exit 0). Exit 2: bad flags or a data directory it "
      "cannot use (the reason is printed). A disk failure while running stops it at once "
      "with a FATAL log line (abort); a restart recovers from what is on disk.");
  // A server's log is read while it runs: write each line out at once.
  FLAGS_logbufsecs = 0;
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  google::InitGoogleLogging(argv[0]);
  if (argc > 1) {
    std::fprintf(stderr, "kvd: unexpected argument '%s'; see kvd --help\n", argv[1]);
    return 2;
  }
  return Run();
}
