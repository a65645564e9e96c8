#include "tools/kvadmin_verify.h"

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <system_error>
#include <vector>

#include "raftlog/log_inspector.h"
#include "statemachine/kv_inspector.h"
#include "tools/kvadmin_offline.h"

namespace kvraft::tools {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Problem {
  std::string where;
  std::string what;
};

std::string N(uint64_t v) { return std::to_string(v); }

// The latest snapshot's checkpoint on its own, and its applied record
// against its name.
void CheckSnapshot(const statemachine::SnapshotInfo& info, std::vector<Problem>* problems) {
  const std::string where = "snapshot " + fs::path(info.dir).filename().string();
  std::unique_ptr<statemachine::KvInspector> snap;
  Status s = statemachine::KvInspector::OpenInstance(info.dir, &snap);
  if (!s.ok()) {
    problems->push_back({where, s.message()});
    return;
  }
  std::vector<statemachine::KvProblem> found;
  std::optional<statemachine::AppliedState> applied;
  snap->Check(where, &found, &applied);
  for (auto& p : found) problems->push_back({std::move(p.where), std::move(p.what)});
  if (applied && (applied->index != info.appliedIndex || applied->term != info.appliedTerm)) {
    problems->push_back({where, "its name says index " + N(info.appliedIndex) + " term " +
                                    N(info.appliedTerm) + ", but its state is at index " +
                                    N(applied->index) + " term " + N(applied->term)});
  }
}

}  // namespace

CommandOutput Verify(const std::string& dataDir) {
  CommandOutput out;
  const std::string raftDir = dataDir + "/raft";
  const std::string kvDir = dataDir + "/kv";
  const std::string snapDir = dataDir + "/snapshots";
  std::error_code ec;
  if (!fs::exists(raftDir, ec) && !fs::exists(kvDir, ec) && !fs::exists(snapDir, ec)) {
    const std::string message = dataDir + " holds none of raft/, kv/ and snapshots/: it is not a "
                                "kvd data directory (pass the one given to kvd --data_dir)";
    std::cerr << "kvadmin verify: " << message << "\n";
    out.exitCode = kExitCannotRead;
    out.json = {{"command", "verify"}, {"error", message}};
    return out;
  }
  std::vector<Problem> problems;

  // The raft store on its own.
  std::unique_ptr<raft::LogInspector> log;
  raft::LogSummary summary;
  Status s = raft::LogInspector::Open(raftDir, &log);
  if (!s.ok()) {
    problems.push_back({"raft store", s.message()});
  } else {
    std::vector<raft::LogProblem> found;
    log->Check(&found, &summary);
    for (auto& p : found) problems.push_back({std::move(p.where), std::move(p.what)});
  }
  const bool logOk = log != nullptr && summary.snapshotOk;
  const uint64_t snapIndex = summary.snapshot.lastIncludedIndex;
  const uint64_t snapTerm = summary.snapshot.lastIncludedTerm;

  // The kv instance on its own.
  std::unique_ptr<statemachine::KvInspector> kv;
  std::optional<statemachine::AppliedState> applied;
  s = statemachine::KvInspector::Open(kvDir, &kv);
  if (!s.ok()) {
    problems.push_back({"kv instance", s.message()});
  } else {
    std::vector<statemachine::KvProblem> found;
    kv->Check("kv", &found, &applied);
    for (auto& p : found) problems.push_back({std::move(p.where), std::move(p.what)});
  }

  // The kv state against the log.
  if (logOk && applied) {
    const std::string where = "kv meta 'applied'";
    if (applied->index < snapIndex) {
      problems.push_back({where, "applied index " + N(applied->index) +
                                     " is below the raft snapshot index " + N(snapIndex) +
                                     ": the entries between were compacted away, so the kv "
                                     "state has lost writes it reported durable"});
    } else if (applied->index > summary.lastIndex) {
      problems.push_back({where, "applied index " + N(applied->index) +
                                     " is beyond the log's last index " + N(summary.lastIndex)});
    } else if (applied->index == snapIndex) {
      if (applied->term != snapTerm) {
        problems.push_back({where, "applied term " + N(applied->term) + " at index " +
                                       N(applied->index) + " differs from the raft snapshot term " +
                                       N(snapTerm) + " there"});
      }
    } else {
      raft::Entry e;
      Status es = log->ReadEntry(applied->index, &e);
      // A missing or damaged entry was reported by the log's own check.
      if (es.ok() && e.term != applied->term) {
        problems.push_back({where, "applied term " + N(applied->term) + " at index " +
                                       N(applied->index) + " differs from the term " + N(e.term) +
                                       " of raft log index " + N(applied->index)});
      }
    }
  }

  // The snapshot store against both.
  statemachine::SnapshotListing snaps;
  s = statemachine::ListSnapshots(snapDir, &snaps);
  if (!s.ok()) problems.push_back({"snapshots", s.message()});
  const std::optional<statemachine::SnapshotInfo> latest = snaps.Latest();
  if (latest) {
    const std::string where = "snapshot " + fs::path(latest->dir).filename().string();
    CheckSnapshot(*latest, &problems);
    if (applied && latest->appliedIndex > applied->index) {
      problems.push_back({where, "index " + N(latest->appliedIndex) +
                                     " is beyond the kv applied index " + N(applied->index)});
    }
    if (logOk && latest->appliedIndex == snapIndex && latest->appliedTerm != snapTerm) {
      problems.push_back({where, "term " + N(latest->appliedTerm) +
                                     " differs from the raft snapshot term " + N(snapTerm) +
                                     " at the same index"});
    }
  }
  if (logOk && snapIndex > 0 && (!latest || latest->appliedIndex < snapIndex)) {
    problems.push_back({"snapshots", "the raft log is compacted through index " + N(snapIndex) +
                                         " but no snapshot at or after it is kept (" +
                                         (latest ? "the latest is at " + N(latest->appliedIndex)
                                                 : std::string("there is none")) +
                                         "), so the node cannot send one to a follower"});
  }

  json list = json::array();
  for (const Problem& p : problems) {
    list.push_back({{"where", p.where}, {"problem", p.what}});
    out.lines.push_back(p.where + ": " + p.what);
  }
  json checked = {{"log_entries", summary.entries},
                  {"snapshot_index", snapIndex},
                  {"last_index", summary.lastIndex},
                  {"applied_index", applied ? json(applied->index) : json(nullptr)},
                  {"latest_snapshot_index", latest ? json(latest->appliedIndex) : json(nullptr)}};
  const std::string counts = "log entries " + N(summary.entries) + ", snapshot index " +
                             N(snapIndex) + ", last index " + N(summary.lastIndex) +
                             ", applied index " + (applied ? N(applied->index) : "-");
  if (problems.empty()) {
    out.lines.push_back("OK: " + counts);
  } else {
    out.lines.push_back(N(problems.size()) + " problem(s) found (" + counts + ")");
    out.exitCode = kExitProblems;
  }
  out.json = {{"command", "verify"},
              {"data_dir", dataDir},
              {"ok", problems.empty()},
              {"problems", std::move(list)},
              {"checked", std::move(checked)}};
  return out;
}

}  // namespace kvraft::tools
