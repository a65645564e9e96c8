#include "bench/kept_data.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "bench/csv_writer.h"

namespace kvraft::bench {
namespace {

std::string RecordPath(const std::string& dir) { return dir + "/kvbench-loaded.json"; }

}  // namespace

std::optional<LoadedKeys> ReadLoadedKeys(const std::string& dir) {
  std::ifstream in(RecordPath(dir));
  if (!in) return std::nullopt;
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  LoadedKeys loaded;
  for (auto [name, field] : {std::pair{"keys", &loaded.keys}, std::pair{"key_size", &loaded.keySize},
                             std::pair{"value_size", &loaded.valueSize}}) {
    const auto it = j.find(name);
    if (it == j.end() || !it->is_number_unsigned()) return std::nullopt;
    *field = it->get<uint64_t>();
  }
  return loaded;
}

bool WriteLoadedKeys(const std::string& dir, const LoadedKeys& loaded, std::string* error) {
  const nlohmann::json j = {
      {"keys", loaded.keys}, {"key_size", loaded.keySize}, {"value_size", loaded.valueSize}};
  const std::string path = RecordPath(dir);
  const std::string staging = path + ".tmp";
  if (!WriteTextFile(staging, j.dump() + "\n", error)) return false;
  if (std::rename(staging.c_str(), path.c_str()) != 0) {
    *error = "cannot rename " + staging + " to " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

void ForgetLoadedKeys(const std::string& dir) { std::remove(RecordPath(dir).c_str()); }

bool RunKeepsLoadedKeys(const OpMix& mix, uint64_t keySpace, uint64_t valueSize,
                        const LoadedKeys& loaded) {
  for (const OpWeight& w : mix.weights()) {
    switch (w.kind) {
      case OpKind::kGet:
      case OpKind::kRange:
      case OpKind::kPut:
      case OpKind::kCas:
      case OpKind::kReadModifyWrite:
        break;
      case OpKind::kAppend:
      case OpKind::kDelete:
      case OpKind::kInsert:
        return false;
    }
  }
  return keySpace <= loaded.keys && valueSize == loaded.valueSize;
}

}  // namespace kvraft::bench
