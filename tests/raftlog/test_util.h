#pragma once
// Builders and a scratch directory shared by the raftlog tests.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>

#include "raftlog/types.h"

namespace kvraft::raft::test_util {

inline Entry E(uint64_t index, uint64_t term, std::string data = "") {
  Entry e;
  e.index = index;
  e.term = term;
  e.data = std::move(data);
  return e;
}

// Snapshot metadata of a three-voter cluster.
inline SnapshotMeta Meta(uint64_t index, uint64_t term) {
  SnapshotMeta m;
  m.lastIncludedIndex = index;
  m.lastIncludedTerm = term;
  m.voters = {1, 2, 3};
  return m;
}

// A fresh directory under /tmp, removed with everything in it at the end.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "kvraft-test") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    const char* p = ::mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr) << "cannot create a directory under /tmp";
    path_ = p == nullptr ? "/tmp/" + prefix + "-failed" : p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace kvraft::raft::test_util
