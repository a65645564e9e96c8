// The process log_crash_test kills. It opens the store in <dir>, then
// writes forever: appends of random sizes, overwrites of a suffix by a new
// term, prefix compactions and installed snapshots, chosen from <run_seed>.
// Before each write it prints what it is about to do, and after the write
// returns (so: after the fsync) that it is durable. The parent holds the
// store to exactly these reports.
//
//   log_crash_child <dir> <payload_seed> <run_seed>
//
// Lines on stdout, each written with one write(2) (atomic on a pipe):
//   save <first> <last> <term>      about to Save entries first..last
//   durable <last> <term>           ... and it returned
//   compact <index> <term>          about to CreateSnapshot at index
//   compacted <index> <term>
//   install <index> <term>          about to InstallSnapshot at index
//   installed <index> <term>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "raftlog/rocksdb_storage.h"
#include "tests/raftlog/log_crash_payload.h"

namespace kvraft::raft {
namespace {

using crash_test::Payload;

void Report(const std::string& line) {
  const std::string out = line + "\n";
  if (::write(1, out.data(), out.size()) != static_cast<ssize_t>(out.size())) std::_Exit(4);
}

[[noreturn]] void Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "log_crash_child: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::_Exit(3);
}

int Run(const std::string& dir, uint64_t payloadSeed, uint64_t runSeed) {
  RocksDbStorage::Options options;
  options.dir = dir;
  options.clusterId = "crash-test";
  options.nodeId = 1;
  options.voters = {1};
  options.tailCacheBytes = 64 << 10;  // small: reads after restarts hit RocksDB too
  std::unique_ptr<RocksDbStorage> store;
  // The parent times its kill from one of these two lines, not from the
  // spawn, whose cost (a sanitizer's start-up, a loaded machine) it cannot
  // predict.
  Report("opening");
  Status s = RocksDbStorage::Open(options, &store);
  if (!s.ok()) Fail("open", s);
  Report("opened");

  uint64_t term = std::max(store->InitialHardState().currentTerm, store->Snapshot().lastIncludedTerm);
  std::mt19937_64 rng(runSeed);
  for (;;) {
    const uint64_t first = store->FirstIndex();
    const uint64_t last = store->LastIndex();
    const uint64_t snap = first - 1;
    const int op = static_cast<int>(rng() % 100);
    if (op < 80) {
      // An append; one in four is a new leader overwriting a suffix, one in
      // twenty a large batch (a long WAL record to be killed in the middle of).
      uint64_t from = last + 1;
      if (op < 20 && last >= first) {
        ++term;
        from = last + 1 - std::min<uint64_t>(last - first + 1, 1 + rng() % 10);
      }
      const uint64_t count = op >= 76 ? 200 + rng() % 400 : 1 + rng() % 32;
      std::vector<Entry> entries;
      for (uint64_t i = from; i < from + count; ++i) {
        Entry e;
        e.index = i;
        e.term = term;
        e.data = Payload(payloadSeed, i, term);
        entries.push_back(std::move(e));
      }
      const HardState hs{term, 1, snap};
      const uint64_t to = from + count - 1;
      Report("save " + std::to_string(from) + " " + std::to_string(to) + " " + std::to_string(term));
      s = store->Save(&hs, entries);
      if (!s.ok()) Fail("save", s);
      Report("durable " + std::to_string(to) + " " + std::to_string(term));
    } else if (op < 95) {
      if (last < first) continue;
      const uint64_t index = first + rng() % (last - first + 1);
      uint64_t t = 0;
      s = store->Term(index, &t);
      if (!s.ok()) Fail("term", s);
      SnapshotMeta meta{index, t, {1}};
      Report("compact " + std::to_string(index) + " " + std::to_string(t));
      s = store->CreateSnapshot(meta);
      if (!s.ok()) Fail("compact", s);
      Report("compacted " + std::to_string(index) + " " + std::to_string(t));
    } else {
      ++term;
      const uint64_t index = last + rng() % 20;
      SnapshotMeta meta{index, term, {1}};
      Report("install " + std::to_string(index) + " " + std::to_string(term));
      s = store->InstallSnapshot(meta);
      if (!s.ok()) Fail("install", s);
      Report("installed " + std::to_string(index) + " " + std::to_string(term));
    }
  }
}

}  // namespace
}  // namespace kvraft::raft

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <dir> <payload_seed> <run_seed>\n", argv[0]);
    return 2;
  }
  return kvraft::raft::Run(argv[1], std::strtoull(argv[2], nullptr, 10),
                           std::strtoull(argv[3], nullptr, 10));
}
