// Appending 256-byte entries through RocksDbStorage::Save against raw
// RocksDB synced WriteBatches of the same entries (same key encoding, same
// RocksDB options, but no CRC, no hard state, no tail cache): what the
// store costs on top of the fsync it cannot avoid. Issue 4's target: the
// store reaches at least 80% of raw RocksDB's entries/s.
//
//   Store/batch:N               one thread, Save of N entries + hard state
//   Raw/batch:N                 one thread, synced WriteBatch of N Puts
//   StoreGroupCommit/batch:N    16 producers hand N entries each to one
//                               writer thread, which Saves whatever is
//                               queued in one batch (the node's log writer)
//   RawConcurrent/batch:N       16 threads each write synced batches of N;
//                               RocksDB's write group commits them
//
// Run: build/bin/log_store_bench --benchmark_min_time=0.5
//        [--log_bench_dir=/path/on/the/data/disk]
// Results and the machine they came from: bench/RESULTS.md.
#include <benchmark/benchmark.h>
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "raftlog/log_codec.h"
#include "raftlog/rocksdb_storage.h"

DEFINE_string(log_bench_dir, "/tmp",
              "Directory in which each benchmark creates (and afterwards removes) its own "
              "store; put it on the disk a node's data directory would be on. Default /tmp.");

namespace kvraft::raft {
namespace {

namespace fs = std::filesystem;

constexpr size_t kEntryBytes = 256;
constexpr int kProducers = 16;

// A fresh directory for one benchmark run, removed afterwards.
class BenchDir {
 public:
  BenchDir() {
    std::string tmpl = FLAGS_log_bench_dir + "/kvraft-log-bench-XXXXXX";
    CHECK(::mkdtemp(tmpl.data()) != nullptr) << "cannot create a directory in " << FLAGS_log_bench_dir;
    path_ = tmpl;
  }
  ~BenchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string path() const { return path_; }

 private:
  std::string path_;
};

// Command-like bytes (not all one value, so nothing is unrealistically
// compressible even where compression is on).
std::string Payload() {
  std::string p(kEntryBytes, '\0');
  uint32_t x = 12345;
  for (char& c : p) c = static_cast<char>((x = x * 1103515245 + 12345) >> 16);
  return p;
}

std::unique_ptr<RocksDbStorage> OpenStore(const std::string& dir) {
  RocksDbStorage::Options o;
  o.dir = dir + "/raft";
  o.clusterId = "bench";
  o.nodeId = 1;
  o.voters = {1};
  std::unique_ptr<RocksDbStorage> store;
  Status s = RocksDbStorage::Open(o, &store);
  CHECK(s.ok()) << s.ToString();
  return store;
}

// Raw RocksDB with the store's options and column families.
struct RawDb {
  explicit RawDb(const std::string& dir) {
    rocksdb::DBOptions o = RocksDbStorage::DbOptions();
    o.create_if_missing = true;
    o.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
        {rocksdb::kDefaultColumnFamilyName, {}},
        {RocksDbStorage::kLogColumnFamily, RocksDbStorage::LogColumnFamilyOptions()},
        {RocksDbStorage::kMetaColumnFamily, RocksDbStorage::MetaColumnFamilyOptions()}};
    rocksdb::Status s = rocksdb::DB::Open(o, dir + "/raw", cfs, &handles, &db);
    CHECK(s.ok()) << s.ToString();
  }
  ~RawDb() {
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    db->Close().PermitUncheckedError();
    delete db;
  }
  void Append(uint64_t first, int count, const std::string& payload) {
    rocksdb::WriteBatch batch;
    for (int i = 0; i < count; ++i) batch.Put(handles[1], EncodeLogKey(first + i), payload);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::Status s = db->Write(wo, &batch);
    CHECK(s.ok()) << s.ToString();
  }
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
};

std::vector<Entry> Batch(int count, const std::string& payload) {
  std::vector<Entry> entries(count);
  for (Entry& e : entries) {
    e.term = 1;
    e.data = payload;
  }
  return entries;
}

void Report(benchmark::State& state, int batch) {
  state.SetItemsProcessed(state.iterations() * batch);
  state.SetBytesProcessed(state.iterations() * batch * kEntryBytes);
}

// ------------------------------------------------------------ one thread

void BM_Store(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  BenchDir dir;
  auto store = OpenStore(dir.path());
  std::vector<Entry> entries = Batch(batch, Payload());
  const HardState hs{1, 1, 0};
  uint64_t next = 1;
  for (auto _ : state) {
    for (Entry& e : entries) e.index = next++;
    Status s = store->Save(&hs, entries);
    CHECK(s.ok()) << s.ToString();
  }
  Report(state, batch);
}

void BM_Raw(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  BenchDir dir;
  RawDb raw(dir.path());
  const std::string payload = Payload();
  uint64_t next = 1;
  for (auto _ : state) {
    raw.Append(next, batch, payload);
    next += batch;
  }
  Report(state, batch);
}

// ------------------------------------------------------------ 16 threads

// The node's log writer in miniature: producers queue entries and wait;
// one thread writes everything queued as one Save (one fsync), then wakes
// the producers whose entries it wrote.
class GroupCommitWriter {
 public:
  explicit GroupCommitWriter(RocksDbStorage* store) : store_(store), thread_([this] { Run(); }) {}
  ~GroupCommitWriter() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    work_.notify_one();
    thread_.join();
  }

  // Queues `entries` (indexes assigned here) and returns once they are durable.
  void AppendAndWait(std::vector<Entry>&& entries) {
    std::unique_lock<std::mutex> l(mu_);
    for (Entry& e : entries) {
      e.index = nextIndex_++;
      queue_.push_back(std::move(e));
    }
    const uint64_t mine = nextIndex_ - 1;
    work_.notify_one();
    durable_.wait(l, [&] { return durableIndex_ >= mine; });
  }

 private:
  void Run() {
    const HardState hs{1, 1, 0};
    std::vector<Entry> batch;
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      work_.wait(l, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      batch.swap(queue_);
      l.unlock();
      Status s = store_->Save(&hs, batch);
      CHECK(s.ok()) << s.ToString();
      l.lock();
      durableIndex_ = batch.back().index;
      batch.clear();
      durable_.notify_all();
    }
  }

  RocksDbStorage* const store_;
  std::mutex mu_;
  std::condition_variable work_;
  std::condition_variable durable_;
  std::vector<Entry> queue_;
  uint64_t nextIndex_ = 1;
  uint64_t durableIndex_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

// Shared by the benchmark's threads; thread 0 sets it up before the timed
// loop and tears it down after (Google Benchmark holds all threads at a
// barrier at both points).
struct SharedStore {
  BenchDir dir;
  std::unique_ptr<RocksDbStorage> store = OpenStore(dir.path());
  GroupCommitWriter writer{store.get()};
};
SharedStore* sharedStore = nullptr;

void BM_StoreGroupCommit(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  if (state.thread_index() == 0) sharedStore = new SharedStore;
  const std::string payload = Payload();
  for (auto _ : state) sharedStore->writer.AppendAndWait(Batch(batch, payload));
  if (state.thread_index() == 0) {
    delete sharedStore;
    sharedStore = nullptr;
  }
  Report(state, batch);
}

struct SharedRaw {
  BenchDir dir;
  RawDb raw{dir.path()};
  std::atomic<uint64_t> next{1};
};
SharedRaw* sharedRaw = nullptr;

void BM_RawConcurrent(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  if (state.thread_index() == 0) sharedRaw = new SharedRaw;
  const std::string payload = Payload();
  for (auto _ : state) sharedRaw->raw.Append(sharedRaw->next.fetch_add(batch), batch, payload);
  if (state.thread_index() == 0) {
    delete sharedRaw;
    sharedRaw = nullptr;
  }
  Report(state, batch);
}

BENCHMARK(BM_Store)->ArgName("batch")->Arg(1)->Arg(16)->Arg(256)->UseRealTime();
BENCHMARK(BM_Raw)->ArgName("batch")->Arg(1)->Arg(16)->Arg(256)->UseRealTime();
BENCHMARK(BM_StoreGroupCommit)->ArgName("batch")->Arg(1)->Arg(16)->Arg(256)->Threads(kProducers)->UseRealTime();
BENCHMARK(BM_RawConcurrent)->ArgName("batch")->Arg(1)->Arg(16)->Arg(256)->Threads(kProducers)->UseRealTime();

}  // namespace
}  // namespace kvraft::raft

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);  // takes the --benchmark_* flags
  FLAGS_logtostderr = true;  // the store's few INFO lines, not log files in /tmp
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  google::InitGoogleLogging(argv[0]);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
