// PeerSender against a fake peer: messages arrive in the order they were
// sent, whichever thread wrote them, and a peer that stops reading never
// blocks the caller of Send().
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "RaftService.h"
#include "core/cluster_config.h"
#include "core/peer_sender.h"
#include "core/thrift_server.h"

namespace kvraft::core {
namespace {

using namespace std::chrono_literals;

// Records the terms of the messages it receives: 0 for the probes that
// find out whether the sender is connected, 1, 2, ... for the numbered ones.
// While held, its Deliver does not return, and the server (handlers on its
// IO thread) reads nothing more.
class FakePeer : public thrift::RaftServiceIf {
 public:
  void Hello(thrift::HelloResponse& out, const std::string&, int64_t, int64_t) override {
    out.code = thrift::HelloCode::OK;
  }
  void Deliver(const std::string&, int64_t, const std::vector<thrift::RaftMessage>& messages) override {
    std::unique_lock<std::mutex> lock(mu_);
    for (const thrift::RaftMessage& m : messages) {
      if (m.term == 0) {
        ++probes_;
      } else {
        terms_.push_back(m.term);
      }
    }
    if (held_) ++heldCalls_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return !held_; });
  }
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = true;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = false;
    changed_.notify_all();
  }
  // Waits (bounded) until `count` numbered messages are in; returns their terms.
  std::vector<int64_t> WaitFor(size_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait_for(lock, 60s, [&] { return terms_.size() >= count; });
    return terms_;
  }
  size_t probes() {
    std::lock_guard<std::mutex> lock(mu_);
    return probes_;
  }
  // Waits (bounded) until a Deliver call is stuck on the hold.
  bool WaitUntilStuck() {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, 60s, [&] { return heldCalls_ > 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<int64_t> terms_;
  size_t probes_ = 0;
  size_t heldCalls_ = 0;  // Deliver calls that arrived while held
  bool held_ = false;
};

class PeerSenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RouteThriftLogsToGlog();  // as kvd does: Thrift's own printer races glog over the time zone
    peer_ = std::make_shared<FakePeer>();
    ThriftServer::Options o;
    o.name = "fake-peer";
    o.listen = Address{"127.0.0.1", 0};
    o.maxFrameBytes = 64 << 20;
    ASSERT_TRUE(ThriftServer::Start(std::make_shared<thrift::RaftServiceProcessorFactory>(
                                        std::make_shared<thrift::RaftServiceIfSingletonFactory>(peer_)),
                                    o, &server_)
                    .ok());
    const std::string port = std::to_string(server_->port());
    ASSERT_TRUE(ParseClusterConfig("peer-sender-test", 1, "1=127.0.0.1:1,2=127.0.0.1:" + port,
                                   "1=127.0.0.1:2,2=127.0.0.1:3", &cluster_)
                    .ok());
  }
  void TearDown() override {
    if (peer_) peer_->Release();
    sender_.reset();
    server_.reset();
  }

  // Starts a sender and waits (bounded) until its connection is up: the
  // first message that is not dropped.
  void StartSender(const PeerSender::Options& options) {
    sender_ = std::make_unique<PeerSender>(cluster_, 2, options);
    sender_->Start();
    for (int i = 0; i < 6000 && peer_->probes() == 0; ++i) {
      sender_->Send(Message(0, 10));
      std::this_thread::sleep_for(10ms);
    }
    ASSERT_GT(peer_->probes(), 0u) << "the sender never connected";
  }

  static raft::Message Message(uint64_t term, size_t dataBytes) {
    raft::Message m;
    m.type = raft::MessageType::kAppendEntries;
    m.from = 1;
    m.to = 2;
    m.term = term;
    if (dataBytes > 0) m.entries.push_back(raft::Entry{term, term, raft::EntryType::kNormal, std::string(dataBytes, 'v')});
    return m;
  }

  // The numbered messages must arrive as 1, 2, ..., n, none lost.
  void ExpectInOrder(size_t n) {
    const std::vector<int64_t> terms = peer_->WaitFor(n);
    ASSERT_EQ(terms.size(), n);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(terms[i], static_cast<int64_t>(i + 1)) << "at " << i;
  }

  std::shared_ptr<FakePeer> peer_;
  std::unique_ptr<ThriftServer> server_;
  ClusterConfig cluster_;
  std::unique_ptr<PeerSender> sender_;
};

TEST_F(PeerSenderTest, SmallMessagesOnAnIdleConnectionAreWrittenByTheCaller) {
  PeerSender::Options o;
  StartSender(o);
  const uint64_t before = sender_->sentDirectly();
  for (uint64_t t = 1; t <= 50; ++t) {
    sender_->Send(Message(t, 100));
    // Send() has returned, so the next message finds the connection idle.
    ASSERT_EQ(peer_->WaitFor(t).size(), t);
  }
  ExpectInOrder(50);
  EXPECT_EQ(sender_->sentDirectly() - before, 50u);
}

TEST_F(PeerSenderTest, MixedSizesFromBothPathsArriveInOrder) {
  PeerSender::Options o;
  o.directSendBytes = 4 << 10;
  StartSender(o);
  const uint64_t before = sender_->sentDirectly();
  const size_t n = 3000;
  for (uint64_t t = 1; t <= n; ++t) {
    // Every seventh message is too large to go directly; it and the ones
    // queued behind it go through the thread.
    sender_->Send(Message(t, t % 7 == 0 ? 16 << 10 : 200));
  }
  ExpectInOrder(n);
  const uint64_t direct = sender_->sentDirectly() - before;
  EXPECT_GT(direct, 0u);
  EXPECT_LT(direct, n);
}

TEST_F(PeerSenderTest, WithDirectSendsOffEverythingGoesThroughTheThread) {
  PeerSender::Options o;
  o.directSendBytes = 0;
  StartSender(o);
  for (uint64_t t = 1; t <= 200; ++t) sender_->Send(Message(t, 100));
  ExpectInOrder(200);
  EXPECT_EQ(sender_->sentDirectly(), 0u);
}

TEST_F(PeerSenderTest, APeerThatStopsReadingNeverBlocksTheCaller) {
  PeerSender::Options o;
  o.directSendBytes = 8 << 10;
  o.ioTimeout = std::chrono::milliseconds(120000);  // a blocked write would hang, not fail
  StartSender(o);
  peer_->Hold();
  sender_->Send(Message(1, 100));
  ASSERT_TRUE(peer_->WaitUntilStuck());
  // Far more than the kernel's socket buffers hold, all in messages small
  // enough to be written directly if the connection looked idle.
  const size_t n = 4000;
  auto sending = std::async(std::launch::async, [&] {
    for (uint64_t t = 2; t <= n; ++t) sender_->Send(Message(t, 7 << 10));
  });
  ASSERT_EQ(sending.wait_for(60s), std::future_status::ready) << "Send() blocked on a peer that stopped reading";
  peer_->Release();
  ExpectInOrder(n);
}

}  // namespace
}  // namespace kvraft::core
