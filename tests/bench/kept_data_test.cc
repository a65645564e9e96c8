// The record a kept cluster directory (--spawn_dir) holds of its loaded
// keys: written, read back, forgotten, and which runs leave it true.
#include "bench/kept_data.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace kvraft::bench {
namespace {

std::string FreshDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/kept_data_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

OpMix Mix(const std::string& text) {
  OpMix mix;
  std::string error;
  EXPECT_TRUE(OpMix::Parse(text, &mix, &error)) << error;
  return mix;
}

TEST(KeptData, ARecordReadsBackAndCanBeForgotten) {
  const std::string dir = FreshDir("roundtrip");
  EXPECT_FALSE(ReadLoadedKeys(dir).has_value()) << "nothing loaded yet";
  const LoadedKeys loaded{10000000, 16, 256};
  std::string error;
  ASSERT_TRUE(WriteLoadedKeys(dir, loaded, &error)) << error;
  EXPECT_EQ(ReadLoadedKeys(dir), loaded);
  ASSERT_TRUE(WriteLoadedKeys(dir, {5, 8, 100}, &error)) << error;
  EXPECT_EQ(ReadLoadedKeys(dir), (LoadedKeys{5, 8, 100})) << "a new record replaces the old";
  ForgetLoadedKeys(dir);
  EXPECT_FALSE(ReadLoadedKeys(dir).has_value());
}

TEST(KeptData, AnUnreadableRecordCountsAsNone) {
  const std::string dir = FreshDir("garbage");
  std::ofstream(dir + "/kvbench-loaded.json") << "{\"keys\": 10, \"key_size\": \"16\"";
  EXPECT_FALSE(ReadLoadedKeys(dir).has_value());
  std::ofstream(dir + "/kvbench-loaded.json") << "{\"keys\": -1, \"key_size\": 16, \"value_size\": 1}";
  EXPECT_FALSE(ReadLoadedKeys(dir).has_value());
}

TEST(KeptData, OnlyRunsThatReadAndOverwriteLoadedKeysKeepTheRecord) {
  const LoadedKeys loaded{1000, 16, 256};
  EXPECT_TRUE(RunKeepsLoadedKeys(Mix("get:1"), 1000, 256, loaded));
  EXPECT_TRUE(RunKeepsLoadedKeys(Mix("get:50,put:50"), 1000, 256, loaded));
  EXPECT_TRUE(RunKeepsLoadedKeys(Mix("range:5,rmw:5,cas:1"), 100, 256, loaded));
  EXPECT_FALSE(RunKeepsLoadedKeys(Mix("get:9,delete:1"), 1000, 256, loaded));
  EXPECT_FALSE(RunKeepsLoadedKeys(Mix("append:1"), 1000, 256, loaded));
  EXPECT_FALSE(RunKeepsLoadedKeys(Mix("get:9,insert:1"), 1000, 256, loaded));
  EXPECT_FALSE(RunKeepsLoadedKeys(Mix("put:1"), 1001, 256, loaded)) << "a key never loaded";
  EXPECT_FALSE(RunKeepsLoadedKeys(Mix("put:1"), 1000, 100, loaded)) << "values of another size";
}

}  // namespace
}  // namespace kvraft::bench
