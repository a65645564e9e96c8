#include "raftlog/sized_wal_env.h"

#include <rocksdb/file_system.h>

#include <memory>

namespace kvraft::raft {
namespace {

class SizedWalFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit SizedWalFileSystem(const std::shared_ptr<rocksdb::FileSystem>& target)
      : FileSystemWrapper(target) {}

  static const char* kClassName() { return "KvraftSizedWalFileSystem"; }
  const char* Name() const override { return kClassName(); }

  rocksdb::FileOptions OptimizeForLogWrite(const rocksdb::FileOptions& fileOptions,
                                           const rocksdb::DBOptions& dbOptions) const override {
    rocksdb::FileOptions o = FileSystemWrapper::OptimizeForLogWrite(fileOptions, dbOptions);
    o.fallocate_with_keep_size = false;
    return o;
  }
};

}  // namespace

rocksdb::Env* SizedWalEnv() {
  static const std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(
      std::make_shared<SizedWalFileSystem>(rocksdb::FileSystem::Default()));
  return env.get();
}

}  // namespace kvraft::raft
