// KvStateMachine benchmarks (issue 5):
//   BM_ApplyPut          commands applied per second: Put, 16-byte keys,
//                        256-byte values, batches of 64 from 64 sessions;
//                        only ApplyBatch is timed (encoding is the node's).
//   BM_CreateSnapshot    time to checkpoint a state of N MiB; the first
//                        iteration also flushes the memtable the fill left
//                        (counter first_s), later ones only link files.
//   BM_StreamInstall     time to read a snapshot of N MiB as a stream in
//                        1 MiB chunks and install it on a fresh instance:
//                        CRCs on both sides, the writes, fsyncs, the swap
//                        and the reopen.
//   BM_Get               Gets per second of loaded keys chosen uniformly,
//                        from one thread, over N keys of 256-byte values
//                        (16-byte keys), applied as the log would; the
//                        fill's time is the counter fill_s.
// State sizes are user key+value bytes of incompressible 1 KiB values. Data
// goes under $KV_BENCH_DIR (default /tmp), removed at exit. A run of the
// 64 and 256 MiB points:
//   build/bin/kv_apply_bench --benchmark_filter='ApplyPut|/64/|/256/'
#include <benchmark/benchmark.h>
#include <glog/logging.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "statemachine/command.h"
#include "statemachine/kv_state_machine.h"
#include "statemachine/snapshot_reader.h"

namespace kvraft::statemachine {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void Check(const Status& s, const char* what) { CHECK(s.ok()) << what << ": " << s.ToString(); }

class ScratchDir {
 public:
  ScratchDir() {
    const char* base = getenv("KV_BENCH_DIR");
    std::string templ = std::string(base ? base : "/tmp") + "/kv_apply_bench_XXXXXX";
    CHECK(mkdtemp(templ.data()) != nullptr) << "cannot create a directory like " << templ;
    path_ = templ;
  }
  ~ScratchDir() { fs::remove_all(path_); }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Random 16-byte keys: hex of a 64-bit mix of a counter.
std::string Key(uint64_t i) {
  uint64_t z = i + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(z));
  return std::string(buf, 16);
}

// Registers `count` clients in one batch; returns their ids.
std::vector<uint64_t> RegisterClients(KvStateMachine& sm, size_t count) {
  std::vector<std::string> bytes;
  std::vector<AppliedCommand> batch;
  Command c;
  c.op = Operation::kRegisterClient;
  for (size_t i = 0; i < count; ++i) bytes.push_back(EncodeCommand(c));
  for (size_t i = 0; i < count; ++i) batch.push_back({sm.AppliedIndex() + 1 + i, 1, bytes[i]});
  std::vector<Reply> replies;
  Check(sm.ApplyBatch(batch, &replies), "register");
  std::vector<uint64_t> ids;
  for (const Reply& r : replies) ids.push_back(r.clientId);
  return ids;
}

// Puts from a set of sessions, encoded into batches as a node would.
class PutSource {
 public:
  PutSource(KvStateMachine& sm, size_t clients, size_t valueBytes)
      : sm_(sm), clients_(RegisterClients(sm, clients)), seq_(clients, 0), values_(64) {
    std::mt19937_64 rng(42);
    for (std::string& v : values_) {
      v.resize(valueBytes);
      for (char& ch : v) ch = static_cast<char>(rng());
    }
  }

  // Encodes the next `n` puts as entries after the applied index.
  const std::vector<AppliedCommand>& Next(size_t n) {
    bytes_.resize(n);
    batch_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const size_t client = next_ % clients_.size();
      const uint64_t seq = ++seq_[client];
      const std::string key = Key(next_);
      Command c;
      c.op = Operation::kPut;
      c.clientId = clients_[client];
      c.sequence = seq;
      c.firstOutstanding = seq;  // every earlier reply was seen
      c.leaderTimeMs = 1'000'000 + next_ / 1000;
      c.key = key;
      c.value = values_[next_ % values_.size()];
      bytes_[i].clear();
      EncodeCommand(c, &bytes_[i]);
      batch_[i] = {sm_.AppliedIndex() + 1 + i, 1, bytes_[i]};
      ++next_;
    }
    return batch_;
  }

 private:
  KvStateMachine& sm_;
  std::vector<uint64_t> clients_;
  std::vector<uint64_t> seq_;
  std::vector<std::string> values_;
  uint64_t next_ = 0;
  std::vector<std::string> bytes_;
  std::vector<AppliedCommand> batch_;
};

std::unique_ptr<KvStateMachine> OpenAt(const std::string& dir) {
  KvStateMachine::Options o;
  o.dir = dir;
  std::unique_ptr<KvStateMachine> sm;
  Check(KvStateMachine::Open(o, &sm), "open");
  return sm;
}

void BM_ApplyPut(benchmark::State& state) {
  const size_t batchSize = state.range(0);
  ScratchDir dir;
  std::unique_ptr<KvStateMachine> sm = OpenAt(dir.Sub("kv"));
  PutSource puts(*sm, 64, 256);
  std::vector<Reply> replies;
  for (auto _ : state) {
    const std::vector<AppliedCommand>& batch = puts.Next(batchSize);
    const Clock::time_point start = Clock::now();
    Check(sm->ApplyBatch(batch, &replies), "apply");
    state.SetIterationTime(Seconds(start));
  }
  state.SetItemsProcessed(state.iterations() * batchSize);
  state.counters["cmds_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * batchSize), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ApplyPut)->Arg(64)->UseManualTime()->MinTime(10.0)->Unit(benchmark::kMicrosecond);

// One filled instance per (puts, value size), shared by the benchmarks that
// read it and by every run of one benchmark: the library calls a benchmark
// several times while it sizes the iterations.
struct FilledState {
  ScratchDir dir;
  std::unique_ptr<KvStateMachine> sm;
  double fillSeconds = 0;
};

// Closed and removed by main() before exit: a RocksDB instance closed
// during static destruction may outlive RocksDB's own statics and crash.
std::map<std::pair<uint64_t, size_t>, std::unique_ptr<FilledState>> filledStates;

// Applies `puts` puts of distinct keys, Key(0) .. Key(puts - 1), in batches
// of 64 as the log would deliver them.
FilledState& Filled(uint64_t puts, size_t valueBytes) {
  std::unique_ptr<FilledState>& f = filledStates[{puts, valueBytes}];
  if (f) return *f;
  f = std::make_unique<FilledState>();
  f->sm = OpenAt(f->dir.Sub("kv"));
  PutSource source(*f->sm, 16, valueBytes);
  std::vector<Reply> replies;
  const Clock::time_point start = Clock::now();
  for (uint64_t done = 0; done < puts; done += 64) {
    Check(f->sm->ApplyBatch(source.Next(std::min<uint64_t>(64, puts - done)), &replies), "fill");
  }
  f->fillSeconds = Seconds(start);
  LOG(WARNING) << "applied " << puts << " puts of " << valueBytes << "-byte values in "
               << f->fillSeconds << " s";
  return *f;
}

// A state of `mib` MiB of 16-byte keys and 1 KiB values.
FilledState& FilledMiB(uint64_t mib) {
  constexpr uint64_t kBatchBytes = 64 * (16 + 1024);
  return Filled((((mib << 20) + kBatchBytes - 1) / kBatchBytes) * 64, 1024);
}

void BM_Get(benchmark::State& state) {
  const uint64_t keys = state.range(0);
  FilledState& loaded = Filled(keys, 256);
  std::mt19937_64 rng(7);
  Reply reply;
  for (auto _ : state) {
    Check(loaded.sm->Get(Key(rng() % keys), &reply), "get");
    CHECK(reply.ok()) << "a loaded key was not found";
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["fill_s"] = loaded.fillSeconds;
}
BENCHMARK(BM_Get)->Arg(100'000)->Arg(1'000'000)->Arg(10'000'000)->MinTime(5.0)->Unit(
    benchmark::kMicrosecond);

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : fs::directory_iterator(dir)) total += e.file_size();
  return total;
}

void BM_CreateSnapshot(benchmark::State& state) {
  FilledState& f = FilledMiB(state.range(0));
  int n = 0;
  double first = 0;
  uint64_t bytes = 0;
  for (auto _ : state) {
    const std::string snap = f.dir.Sub("create" + std::to_string(n));
    SnapshotInfo info;
    const Clock::time_point start = Clock::now();
    Check(f.sm->CreateSnapshot(snap, &info), "checkpoint");
    const double seconds = Seconds(start);
    state.SetIterationTime(seconds);
    if (n++ == 0) first = seconds;
    bytes = DirBytes(snap);
    fs::remove_all(snap);
  }
  state.counters["first_s"] = first;
  state.counters["snapshot_MiB"] = static_cast<double>(bytes) / (1 << 20);
}
BENCHMARK(BM_CreateSnapshot)
    ->Arg(64)
    ->Arg(256)
    ->Arg(1024)
    ->Iterations(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void BM_StreamInstall(benchmark::State& state) {
  FilledState& f = FilledMiB(state.range(0));
  SnapshotInfo info;
  Check(f.sm->CreateSnapshot(f.dir.Sub("send"), &info), "checkpoint");
  uint64_t streamBytes = 0;
  int n = 0;
  for (auto _ : state) {
    const std::string target = f.dir.Sub("install" + std::to_string(n++));
    std::unique_ptr<KvStateMachine> receiver = OpenAt(target);
    const Clock::time_point start = Clock::now();
    std::unique_ptr<SnapshotReader> reader;
    Check(SnapshotReader::Open(info, &reader), "reader");
    std::string chunk;
    bool last = false;
    SnapshotInfo installed;
    for (uint64_t offset = 0; !last; offset += chunk.size()) {
      Check(reader->Read(offset, 1 << 20, &chunk, &last), "read chunk");
      Check(receiver->InstallSnapshotChunk(offset, chunk, last, &installed), "install chunk");
    }
    state.SetIterationTime(Seconds(start));
    streamBytes = reader->StreamBytes();
    CHECK_EQ(receiver->AppliedIndex(), info.appliedIndex);
    receiver.reset();
    fs::remove_all(target);
  }
  fs::remove_all(info.dir);
  state.SetBytesProcessed(state.iterations() * streamBytes);
  state.counters["stream_MiB"] = static_cast<double>(streamBytes) / (1 << 20);
}
BENCHMARK(BM_StreamInstall)
    ->Arg(64)
    ->Arg(256)
    ->Arg(1024)
    ->Iterations(2)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kvraft::statemachine

int main(int argc, char** argv) {
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  FLAGS_minloglevel = google::GLOG_WARNING;  // no per-open INFO lines in the tables
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  kvraft::statemachine::filledStates.clear();
  benchmark::Shutdown();
  return 0;
}
