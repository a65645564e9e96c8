#pragma once
// Bounds-checked reading and writing of the small binary records the state
// machine replicates and stores (commands, replies, session records,
// snapshot stream headers). Every integer has an explicit byte order, so the
// bytes mean the same on every replica whatever its CPU.
//
// Encodings:
//   Varint      LEB128, 7 bits a byte, low bits first: 1 byte below 128,
//               at most 10 bytes for a uint64_t.
//   Bytes       Varint length, then the bytes.
//   Fixed*LE    little-endian; Fixed64BE big-endian (used in keys, where
//               RocksDB's bytewise order must equal numeric order).
#include <cstdint>
#include <string>
#include <string_view>

namespace kvraft::statemachine {

class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}

  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void Fixed16LE(uint16_t v) { PutLE(v, 2); }
  void Fixed32LE(uint32_t v) { PutLE(v, 4); }
  void Fixed64LE(uint64_t v) { PutLE(v, 8); }
  void Fixed64BE(uint64_t v);
  void Varint(uint64_t v);
  void Bytes(std::string_view bytes);
  void Raw(std::string_view bytes) { out_->append(bytes); }

 private:
  void PutLE(uint64_t v, int bytes);
  std::string* out_;
};

// Reads from a view without copying. Every method returns false, consuming
// nothing, when the input is too short or malformed, so a decoder turns any
// bad input into an error instead of reading past the end.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}

  bool U8(uint8_t* v);
  bool Fixed16LE(uint16_t* v);
  bool Fixed32LE(uint32_t* v);
  bool Fixed64LE(uint64_t* v);
  bool Fixed64BE(uint64_t* v);
  // Rejects encodings longer than 10 bytes and values above 2^64-1.
  bool Varint(uint64_t* v);
  // The view points into the input.
  bool Bytes(std::string_view* v);
  bool Raw(size_t n, std::string_view* v);

  size_t remaining() const { return in_.size() - pos_; }
  size_t position() const { return pos_; }

 private:
  bool GetLE(int bytes, uint64_t* v);
  std::string_view in_;
  size_t pos_ = 0;
};

// Helpers for keys, where the bytewise order must be numeric order.
std::string EncodeFixed64BE(uint64_t v);
uint64_t DecodeFixed64BE(std::string_view eightBytes);

}  // namespace kvraft::statemachine
