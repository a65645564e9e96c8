#pragma once
// The Env the log store opens RocksDB with: the default one, except that a
// write-ahead log file's preallocated space counts in its size.
//
// Why: RocksDB preallocates WAL space with FALLOC_FL_KEEP_SIZE, so every
// append grows the file's size and every fdatasync must also write the
// inode, a second synchronous device write per log write. With the size
// set up front, fdatasync writes the data alone: a third less time and
// CPU per sync on our test machine (bench/RESULTS.md). RocksDB trims the
// unused space when it closes the file; after a crash, the log reader
// reads the zeroed tail as padding and stops there, as it does for a torn
// tail under point-in-time recovery.
#include <rocksdb/env.h>

namespace kvraft::raft {

// One process-wide Env; it outlives every DB opened with it.
rocksdb::Env* SizedWalEnv();

}  // namespace kvraft::raft
