// The snapshot byte stream: a directory read as chunks of any size, in any
// order, and written back only if every byte checks out.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "statemachine/byte_io.h"
#include "statemachine/crc32c.h"
#include "statemachine/snapshot_format.h"
#include "statemachine/snapshot_reader.h"
#include "statemachine/snapshot_writer.h"
#include "tests/statemachine/test_util.h"

namespace kvraft::statemachine {
namespace {

namespace fs = std::filesystem;
using testing::Entries;
using testing::TempDir;

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A directory shaped like a checkpoint: a few files, one empty, one large
// enough to span many chunks.
SnapshotInfo MakeSourceDir(const std::string& dir) {
  fs::create_directories(dir);
  std::string big(300'000, '\0');
  std::mt19937_64 rng(1);
  for (char& c : big) c = static_cast<char>(rng());
  WriteFile(dir + "/000012.sst", big);
  WriteFile(dir + "/CURRENT", "MANIFEST-000005\n");
  WriteFile(dir + "/MANIFEST-000005", std::string(777, 'm'));
  WriteFile(dir + "/empty.log", "");
  return SnapshotInfo{dir, 42, 7};
}

std::string ReadWholeStream(SnapshotReader& reader, uint64_t chunk) {
  std::string stream, data;
  bool last = false;
  for (uint64_t offset = 0; !last; offset += data.size()) {
    Status s = reader.Read(offset, chunk, &data, &last);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) break;
    stream += data;
  }
  return stream;
}

// Feeds `stream` to a writer in chunks of `chunk` bytes; returns the first error.
Status WriteStream(SnapshotWriter& writer, const std::string& stream, size_t chunk) {
  for (size_t offset = 0; offset < stream.size(); offset += chunk) {
    Status s = writer.Append(offset, std::string_view(stream).substr(offset, chunk));
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

TEST(SnapshotStream, ADirectoryCrossesIntactAtAnyChunkSize) {
  TempDir tmp;
  const SnapshotInfo info = MakeSourceDir(tmp.Sub("src"));
  std::unique_ptr<SnapshotReader> reader;
  ASSERT_TRUE(SnapshotReader::Open(info, &reader).ok());
  for (uint64_t chunk : {1ull, 7ull, 44ull, 4096ull, 1ull << 20}) {
    const std::string stream = ReadWholeStream(*reader, chunk);
    ASSERT_EQ(stream.size(), reader->StreamBytes()) << chunk;
    const std::string dst = tmp.Sub("dst" + std::to_string(chunk));
    fs::create_directory(dst);
    SnapshotWriter writer(dst);
    Status written = WriteStream(writer, stream, chunk);
    ASSERT_TRUE(written.ok()) << "chunks of " << chunk << ": " << written.ToString();
    ASSERT_TRUE(writer.Complete());
    ASSERT_TRUE(writer.Finish().ok());
    EXPECT_EQ(writer.header().appliedIndex, 42u);
    EXPECT_EQ(writer.header().appliedTerm, 7u);
    EXPECT_EQ(Entries(dst), Entries(info.dir));
    for (const std::string& name : Entries(info.dir)) {
      EXPECT_EQ(ReadFile(dst + "/" + name), ReadFile(info.dir + "/" + name))
          << name << " at chunk " << chunk;
    }
  }
}

TEST(SnapshotStream, ChunksReadInAnyOrderOrTwiceAreTheSameBytes) {
  TempDir tmp;
  const SnapshotInfo info = MakeSourceDir(tmp.Sub("src"));
  std::unique_ptr<SnapshotReader> sequential, shuffled;
  ASSERT_TRUE(SnapshotReader::Open(info, &sequential).ok());
  ASSERT_TRUE(SnapshotReader::Open(info, &shuffled).ok());
  const uint64_t chunk = 10'000;
  const std::string expected = ReadWholeStream(*sequential, chunk);

  std::vector<uint64_t> offsets;
  for (uint64_t o = 0; o < expected.size(); o += chunk) offsets.push_back(o);
  std::shuffle(offsets.begin(), offsets.end(), std::mt19937_64(3));
  std::string assembled(expected.size(), '\0');
  for (uint64_t o : offsets) {
    std::string data;
    bool last = false;
    ASSERT_TRUE(shuffled->Read(o, chunk, &data, &last).ok());
    EXPECT_EQ(last, o + data.size() == expected.size());
    assembled.replace(o, data.size(), data);
  }
  EXPECT_EQ(assembled, expected);
  std::string again;
  bool last = false;
  ASSERT_TRUE(shuffled->Read(offsets[0], chunk, &again, &last).ok());
  EXPECT_EQ(again, expected.substr(offsets[0], chunk)) << "a retransmission";

  std::string data;
  EXPECT_EQ(shuffled->Read(expected.size() + 1, chunk, &data, &last).code(),
            Status::Code::kInvalidArgument);
}

TEST(SnapshotStream, EveryDamagedByteIsCaughtBeforeTheStreamCompletes) {
  TempDir tmp;
  const std::string src = tmp.Sub("src");
  fs::create_directories(src);
  WriteFile(src + "/a", std::string(100, 'a'));
  WriteFile(src + "/b", "");
  WriteFile(src + "/c", "ccc");
  std::unique_ptr<SnapshotReader> reader;
  ASSERT_TRUE(SnapshotReader::Open(SnapshotInfo{src, 9, 2}, &reader).ok());
  const std::string stream = ReadWholeStream(*reader, 1 << 20);
  for (size_t i = 0; i < stream.size(); ++i) {
    std::string damaged = stream;
    damaged[i] ^= 0x20;
    const std::string dst = tmp.Sub("dst" + std::to_string(i));
    fs::create_directory(dst);
    SnapshotWriter writer(dst);
    Status s = WriteStream(writer, damaged, 13);
    EXPECT_TRUE(!s.ok() || !writer.Complete()) << "a flip of byte " << i << " went unnoticed";
    fs::remove_all(dst);
  }
}

TEST(SnapshotStream, AnIncompleteStreamCannotFinish) {
  TempDir tmp;
  const SnapshotInfo info = MakeSourceDir(tmp.Sub("src"));
  std::unique_ptr<SnapshotReader> reader;
  ASSERT_TRUE(SnapshotReader::Open(info, &reader).ok());
  const std::string stream = ReadWholeStream(*reader, 1 << 20);
  fs::create_directory(tmp.Sub("dst"));
  SnapshotWriter writer(tmp.Sub("dst"));
  ASSERT_TRUE(WriteStream(writer, stream.substr(0, stream.size() - 1), 4096).ok());
  EXPECT_FALSE(writer.Complete());
  EXPECT_EQ(writer.Finish().code(), Status::Code::kInvalidArgument);
  // Bytes past the announced end are refused too.
  ASSERT_TRUE(writer.Append(stream.size() - 1, stream.substr(stream.size() - 1) + "x").code() ==
              Status::Code::kCorruption);
}

TEST(SnapshotStream, AChunkOutOfOrderIsRefusedWithoutAbandoningTheStream) {
  TempDir tmp;
  const SnapshotInfo info = MakeSourceDir(tmp.Sub("src"));
  std::unique_ptr<SnapshotReader> reader;
  ASSERT_TRUE(SnapshotReader::Open(info, &reader).ok());
  const std::string stream = ReadWholeStream(*reader, 1 << 20);
  fs::create_directory(tmp.Sub("dst"));
  SnapshotWriter writer(tmp.Sub("dst"));
  ASSERT_TRUE(writer.Append(0, std::string_view(stream).substr(0, 1000)).ok());
  EXPECT_EQ(writer.Append(2000, std::string_view(stream).substr(2000, 1000)).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(writer.Append(0, std::string_view(stream).substr(0, 1000)).code(),
            Status::Code::kInvalidArgument);
  EXPECT_FALSE(writer.failed());
  ASSERT_TRUE(writer.Append(1000, std::string_view(stream).substr(1000)).ok());
  EXPECT_TRUE(writer.Complete());
}

TEST(SnapshotStream, AFileNameThatWouldLeaveTheDirectoryIsRefused) {
  TempDir tmp;
  for (const std::string name : {"../escape", "/etc/x", "..", "a/b", "x\ny"}) {
    const std::string contents = "evil";
    std::string stream;
    SnapshotStreamHeader h;
    h.appliedIndex = 1;
    h.fileCount = 1;
    h.streamBytes = kSnapshotHeaderSize + kFileEntryFixedSize + name.size() + contents.size() +
                    kFileTrailerSize;
    stream += EncodeStreamHeader(h);
    stream += EncodeFileEntry(name, contents.size());
    stream += contents;
    ByteWriter(&stream).Fixed32LE(Crc32c(contents));
    const std::string dst = tmp.Sub("staging/inner");
    fs::create_directories(dst);
    SnapshotWriter writer(dst);
    Status s = WriteStream(writer, stream, 1 << 20);
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << name;
    EXPECT_TRUE(Entries(dst).empty()) << name;
    EXPECT_EQ(Entries(tmp.Sub("staging")), std::vector<std::string>{"inner"}) << name;
    fs::remove_all(tmp.Sub("staging"));
  }
}

TEST(SnapshotStream, TheReaderRefusesWhatIsNotAFlatDirectoryOfFiles) {
  TempDir tmp;
  std::unique_ptr<SnapshotReader> reader;
  fs::create_directories(tmp.Sub("empty"));
  EXPECT_EQ(SnapshotReader::Open(SnapshotInfo{tmp.Sub("empty"), 1, 1}, &reader).code(),
            Status::Code::kInvalidArgument);
  fs::create_directories(tmp.Sub("nested/sub"));
  EXPECT_EQ(SnapshotReader::Open(SnapshotInfo{tmp.Sub("nested"), 1, 1}, &reader).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(SnapshotReader::Open(SnapshotInfo{tmp.Sub("missing"), 1, 1}, &reader).code(),
            Status::Code::kIOError);
}

}  // namespace
}  // namespace kvraft::statemachine
