#include "tools/kvadmin_offline.h"

#include <glog/logging.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "raftlog/log_inspector.h"
#include "statemachine/command.h"
#include "statemachine/kv_inspector.h"
#include "tools/kvadmin_print.h"
#include "tools/kvadmin_verify.h"

namespace kvraft::tools {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using raft::LogInspector;
using statemachine::KvInspector;

std::string RaftDir(const OfflineOptions& o) { return o.dataDir + "/raft"; }
std::string KvDir(const OfflineOptions& o) { return o.dataDir + "/kv"; }
std::string SnapshotsDir(const OfflineOptions& o) { return o.dataDir + "/snapshots"; }

// A command that could not read what it needed: exit 2, the message on
// stderr and, with --json, as the document.
CommandOutput CannotRead(const std::string& command, const Status& s) {
  CommandOutput out;
  out.exitCode = kExitCannotRead;
  out.json = {{"command", command}, {"error", s.message()}};
  std::cerr << "kvadmin " << command << ": " << s.message() << "\n";
  return out;
}

std::string VotersText(const std::vector<raft::NodeId>& voters) {
  std::string s;
  for (raft::NodeId v : voters) s += (s.empty() ? "" : ",") + std::to_string(v);
  return s.empty() ? "-" : s;
}

CommandOutput HardState(const OfflineOptions& o) {
  std::unique_ptr<LogInspector> log;
  Status s = LogInspector::Open(RaftDir(o), &log);
  raft::StoreIdentity id;
  raft::HardState hs;
  raft::SnapshotMeta snap;
  std::optional<uint64_t> lastStored;
  if (s.ok()) s = log->ReadIdentity(&id).Annotate("identity");
  if (s.ok()) s = log->ReadHardState(&hs).Annotate("hard state");
  if (s.ok()) s = log->ReadSnapshotMeta(&snap).Annotate("snapshot meta");
  if (s.ok()) s = log->LastStoredIndex(&lastStored);
  if (!s.ok()) return CannotRead("hard-state", s);
  const uint64_t last = lastStored ? std::max(*lastStored, snap.lastIncludedIndex) : snap.lastIncludedIndex;

  CommandOutput out;
  out.json = {{"command", "hard-state"},
              {"data_dir", o.dataDir},
              {"cluster_id", id.clusterId},
              {"node_id", id.nodeId},
              {"format_version", id.formatVersion},
              {"term", hs.currentTerm},
              {"voted_for", hs.votedFor},
              {"commit", hs.commitIndex},
              {"snapshot_index", snap.lastIncludedIndex},
              {"snapshot_term", snap.lastIncludedTerm},
              {"voters", snap.voters},
              {"first_index", snap.lastIncludedIndex + 1},
              {"last_index", last}};
  out.lines = {
      "cluster_id: " + Quoted(id.clusterId),
      "node_id: " + std::to_string(id.nodeId),
      "format_version: " + std::to_string(id.formatVersion),
      "term: " + std::to_string(hs.currentTerm),
      "voted_for: " + (hs.votedFor == raft::kNoNode ? std::string("-") : std::to_string(hs.votedFor)),
      "commit: " + std::to_string(hs.commitIndex),
      "snapshot_index: " + std::to_string(snap.lastIncludedIndex),
      "snapshot_term: " + std::to_string(snap.lastIncludedTerm),
      "voters: " + VotersText(snap.voters),
      "first_index: " + std::to_string(snap.lastIncludedIndex + 1),
      "last_index: " + std::to_string(last),
  };
  return out;
}

// The command inside a normal entry, as JSON and as text.
void DescribeCommand(const raft::Entry& e, json* j, std::string* text) {
  statemachine::Command c;
  Status s = statemachine::DecodeCommand(e.data, &c);
  if (!s.ok()) {
    (*j)["command_error"] = s.message();
    *text += " undecodable command: " + s.message();
    return;
  }
  json cmd = {{"op", statemachine::OperationName(c.op)},
              {"client_id", c.clientId},
              {"sequence", c.sequence},
              {"first_outstanding", c.firstOutstanding},
              {"leader_time_ms", c.leaderTimeMs}};
  *text += std::string(" ") + statemachine::OperationName(c.op) + " client=" +
           std::to_string(c.clientId) + " seq=" + std::to_string(c.sequence);
  using statemachine::Operation;
  switch (c.op) {
    case Operation::kNoOp:
    case Operation::kRegisterClient:
      break;
    case Operation::kGet:
    case Operation::kDelete:
      PutBytes(cmd, "key", c.key);
      *text += " key=" + Quoted(c.key);
      break;
    case Operation::kPut:
    case Operation::kAppend:
      PutBytes(cmd, "key", c.key);
      PutPreview(cmd, "value", c.value);
      *text += " key=" + Quoted(c.key) + " value=" + PreviewText(c.value);
      break;
    case Operation::kCompareAndSwap:
      PutBytes(cmd, "key", c.key);
      if (c.expected) {
        PutPreview(cmd, "expected", *c.expected);
        *text += " key=" + Quoted(c.key) + " expected=" + PreviewText(*c.expected);
      } else {
        cmd["expected_absent"] = true;
        *text += " key=" + Quoted(c.key) + " expected=absent";
      }
      PutPreview(cmd, "value", c.value);
      *text += " value=" + PreviewText(c.value);
      break;
    case Operation::kRange:
      PutBytes(cmd, "key", c.key);
      PutBytes(cmd, "range_end", c.rangeEnd);
      cmd["range_limit"] = c.rangeLimit;
      *text += " start=" + Quoted(c.key) + " end=" + Quoted(c.rangeEnd) +
               " limit=" + std::to_string(c.rangeLimit);
      break;
  }
  (*j)["command"] = std::move(cmd);
}

CommandOutput Log(const OfflineOptions& o) {
  std::unique_ptr<LogInspector> log;
  Status s = LogInspector::Open(RaftDir(o), &log);
  if (!s.ok()) return CannotRead("log", s);
  CommandOutput out;
  json entries = json::array();
  uint64_t damaged = 0;
  s = log->ForEachEntry(o.from, o.to, [&](const raft::StoredEntry& e) {
    json j;
    std::string line;
    if (!e.keyOk) {
      ++damaged;
      PutBytes(j, "key", e.rawKey);
      j["error"] = e.decoded.message();
      line = "key " + Quoted(e.rawKey) + " DAMAGED: " + e.decoded.message();
    } else if (!e.decoded.ok()) {
      ++damaged;
      j = {{"index", e.index}, {"value_bytes", e.valueBytes}, {"error", e.decoded.message()}};
      line = std::to_string(e.index) + " DAMAGED: " + e.decoded.message();
    } else {
      const bool noop = e.entry.type == raft::EntryType::kNoop;
      j = {{"index", e.index},
           {"term", e.entry.term},
           {"type", noop ? "noop" : "normal"},
           {"size", e.entry.data.size()}};
      line = std::to_string(e.index) + " term=" + std::to_string(e.entry.term) +
             (noop ? " noop" : " normal") + " size=" + std::to_string(e.entry.data.size());
      if (!noop) DescribeCommand(e.entry, &j, &line);
    }
    entries.push_back(std::move(j));
    out.lines.push_back(std::move(line));
    return true;
  });
  if (!s.ok()) return CannotRead("log", s);
  out.json = {{"command", "log"}, {"data_dir", o.dataDir}, {"entries", std::move(entries)}};
  if (damaged > 0) {
    std::cerr << "kvadmin log: " << damaged
              << " damaged entries (shown with DAMAGED); run kvadmin verify for every problem\n";
    out.exitCode = kExitCannotRead;
  }
  return out;
}

CommandOutput Kv(const OfflineOptions& o) {
  std::unique_ptr<KvInspector> kv;
  Status s = KvInspector::Open(KvDir(o), &kv);
  if (!s.ok()) return CannotRead("kv", s);
  CommandOutput out;
  json items = json::array();
  s = kv->ForEachKey(o.prefix, o.limit, [&](std::string_view key, std::string_view value) {
    json j;
    PutBytes(j, "key", key);
    PutBytes(j, "value", value);
    j["value_size"] = value.size();
    items.push_back(std::move(j));
    out.lines.push_back(Quoted(key) + " " + Quoted(value));
    return true;
  });
  if (!s.ok()) return CannotRead("kv", s);
  out.json = {{"command", "kv"},
              {"data_dir", o.dataDir},
              {"generation", kv->path()},
              {"count", items.size()},
              {"items", std::move(items)}};
  return out;
}

CommandOutput Sessions(const OfflineOptions& o) {
  std::unique_ptr<KvInspector> kv;
  Status s = KvInspector::Open(KvDir(o), &kv);
  if (!s.ok()) return CannotRead("sessions", s);
  CommandOutput out;
  json sessions = json::array();
  uint64_t damaged = 0;
  s = kv->ForEachSession(
      [&](const statemachine::StoredSession& session) {
        json j = {{"client_id", session.clientId}};
        std::string line = "client " + std::to_string(session.clientId) + ":";
        if (!session.hasHeader) {
          ++damaged;
          j["error"] = "no session header";
          line += " DAMAGED: no session header";
        } else if (!session.headerStatus.ok()) {
          ++damaged;
          j["error"] = session.headerStatus.message();
          line += " DAMAGED: " + session.headerStatus.message();
        } else {
          j["last_active_ms"] = session.header.lastActiveMs;
          j["first_outstanding"] = session.header.firstOutstanding;
          j["ok_sequences"] = session.header.okSequences;
          line += " last_active_ms=" + std::to_string(session.header.lastActiveMs) +
                  " first_outstanding=" + std::to_string(session.header.firstOutstanding);
          if (!session.header.okSequences.empty()) {
            line += " ok_sequences=";
            for (size_t i = 0; i < session.header.okSequences.size(); ++i)
              line += (i ? "," : "") + std::to_string(session.header.okSequences[i]);
          }
        }
        line += " cached_replies=" + std::to_string(session.replies.size());
        out.lines.push_back(std::move(line));
        json replies = json::array();
        for (const auto& r : session.replies) {
          json rj = {{"sequence", r.sequence}, {"size", r.bytes}};
          std::string rl = "  seq " + std::to_string(r.sequence) + ": ";
          if (!r.decoded.ok()) {
            ++damaged;
            rj["error"] = r.decoded.message();
            rl += "DAMAGED: " + r.decoded.message();
          } else {
            rj["code"] = statemachine::ReplyCodeName(r.reply.code);
            rl += statemachine::ReplyCodeName(r.reply.code);
            if (r.reply.clientId != 0) {
              rj["reply_client_id"] = r.reply.clientId;
              rl += " client_id=" + std::to_string(r.reply.clientId);
            }
            if (r.reply.value) {
              PutPreview(rj, "value", *r.reply.value);
              rl += " value=" + PreviewText(*r.reply.value);
            }
            if (!r.reply.message.empty()) {
              PutBytes(rj, "message", r.reply.message);
              rl += " message=" + Quoted(r.reply.message);
            }
            if (!r.reply.range.empty() || r.reply.rangeMore) {
              rj["range_count"] = r.reply.range.size();
              rj["range_more"] = r.reply.rangeMore;
              rl += " range=" + std::to_string(r.reply.range.size()) + (r.reply.rangeMore ? "+more" : "");
            }
          }
          replies.push_back(std::move(rj));
          out.lines.push_back(std::move(rl));
        }
        j["replies"] = std::move(replies);
        sessions.push_back(std::move(j));
      },
      [&](std::string_view key) {
        ++damaged;
        out.lines.push_back("key " + Quoted(key) + " DAMAGED: neither a session nor a reply key");
      });
  if (!s.ok()) return CannotRead("sessions", s);
  out.json = {{"command", "sessions"},
              {"data_dir", o.dataDir},
              {"generation", kv->path()},
              {"sessions", std::move(sessions)}};
  if (damaged > 0) {
    std::cerr << "kvadmin sessions: " << damaged << " damaged records (shown with DAMAGED)\n";
    out.exitCode = kExitCannotRead;
  }
  return out;
}

CommandOutput Applied(const OfflineOptions& o) {
  std::unique_ptr<KvInspector> kv;
  Status s = KvInspector::Open(KvDir(o), &kv);
  statemachine::AppliedState a;
  if (s.ok()) s = kv->ReadApplied(&a);
  if (!s.ok()) return CannotRead("applied", s);
  CommandOutput out;
  out.json = {{"command", "applied"},
              {"data_dir", o.dataDir},
              {"generation", kv->path()},
              {"index", a.index},
              {"term", a.term},
              {"leader_time_ms", a.leaderTimeMs}};
  out.lines = {"index: " + std::to_string(a.index), "term: " + std::to_string(a.term),
               "leader_time_ms: " + std::to_string(a.leaderTimeMs),
               "generation: " + kv->path()};
  return out;
}

json StatsJson(const std::vector<inspect::ColumnFamilyStats>& families, const std::string& instance,
               std::vector<std::string>* lines) {
  json list = json::array();
  for (const auto& f : families) {
    list.push_back({{"name", f.name},
                    {"keys", f.keys},
                    {"key_bytes", f.keyBytes},
                    {"value_bytes", f.valueBytes},
                    {"estimated_keys", f.estimatedKeys},
                    {"sst_bytes", f.sstBytes},
                    {"memtable_bytes", f.memtableBytes}});
    lines->push_back(instance + "/" + f.name + ": keys=" + std::to_string(f.keys) +
                     " key_bytes=" + std::to_string(f.keyBytes) +
                     " value_bytes=" + std::to_string(f.valueBytes) +
                     " estimated_keys=" + std::to_string(f.estimatedKeys) +
                     " sst_bytes=" + std::to_string(f.sstBytes) +
                     " memtable_bytes=" + std::to_string(f.memtableBytes));
  }
  return list;
}

CommandOutput Stats(const OfflineOptions& o) {
  std::unique_ptr<LogInspector> log;
  std::unique_ptr<KvInspector> kv;
  std::vector<inspect::ColumnFamilyStats> raftFamilies, kvFamilies;
  statemachine::SnapshotListing snaps;
  Status s = LogInspector::Open(RaftDir(o), &log);
  if (s.ok()) s = log->Stats(&raftFamilies);
  if (s.ok()) s = KvInspector::Open(KvDir(o), &kv);
  if (s.ok()) s = kv->Stats(&kvFamilies);
  if (s.ok()) s = statemachine::ListSnapshots(SnapshotsDir(o), &snaps);
  if (!s.ok()) return CannotRead("stats", s);

  CommandOutput out;
  const uint64_t raftBytes = DiskBytes(RaftDir(o));
  const uint64_t kvBytes = DiskBytes(KvDir(o));
  const uint64_t snapBytes = DiskBytes(SnapshotsDir(o));
  json raftJson = {{"dir", RaftDir(o)}, {"disk_bytes", raftBytes},
                   {"column_families", StatsJson(raftFamilies, "raft", &out.lines)}};
  out.lines.push_back("raft: disk_bytes=" + std::to_string(raftBytes) + " (" + RaftDir(o) + ")");
  json kvJson = {{"dir", KvDir(o)}, {"generation", kv->path()}, {"disk_bytes", kvBytes},
                 {"column_families", StatsJson(kvFamilies, "kv", &out.lines)}};
  out.lines.push_back("kv: disk_bytes=" + std::to_string(kvBytes) + " (" + kv->path() + ")");
  json snapList = json::array();
  for (const auto& info : snaps.snapshots) {
    snapList.push_back({{"dir", info.dir}, {"index", info.appliedIndex}, {"term", info.appliedTerm}});
    out.lines.push_back("snapshot: index=" + std::to_string(info.appliedIndex) +
                        " term=" + std::to_string(info.appliedTerm) + " (" + info.dir + ")");
  }
  // Checkpoint files are hard links to the kv instance's, so these bytes
  // are mostly shared with kv's, not extra.
  out.lines.push_back("snapshots: count=" + std::to_string(snaps.snapshots.size()) +
                      " disk_bytes=" + std::to_string(snapBytes) + " (hard links shared with kv)");
  out.json = {{"command", "stats"},
              {"data_dir", o.dataDir},
              {"raft", std::move(raftJson)},
              {"kv", std::move(kvJson)},
              {"snapshots", {{"dir", SnapshotsDir(o)}, {"disk_bytes", snapBytes}, {"list", std::move(snapList)}}}};
  return out;
}

}  // namespace

bool IsOfflineCommand(const std::string& command) {
  for (const char* c : {"hard-state", "log", "kv", "sessions", "applied", "stats", "verify"}) {
    if (command == c) return true;
  }
  return false;
}

int RunOffline(const std::string& command, const OfflineOptions& options) {
  std::error_code ec;
  CommandOutput out;
  if (!fs::is_directory(options.dataDir, ec)) {
    out = CannotRead(command, Status::IOError("--data_dir=" + options.dataDir +
                                              " is not a directory: pass a kvd data directory "
                                              "(the one given to kvd --data_dir)"));
  } else if (command == "hard-state") {
    out = HardState(options);
  } else if (command == "log") {
    out = Log(options);
  } else if (command == "kv") {
    out = Kv(options);
  } else if (command == "sessions") {
    out = Sessions(options);
  } else if (command == "applied") {
    out = Applied(options);
  } else if (command == "stats") {
    out = Stats(options);
  } else if (command == "verify") {
    out = Verify(options.dataDir);
  } else {
    LOG(FATAL) << "not an offline command: " << command;
  }
  // A command that could not read has no lines; with --json its document
  // carries the error.
  Emit(out, options.json);
  return out.exitCode;
}

}  // namespace kvraft::tools
