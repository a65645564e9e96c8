// The leader dies under load: how long until writes go through again, and
// whether every acknowledged write survived.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/kv_client.h"
#include "tests/integration/kvd_cluster.h"
#include "tests/integration/test_util.h"

namespace kvraft::integration {
namespace {

using namespace std::chrono_literals;
using client::KvClient;
using client::Result;
using Steady = std::chrono::steady_clock;

constexpr int kWriters = 4;

// What the writers saw, from every thread.
class WriteLog {
 public:
  void Acknowledged(std::string key, std::string value, Steady::time_point start, Steady::time_point end) {
    std::lock_guard<std::mutex> lock(mu_);
    acknowledged_[std::move(key)] = std::move(value);
    successes_.push_back({start, end});
  }
  void Failed(const Result& r) {
    std::lock_guard<std::mutex> lock(mu_);
    if (failures_++ < 5) firstFailures_.push_back(r.ToString());
  }
  size_t acknowledgedCount() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acknowledged_.size();
  }
  // When the first write that the cluster acknowledged after `kill` ended;
  // nullopt if none did yet.
  //
  // A write that started before the kill and ended just after it may carry
  // the old leader's answer, sent before it died and read a moment later.
  // A new leader cannot commit anything within one election timeout of the
  // kill (at least 100 ms at kvd's defaults), so such answers are told
  // apart by ending within 50 ms.
  std::optional<Steady::time_point> FirstSuccessAfter(Steady::time_point kill) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::optional<Steady::time_point> first;
    for (const auto& [start, end] : successes_) {
      const bool newLeader = start >= kill || end >= kill + 50ms;
      if (newLeader && (!first || end < *first)) first = end;
    }
    return first;
  }
  std::map<std::string, std::string> acknowledged() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acknowledged_;
  }
  int failures() const {
    std::lock_guard<std::mutex> lock(mu_);
    return failures_;
  }
  std::vector<std::string> firstFailures() const {
    std::lock_guard<std::mutex> lock(mu_);
    return firstFailures_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> acknowledged_;
  std::vector<std::pair<Steady::time_point, Steady::time_point>> successes_;
  int failures_ = 0;
  std::vector<std::string> firstFailures_;
};

// One client writing distinct keys (c<id>-<n>) one after another.
void Writer(int id, std::vector<std::string> endpoints, const std::atomic<bool>* stop, WriteLog* log) {
  KvClient kv(ClientOptions(std::move(endpoints)));
  for (int n = 0; !*stop && n < 1000000; ++n) {
    const std::string key = "c" + std::to_string(id) + "-" + std::to_string(n);
    const std::string value = "value-" + std::to_string(id) + "-" + std::to_string(n);
    const Steady::time_point start = Steady::now();
    Result r = kv.Put(key, value);
    if (r.ok()) {
      log->Acknowledged(key, value, start, Steady::now());
    } else {
      log->Failed(r);
    }
  }
}

// Clients writing distinct keys (a<id>-<n>) through one KvClient's
// asynchronous calls, each write made from the callback of the last, as
// kvbench drives its clients. Set `stop` before destroying it.
class AsyncWriters {
 public:
  AsyncWriters(int clients, std::vector<std::string> endpoints, const std::atomic<bool>* stop,
               WriteLog* log)
      : stop_(stop), log_(log), kv_(ClientOptions(std::move(endpoints))) {
    for (int id = 1; id <= clients; ++id) Next(id, 0);
  }

 private:
  void Next(int id, int n) {
    if (*stop_ || n >= 1000000) return;
    std::string key = "a" + std::to_string(id) + "-" + std::to_string(n);
    std::string value = "value-" + std::to_string(id) + "-" + std::to_string(n);
    const Steady::time_point start = Steady::now();
    kv_.PutAsync(key, value, [this, id, n, key, value, start](const Result& r) {
      if (r.ok()) {
        log_->Acknowledged(key, value, start, Steady::now());
      } else {
        log_->Failed(r);
      }
      Next(id, n + 1);
    });
  }

  const std::atomic<bool>* const stop_;
  WriteLog* const log_;
  // Last, so that it is destroyed first: its destructor waits for the
  // callbacks, which use the members above.
  KvClient kv_;
};

// Kills the leader while writers started by `startWriters` write, and
// checks that writes resume and that every acknowledged one survived.
// `startWriters` returns what stops them and waits for them. With
// `noneFails`, every write must also have been acknowledged: those caught
// by the kill retried on the new leader within their deadline.
using Writers = std::function<std::function<void()>(KvdCluster&, const std::atomic<bool>*, WriteLog*)>;

void KillTheLeaderUnderLoad(const Writers& startWriters, bool noneFails) {
  KvdCluster cluster({});
  cluster.StartAll();
  const int leader = cluster.WaitForLeader(kLeaderLimit);
  ASSERT_NE(leader, 0) << "no leader";

  WriteLog log;
  std::atomic<bool> stop{false};
  const std::function<void()> stopWriters = startWriters(cluster, &stop, &log);
  const bool warmedUp = Eventually([&] { return log.acknowledgedCount() >= 200; }, 60s);

  const int64_t oldTerm = StatusOf(cluster, leader).term;
  const Steady::time_point kill = Steady::now();
  cluster.Kill(leader);
  // Two times: until a survivor says it leads (the election), and until a
  // client's write succeeds (what clients see: the election, plus finding
  // the new leader, plus the client's backoff between attempts).
  std::optional<Steady::time_point> resumed, elected;
  Eventually(
      [&] {
        for (int i = 1; i <= cluster.size() && !elected; ++i) {
          kvraft::thrift::NodeStatus s;
          if (i != leader && cluster.Status(i, &s, 200ms) && s.role == "leader" && s.term > oldTerm) {
            elected = Steady::now();
          }
        }
        if (!resumed) resumed = log.FirstSuccessAfter(kill);
        return !warmedUp || (resumed && elected);
      },
      10s, 2ms);
  // A little more load on the new leader, then stop (each writer finishes
  // its write in progress, bounded by the client's deadline).
  const size_t atResume = log.acknowledgedCount();
  Eventually([&] { return log.acknowledgedCount() >= atResume + 50; }, 5s);
  stop = true;
  stopWriters();

  ASSERT_TRUE(warmedUp) << "only " << log.acknowledgedCount() << " writes acknowledged before the kill";
  const auto ms = [&](Steady::time_point t) {
    return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(t - kill).count());
  };
  ASSERT_TRUE(resumed.has_value() && *resumed - kill <= 10s)
      << "no write succeeded within 10 s of killing leader " << leader;
  std::printf("leader-failover-ms: %lld\n", ms(*resumed));
  if (elected) std::printf("leader-election-ms: %lld\n", ms(*elected));
  std::printf("acknowledged writes: %zu; failed writes: %d\n", log.acknowledgedCount(), log.failures());
  for (const std::string& f : log.firstFailures()) std::printf("  failed write: %s\n", f.c_str());
  if (noneFails) EXPECT_EQ(log.failures(), 0);

  // The old leader comes back; every acknowledged write is there, on the
  // cluster and on the old leader itself once it has caught up.
  cluster.Start(leader);
  ASSERT_NE(cluster.WaitForLeader(kLeaderLimit), 0) << "no leader after the restart";
  const std::map<std::string, std::string> acknowledged = log.acknowledged();
  KvClient kv(ClientOptions(cluster.ClientEndpoints()));
  std::map<std::string, std::string> all;
  std::string error;
  ASSERT_TRUE(ReadAll(kv, /*stale=*/false, &all, &error)) << error;
  ExpectContains(all, acknowledged, "acknowledged writes after the failover");

  const int newLeader = cluster.WaitForLeader(kLeaderLimit);
  ASSERT_NE(newLeader, 0);
  ASSERT_TRUE(WaitApplied(cluster, leader, StatusOf(cluster, newLeader).commitIndex, kCatchUpLimit))
      << "the old leader did not catch up";
  KvClient onOldLeader(ClientOptions({cluster.ClientEndpoint(leader)}));
  std::map<std::string, std::string> there;
  ASSERT_TRUE(ReadAll(onOldLeader, /*stale=*/true, &there, &error)) << error;
  EXPECT_EQ(DescribeDifferences(there, all), "") << "the restarted node's state differs from the cluster's";
}

TEST(Kvd, LeaderKilledUnderLoad) {
  KillTheLeaderUnderLoad([](KvdCluster& cluster, const std::atomic<bool>* stop, WriteLog* log) {
    auto writers = std::make_shared<std::vector<std::thread>>();
    for (int id = 1; id <= kWriters; ++id) {
      writers->emplace_back(Writer, id, cluster.ClientEndpoints(), stop, log);
    }
    return std::function<void()>([writers] {
      for (std::thread& t : *writers) t.join();
    });
  }, /*noneFails=*/false);
}

// The same with 16 clients on asynchronous calls: a write whose first
// attempt went to the dead leader goes on on a thread of its own, with its
// session number, and is acknowledged only once applied.
TEST(Kvd, LeaderKilledUnderAsynchronousLoad) {
  KillTheLeaderUnderLoad([](KvdCluster& cluster, const std::atomic<bool>* stop, WriteLog* log) {
    auto writers = std::make_shared<std::unique_ptr<AsyncWriters>>(
        std::make_unique<AsyncWriters>(16, cluster.ClientEndpoints(), stop, log));
    return std::function<void()>([writers] { writers->reset(); });
  }, /*noneFails=*/true);
}

}  // namespace
}  // namespace kvraft::integration
