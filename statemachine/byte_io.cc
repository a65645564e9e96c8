#include "statemachine/byte_io.h"

namespace kvraft::statemachine {

void ByteWriter::PutLE(uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out_->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void ByteWriter::Fixed64BE(uint64_t v) {
  for (int i = 7; i >= 0; --i) out_->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void ByteWriter::Varint(uint64_t v) {
  while (v >= 0x80) {
    out_->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_->push_back(static_cast<char>(v));
}

void ByteWriter::Bytes(std::string_view bytes) {
  Varint(bytes.size());
  out_->append(bytes);
}

bool ByteReader::GetLE(int bytes, uint64_t* v) {
  if (remaining() < static_cast<size_t>(bytes)) return false;
  uint64_t x = 0;
  for (int i = 0; i < bytes; ++i) {
    x |= static_cast<uint64_t>(static_cast<uint8_t>(in_[pos_ + i])) << (8 * i);
  }
  pos_ += bytes;
  *v = x;
  return true;
}

bool ByteReader::U8(uint8_t* v) {
  if (remaining() < 1) return false;
  *v = static_cast<uint8_t>(in_[pos_++]);
  return true;
}

bool ByteReader::Fixed16LE(uint16_t* v) {
  uint64_t x;
  if (!GetLE(2, &x)) return false;
  *v = static_cast<uint16_t>(x);
  return true;
}

bool ByteReader::Fixed32LE(uint32_t* v) {
  uint64_t x;
  if (!GetLE(4, &x)) return false;
  *v = static_cast<uint32_t>(x);
  return true;
}

bool ByteReader::Fixed64LE(uint64_t* v) { return GetLE(8, v); }

bool ByteReader::Fixed64BE(uint64_t* v) {
  if (remaining() < 8) return false;
  *v = DecodeFixed64BE(in_.substr(pos_, 8));
  pos_ += 8;
  return true;
}

bool ByteReader::Varint(uint64_t* v) {
  uint64_t x = 0;
  for (size_t i = 0; i < 10; ++i) {
    if (pos_ + i >= in_.size()) return false;
    const uint8_t b = static_cast<uint8_t>(in_[pos_ + i]);
    // The 10th byte holds bit 63 only; anything more overflows a uint64_t.
    if (i == 9 && b > 1) return false;
    x |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      pos_ += i + 1;
      *v = x;
      return true;
    }
  }
  return false;
}

bool ByteReader::Raw(size_t n, std::string_view* v) {
  if (remaining() < n) return false;
  *v = in_.substr(pos_, n);
  pos_ += n;
  return true;
}

bool ByteReader::Bytes(std::string_view* v) {
  const size_t start = pos_;
  uint64_t n;
  if (!Varint(&n)) return false;
  if (n > remaining()) {
    pos_ = start;
    return false;
  }
  *v = in_.substr(pos_, n);
  pos_ += n;
  return true;
}

std::string EncodeFixed64BE(uint64_t v) {
  std::string out;
  ByteWriter(&out).Fixed64BE(v);
  return out;
}

uint64_t DecodeFixed64BE(std::string_view b) {
  uint64_t x = 0;
  for (size_t i = 0; i < 8; ++i) x = (x << 8) | static_cast<uint8_t>(b[i]);
  return x;
}

}  // namespace kvraft::statemachine
