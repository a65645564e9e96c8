#pragma once
// kvadmin verify: every check kvadmin knows on one data directory, each
// store on its own and the stores against each other. Reads only (see
// kvadmin_offline.h).
//
// On its own: the raft store (raftlog/log_inspector.h, LogInspector::Check:
// identity, hard state and snapshot records, every entry's CRC, no holes
// from the snapshot index + 1 to the last index, terms never decreasing and
// never below the snapshot's, commit <= last index, RocksDB checksums); the
// kv instance and the latest snapshot's checkpoint
// (statemachine/kv_inspector.h, KvInspector::Check: the applied record,
// session headers, cached replies, RocksDB checksums).
// Against each other:
//   raft snapshot index <= kv applied index <= raft last index;
//   the applied term is the log's term at the applied index (or the
//   snapshot term at the snapshot index);
//   the latest snapshot's index <= applied, its checkpoint's applied record
//   is the index and term its name says, and its term is the raft
//   snapshot's when both are at the same index;
//   a log compacted through N keeps a snapshot at or after N.
#include <string>

#include "tools/kvadmin_print.h"

namespace kvraft::tools {

// Exit code 0 if every check holds, 1 otherwise (each problem one line
// "where: what", in JSON {where, problem}), 2 if `dataDir` has none of
// raft/, kv/ and snapshots/ (it is no data directory at all).
CommandOutput Verify(const std::string& dataDir);

}  // namespace kvraft::tools
