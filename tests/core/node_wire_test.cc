// The pieces of kvd that parse what comes from outside: the cluster flags
// and raft messages off the wire.
#include <gtest/gtest.h>

#include "core/cluster_config.h"
#include "core/raft_wire.h"
#include "core/thrift_enum.h"

namespace kvraft::core {
namespace {

const char* kPeers = "1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003";
const char* kClients = "1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103";

TEST(ClusterConfig, ParsesMembers) {
  ClusterConfig c;
  ASSERT_TRUE(ParseClusterConfig("demo", 2, kPeers, kClients, &c).ok());
  EXPECT_EQ(c.self, 2u);
  EXPECT_EQ(c.Voters(), (std::vector<raft::NodeId>{1, 2, 3}));
  EXPECT_EQ(c.Self().raft.ToString(), "127.0.0.1:7002");
  EXPECT_EQ(c.ClientAddressOf(3), "127.0.0.1:7103");
  EXPECT_EQ(c.ClientAddressOf(9), "");
}

TEST(ClusterConfig, RefusesWhatCannotWork) {
  ClusterConfig c;
  struct Case {
    std::string cluster;
    int64_t self;
    std::string peers, clients, mentions;
  } cases[] = {
      {"", 1, kPeers, kClients, "--cluster_id"},
      {"demo", 4, kPeers, kClients, "--node_id=4"},
      {"demo", 0, kPeers, kClients, "--node_id=0"},
      {"demo", 1, "", kClients, "--peers is empty"},
      {"demo", 1, "1=127.0.0.1", kClients, "HOST:PORT"},
      {"demo", 1, "1=127.0.0.1:99999", kClients, "port"},
      {"demo", 1, "x=127.0.0.1:1", kClients, "positive node id"},
      {"demo", 1, "1=a:1,1=b:2", kClients, "listed twice"},
      {"demo", 1, kPeers, "1=127.0.0.1:7101,2=127.0.0.1:7102", "not in --client_addresses"},
      {"demo", 1, kPeers, "1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103,4=h:1", "not in --peers"},
      {"demo", 1, kPeers, "1=127.0.0.1:7001,2=127.0.0.1:7102,3=127.0.0.1:7103", "used twice"},
  };
  for (const Case& k : cases) {
    Status s = ParseClusterConfig(k.cluster, k.self, k.peers, k.clients, &c);
    EXPECT_FALSE(s.ok()) << k.peers << " / " << k.clients;
    EXPECT_NE(s.message().find(k.mentions), std::string::npos) << s.ToString();
  }
}

raft::Message FullMessage() {
  raft::Message m;
  m.type = raft::MessageType::kInstallSnapshot;
  m.from = 1;
  m.to = 2;
  m.term = 7;
  m.lastLogIndex = 11;
  m.lastLogTerm = 6;
  m.prevLogIndex = 10;
  m.prevLogTerm = 5;
  m.leaderCommit = 9;
  m.entries = {{11, 7, raft::EntryType::kNormal, "cmd"}, {12, 7, raft::EntryType::kNoop, ""}};
  m.success = true;
  m.matchIndex = 12;
  m.rejectIndex = 3;
  m.conflictTerm = 2;
  m.conflictIndex = 1;
  m.readRound = 44;
  m.snapshot = {100, 6, {1, 2, 3}};
  m.offset = 4096;
  m.data = std::string("\0chunk\xff", 7);
  m.done = true;
  m.chunkOffset = 2048;
  return m;
}

TEST(RaftWire, EveryFieldSurvivesTheRoundTrip) {
  const raft::Message m = FullMessage();
  raft::Message back;
  ASSERT_TRUE(FromWire(ToWire(m), &back).ok());
  EXPECT_EQ(back.type, m.type);
  EXPECT_EQ(back.from, m.from);
  EXPECT_EQ(back.to, m.to);
  EXPECT_EQ(back.term, m.term);
  EXPECT_EQ(back.lastLogIndex, m.lastLogIndex);
  EXPECT_EQ(back.lastLogTerm, m.lastLogTerm);
  EXPECT_EQ(back.prevLogIndex, m.prevLogIndex);
  EXPECT_EQ(back.prevLogTerm, m.prevLogTerm);
  EXPECT_EQ(back.leaderCommit, m.leaderCommit);
  EXPECT_EQ(back.entries, m.entries);
  EXPECT_EQ(back.success, m.success);
  EXPECT_EQ(back.matchIndex, m.matchIndex);
  EXPECT_EQ(back.rejectIndex, m.rejectIndex);
  EXPECT_EQ(back.conflictTerm, m.conflictTerm);
  EXPECT_EQ(back.conflictIndex, m.conflictIndex);
  EXPECT_EQ(back.readRound, m.readRound);
  EXPECT_EQ(back.snapshot, m.snapshot);
  EXPECT_EQ(back.offset, m.offset);
  EXPECT_EQ(back.data, m.data);
  EXPECT_EQ(back.done, m.done);
  EXPECT_EQ(back.chunkOffset, m.chunkOffset);
}

TEST(RaftWire, RefusesWhatThePeerCannotHaveMeant) {
  raft::Message back;
  thrift::RaftMessage w = ToWire(FullMessage());
  SetRawEnum(&w.type, 42);
  EXPECT_FALSE(FromWire(std::move(w), &back).ok());

  w = ToWire(FullMessage());
  w.term = -1;
  Status s = FromWire(std::move(w), &back);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("term is negative"), std::string::npos) << s.ToString();

  w = ToWire(FullMessage());
  SetRawEnum(&w.entries[0].type, 9);
  EXPECT_FALSE(FromWire(std::move(w), &back).ok());
}

}  // namespace
}  // namespace kvraft::core
