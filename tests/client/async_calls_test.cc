// KvClient's asynchronous calls: each is answered exactly once, on one of
// the client's threads, with the same answers, retries, session numbers
// and deadlines as the blocking calls, and the client's destructor waits
// for them.
#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/kv_client.h"
#include "tests/client/fake_kv_node.h"
#include "tests/client/test_options.h"

namespace kvraft::client::testing {
namespace {

using ::testing::HasSubstr;
using std::chrono::milliseconds;

// A call's answer and the thread that was told it.
struct Told {
  Result result;
  std::thread::id thread;
};

// A Done that fulfils the returned future; a second call of it would throw
// std::future_error (promise already satisfied), failing the test.
std::pair<KvClient::Done, std::future<Told>> Await() {
  auto promise = std::make_shared<std::promise<Told>>();
  std::future<Told> told = promise->get_future();
  return {[promise](Result r) {
            promise->set_value(Told{std::move(r), std::this_thread::get_id()});
          },
          std::move(told)};
}

Told Wait(std::future<Told>& told) {
  EXPECT_EQ(told.wait_for(kPatience), std::future_status::ready);
  return told.get();
}

void NotLeader(wire::Result& result, const std::string& leaderAddress) {
  result.code = wire::Code::NOT_LEADER;
  result.leaderId = 2;
  result.leaderAddress = leaderAddress;
}

TEST(AsyncCalls, EachCallIsAnsweredOnceOnTheClientsThreadLikeItsBlockingTwin) {
  FakeKvNode node;
  node.onGet = [](const wire::GetRequest& request, wire::GetResponse& out) {
    out.__set_value("value of " + request.key);
  };
  node.onWrite = [](const WriteCall& w, wire::WriteResponse& out) {
    if (w.method == "CompareAndSwap") {
      out.result.code = wire::Code::CAS_FAILED;
      out.__set_current("now");
    }
  };
  node.Start();
  KvClient client(TestOptions({node.endpoint()}));

  auto [putDone, put] = Await();
  client.PutAsync("a", "1", putDone);
  const Told putTold = Wait(put);
  EXPECT_EQ(putTold.result.ToString(), "OK");
  EXPECT_NE(putTold.thread, std::this_thread::get_id());

  auto [appendDone, append] = Await();
  client.AppendAsync("a", "2", appendDone);
  EXPECT_EQ(Wait(append).result.ToString(), "OK");
  auto [deleteDone, remove] = Await();
  client.DeleteAsync("a", deleteDone);
  EXPECT_EQ(Wait(remove).result.ToString(), "OK");
  auto [casDone, cas] = Await();
  client.CompareAndSwapAsync("a", std::nullopt, "3", casDone);
  const Told casTold = Wait(cas);
  EXPECT_EQ(casTold.result.code, Code::kCasFailed);
  EXPECT_EQ(casTold.result.value, "now");
  auto [getDone, get] = Await();
  client.GetAsync("b", /*stale=*/false, getDone);
  const Told getTold = Wait(get);
  ASSERT_TRUE(getTold.result.ok()) << getTold.result.ToString();
  EXPECT_EQ(getTold.result.value, "value of b");

  const std::vector<WriteCall> writes = node.writes();
  ASSERT_EQ(writes.size(), 4u);
  EXPECT_EQ(node.registrations(), 1);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(writes[i].session.sequence, i + 1);
    EXPECT_EQ(writes[i].session.firstOutstanding, i + 1);
  }
  EXPECT_EQ(writes[1].method, "Append");
  EXPECT_EQ(writes[2].method, "Delete");
  // Every call travelled in a batch.
  EXPECT_EQ(node.batchSizes().size(), 5u);
}

TEST(AsyncCalls, AWriteRedirectedToTheLeaderKeepsItsSequenceNumber) {
  FakeKvNode leader;
  leader.Start();
  FakeKvNode follower;
  const std::string leaderAddress = leader.endpoint();
  follower.onWrite = [&](const WriteCall&, wire::WriteResponse& out) {
    NotLeader(out.result, leaderAddress);
  };
  follower.Start();

  KvClient client(TestOptions({follower.endpoint()}));
  auto [done, told] = Await();
  client.AppendAsync("k", "x", done);
  ASSERT_TRUE(Wait(told).result.ok());
  ASSERT_EQ(follower.writes().size(), 1u);
  ASSERT_EQ(leader.writes().size(), 1u);
  EXPECT_EQ(follower.writes()[0].session, leader.writes()[0].session);

  // The client now knows the leader: the next call goes straight there.
  auto [nextDone, next] = Await();
  client.PutAsync("k", "y", nextDone);
  ASSERT_TRUE(Wait(next).result.ok());
  EXPECT_EQ(follower.writes().size(), 1u);
  ASSERT_EQ(leader.writes().size(), 2u);
  EXPECT_EQ(leader.writes()[1].session.sequence, 2);
}

TEST(AsyncCalls, AWriteTheNodeTimedOutIsRetriedWithItsNumber) {
  FakeKvNode node;
  std::atomic<int> writes{0};
  node.onWrite = [&](const WriteCall&, wire::WriteResponse& out) {
    if (++writes == 1) {
      out.result.code = wire::Code::TIMEOUT;
      out.result.message = "not applied in time";
    }
  };
  node.Start();
  KvClient client(TestOptions({node.endpoint()}));
  auto [done, told] = Await();
  client.PutAsync("k", "v", done);
  ASSERT_TRUE(Wait(told).result.ok());
  const std::vector<WriteCall> seen = node.writes();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].session, seen[1].session);
}

TEST(AsyncCalls, AnUnreachableClusterFailsEachCallOnceSayingWhatWasTried) {
  ClosedPort a;
  ClosedPort b;
  KvClient client(TestOptions({a.endpoint(), b.endpoint()}, milliseconds(300)));
  auto [getDone, get] = Await();
  client.GetAsync("k", /*stale=*/true, getDone);
  const Told told = Wait(get);
  EXPECT_EQ(told.result.code, Code::kUnavailable) << told.result.ToString();
  EXPECT_THAT(told.result.message, HasSubstr(a.endpoint() + " (connection refused"));
  EXPECT_THAT(told.result.message, HasSubstr(b.endpoint() + " (connection refused"));

  // A write cannot even register its session; it fails the same way, off
  // the caller's thread.
  auto [putDone, put] = Await();
  client.PutAsync("k", "v", putDone);
  const Told putTold = Wait(put);
  EXPECT_EQ(putTold.result.code, Code::kUnavailable) << putTold.result.ToString();
  EXPECT_THAT(putTold.result.message, HasSubstr("the write was not sent"));
  EXPECT_NE(putTold.thread, std::this_thread::get_id());
}

TEST(AsyncCalls, NoEndpointsIsAnInvalidArgumentToldOffTheCallersThread) {
  KvClient client(TestOptions({}));
  auto [done, told] = Await();
  client.GetAsync("k", false, done);
  const Told t = Wait(told);
  EXPECT_EQ(t.result.code, Code::kInvalidArgument);
  EXPECT_NE(t.thread, std::this_thread::get_id());
}

// Each of `chains` clients makes `length` puts, each from the callback of
// its last, as kvbench does.
class PutChains {
 public:
  PutChains(KvClient& client, int chains, int length)
      : client_(client), length_(length), left_(chains) {
    for (int c = 0; c < chains; ++c) Next(c, 0);
  }
  bool WaitDone() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kPatience, [&] { return left_ == 0; });
  }
  int failures() {
    std::lock_guard<std::mutex> lock(mu_);
    return failures_;
  }

 private:
  void Next(int chain, int i) {
    if (i == length_) {
      std::lock_guard<std::mutex> lock(mu_);
      if (--left_ == 0) cv_.notify_all();
      return;
    }
    client_.PutAsync("k" + std::to_string(chain), std::to_string(i),
                     [this, chain, i](const Result& r) {
                       if (!r.ok()) {
                         std::lock_guard<std::mutex> lock(mu_);
                         ++failures_;
                       }
                       Next(chain, i + 1);
                     });
  }

  KvClient& client_;
  const int length_;
  std::mutex mu_;
  std::condition_variable cv_;
  int left_;
  int failures_ = 0;
};

TEST(AsyncCalls, CallsMadeFromCallbacksAreNumberedOnceEachAndShareBatches) {
  FakeKvNode node;
  node.Start();
  constexpr int kChains = 16, kLength = 20;
  {
    KvClient client(TestOptions({node.endpoint()}));
    PutChains chains(client, kChains, kLength);
    ASSERT_TRUE(chains.WaitDone());
    EXPECT_EQ(chains.failures(), 0);
  }
  const std::vector<WriteCall> writes = node.writes();
  ASSERT_EQ(writes.size(), size_t{kChains * kLength});
  std::set<int64_t> sequences;
  for (const WriteCall& w : writes) {
    EXPECT_TRUE(sequences.insert(w.session.sequence).second) << w.session.sequence;
    EXPECT_LE(w.session.firstOutstanding, w.session.sequence);
  }
  EXPECT_EQ(*sequences.begin(), 1);
  EXPECT_EQ(*sequences.rbegin(), kChains * kLength);
  // 16 calls kept going share batches: fewer requests than calls.
  EXPECT_LT(node.batchSizes().size(), writes.size());
}

TEST(AsyncCalls, TheDestructorWaitsForEveryCallsDone) {
  FakeKvNode node;
  Gate release;
  node.onWrite = [&](const WriteCall&, wire::WriteResponse&) { release.Wait(); };
  node.Start();
  std::atomic<bool> told{false};
  std::atomic<bool> destroyed{false};
  auto client = std::make_unique<KvClient>(TestOptions({node.endpoint()}));
  client->PutAsync("k", "v", [&](const Result& r) {
    EXPECT_TRUE(r.ok()) << r.ToString();
    EXPECT_FALSE(destroyed.load());
    told.store(true);
  });
  ASSERT_TRUE(node.WaitForWrites(1));
  std::thread opener([&] {
    std::this_thread::sleep_for(milliseconds(50));
    release.Open();
  });
  client.reset();
  destroyed.store(true);
  opener.join();
  EXPECT_TRUE(told.load());
}

}  // namespace
}  // namespace kvraft::client::testing
