// kvadmin verify on copies of a real node's data directory with one kind of
// damage planted in each: it must exit 1 and name the place.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "raftlog/log_codec.h"
#include "statemachine/kv_layout.h"
#include "statemachine/reply.h"
#include "tests/tools/kvadmin_fixture.h"
#include "tests/tools/kvadmin_runner.h"

namespace kvraft::tools_test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A plain read-write RocksDB handle on a copy, for planting damage the way
// a disk or a bug would: beneath the stores' own APIs.
class RawDb {
 public:
  RawDb(const std::string& dir, const std::vector<std::string>& families) {
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& f : families) descriptors.emplace_back(f, rocksdb::ColumnFamilyOptions());
    rocksdb::DBOptions options;
    const rocksdb::Status s = rocksdb::DB::Open(options, dir, descriptors, &handles_, &db_);
    EXPECT_TRUE(s.ok()) << dir << ": " << s.ToString();
  }
  ~RawDb() {
    if (db_ == nullptr) return;
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
    delete db_;
  }
  bool ok() const { return db_ != nullptr; }
  rocksdb::DB* db() { return db_; }
  rocksdb::ColumnFamilyHandle* cf(size_t i) { return handles_.at(i); }

 private:
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

class KvadminVerify : public WrittenClusterTest {
 protected:
  // A fresh copy of node n's data directory under the cluster's root (which
  // the cluster removes).
  std::string CopyOf(int n, const std::string& name) {
    const std::string copy = data_->cluster->root() + "/copy-" + name;
    fs::remove_all(copy);
    fs::copy(data_->cluster->DataDir(n), copy, fs::copy_options::recursive);
    return copy;
  }
  // An index in the middle of node n's log (entries on both sides).
  static uint64_t Middle(int n) {
    return static_cast<uint64_t>((data_->snapshotIndex[n] + 1 + data_->lastLogIndex[n]) / 2);
  }
  static std::string LiveGeneration(const std::string& dataDir) {
    std::ifstream in(dataDir + "/kv/LIVE");
    std::string name;
    std::getline(in, name);
    return dataDir + "/kv/" + name;
  }
  // The client id and header bytes of the first session in `db`'s
  // sessions family (the family at handle 1).
  static void FirstSession(RawDb& db, uint64_t* client, std::string* header) {
    std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator({}, db.cf(1)));
    it->SeekToFirst();
    ASSERT_TRUE(it->Valid());
    bool isReply = false;
    uint64_t seq = 0;
    ASSERT_TRUE(statemachine::ParseSessionKey(std::string_view(it->key().data(), it->key().size()),
                                              client, &isReply, &seq));
    ASSERT_FALSE(isReply);
    *header = it->value().ToString();
  }
  // Runs verify plain and --json; expects exit 1, a line naming `where`
  // with `what`, and the same problem in the JSON list.
  static void ExpectProblem(const std::string& dir, const std::string& where, const std::string& what) {
    const auto r = RunKvadmin("verify", dir);
    EXPECT_EQ(r.exitCode, 1) << r.output;
    bool found = false;
    for (const std::string& line : Lines(r.output)) {
      found = found || (line.rfind(where + ": ", 0) == 0 && line.find(what) != std::string::npos);
    }
    EXPECT_TRUE(found) << "no line \"" << where << ": ..." << what << "...\" in:\n" << r.output;
    int code = -1;
    const json j = RunKvadminJson("verify", dir, {}, &code);
    EXPECT_EQ(code, 1);
    EXPECT_EQ(j["ok"], false);
    bool inJson = false;
    for (const json& p : j["problems"]) {
      inJson = inJson || (p["where"] == where && p["problem"].get<std::string>().find(what) != std::string::npos);
    }
    EXPECT_TRUE(inJson) << j.dump(2);
  }
};

TEST_F(KvadminVerify, CleanCopyPasses) {
  const std::string copy = CopyOf(1, "clean");
  const auto r = RunKvadmin("verify", copy);
  EXPECT_EQ(r.exitCode, 0) << r.output;
}

TEST_F(KvadminVerify, FlippedByteInALogEntryIsNamedByIndex) {
  const int n = 1;
  const std::string copy = CopyOf(n, "flipped");
  const uint64_t index = Middle(n);
  {
    RawDb db(copy + "/raft", {"default", "log", "meta"});
    ASSERT_TRUE(db.ok());
    std::string value;
    ASSERT_TRUE(db.db()->Get({}, db.cf(1), raft::EncodeLogKey(index), &value).ok());
    ASSERT_GT(value.size(), 9u);
    value[9] ^= 0x20;  // the first payload byte (or the CRC of an empty one)
    ASSERT_TRUE(db.db()->Put({}, db.cf(1), raft::EncodeLogKey(index), value).ok());
  }
  ExpectProblem(copy, "raft log index " + std::to_string(index), "fails its checksum");
  // The other commands still show the rest and flag the damaged entry.
  const auto log = RunKvadmin("log", copy);
  EXPECT_EQ(log.exitCode, 2) << log.output;
  EXPECT_NE(log.output.find(std::to_string(index) + " DAMAGED: "), std::string::npos) << log.output;
}

TEST_F(KvadminVerify, MissingEntryIsAHoleNamedByIndex) {
  const int n = 2;
  const std::string copy = CopyOf(n, "hole");
  const uint64_t index = Middle(n);
  {
    RawDb db(copy + "/raft", {"default", "log", "meta"});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db.db()->Delete({}, db.cf(1), raft::EncodeLogKey(index)).ok());
  }
  ExpectProblem(copy, "raft log index " + std::to_string(index), "missing");
}

TEST_F(KvadminVerify, AppliedIndexBeyondTheLogIsReported) {
  const int n = 3;
  const std::string copy = CopyOf(n, "applied");
  const uint64_t beyond = static_cast<uint64_t>(data_->lastLogIndex[n]) + 7;
  {
    RawDb db(LiveGeneration(copy), {"default", statemachine::kSessionsColumnFamily,
                                    statemachine::kMetaColumnFamily});
    ASSERT_TRUE(db.ok());
    statemachine::AppliedState applied{beyond, static_cast<uint64_t>(data_->term), 1};
    ASSERT_TRUE(db.db()->Put({}, db.cf(2), std::string(statemachine::kAppliedKey),
                             statemachine::EncodeAppliedState(applied)).ok());
  }
  ExpectProblem(copy, "kv meta 'applied'",
                "applied index " + std::to_string(beyond) + " is beyond the log's last index " +
                    std::to_string(data_->lastLogIndex[n]));
}

TEST_F(KvadminVerify, LogTailCutBelowTheAppliedIndexIsReported) {
  // The other way to get there: the log lost its tail.
  const int n = 1;
  const std::string copy = CopyOf(n, "tail");
  const uint64_t keep = Middle(n);
  {
    RawDb db(copy + "/raft", {"default", "log", "meta"});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db.db()->DeleteRange({}, db.cf(1), raft::EncodeLogKey(keep + 1),
                                     raft::EncodeLogKey(data_->lastLogIndex[n] + 1)).ok());
  }
  ExpectProblem(copy, "kv meta 'applied'",
                "applied index " + std::to_string(data_->applied[n]) +
                    " is beyond the log's last index " + std::to_string(keep));
}

TEST_F(KvadminVerify, DamagedSessionRecordIsNamedByClient) {
  const int n = 2;
  const std::string copy = CopyOf(n, "session");
  uint64_t client = 0;
  {
    RawDb db(LiveGeneration(copy), {"default", statemachine::kSessionsColumnFamily,
                                    statemachine::kMetaColumnFamily});
    ASSERT_TRUE(db.ok());
    std::string header;
    ASSERT_NO_FATAL_FAILURE(FirstSession(db, &client, &header));
    ASSERT_TRUE(db.db()
                    ->Put({}, db.cf(1), statemachine::SessionHeaderKey(client),
                          std::string("\x09garbage", 8))
                    .ok());
  }
  ExpectProblem(copy, "kv session " + std::to_string(client), "malformed");
}

TEST_F(KvadminVerify, AReplyCachedBothAsAPlainOkAndAsARecordIsReported) {
  const int n = 2;
  const std::string copy = CopyOf(n, "twice");
  uint64_t client = 0;
  const uint64_t seq = 1'000'000;  // above anything the clients sent
  {
    RawDb db(LiveGeneration(copy), {"default", statemachine::kSessionsColumnFamily,
                                    statemachine::kMetaColumnFamily});
    ASSERT_TRUE(db.ok());
    std::string bytes;
    ASSERT_NO_FATAL_FAILURE(FirstSession(db, &client, &bytes));
    statemachine::SessionHeader header;
    ASSERT_TRUE(statemachine::DecodeSessionHeader(bytes, &header).ok());
    header.okSequences.push_back(seq);
    ASSERT_TRUE(db.db()->Put({}, db.cf(1), statemachine::SessionHeaderKey(client),
                             statemachine::EncodeSessionHeader(header))
                    .ok());
    ASSERT_TRUE(db.db()->Put({}, db.cf(1), statemachine::CachedReplyKey(client, seq),
                             statemachine::EncodeReply(statemachine::Reply{}))
                    .ok());
  }
  ExpectProblem(copy, "kv session " + std::to_string(client) + " reply " + std::to_string(seq),
                "cached twice");
}

}  // namespace
}  // namespace kvraft::tools_test
