#pragma once
// A spawned cluster kept between runs (--spawn_dir): the record of what its
// load phase wrote, so that a later run over the same keys can skip a load
// that takes minutes at 10^7 keys.
#include <cstdint>
#include <optional>
#include <string>

#include "bench/op_mix.h"

namespace kvraft::bench {

// Keys 0 .. keys-1, each with a value of valueSize bytes (MakeKey names).
struct LoadedKeys {
  uint64_t keys = 0;
  uint64_t keySize = 0;
  uint64_t valueSize = 0;
  bool operator==(const LoadedKeys&) const = default;
};

// The record in `dir`, or nullopt if there is none (nothing loaded yet, or a
// run since changed the keys). A record that cannot be parsed counts as none.
std::optional<LoadedKeys> ReadLoadedKeys(const std::string& dir);
// Replaces the record in `dir` (written to a temporary file and renamed, so a
// crash leaves the old record or the new one). False, with the reason.
bool WriteLoadedKeys(const std::string& dir, const LoadedKeys& loaded, std::string* error);
// Removes the record: the keys no longer are as the load phase wrote them.
void ForgetLoadedKeys(const std::string& dir);

// Whether a run of `mix` over keys [0, keySpace) with values of valueSize
// bytes leaves `loaded` true: it only reads loaded keys and overwrites them
// with values of the loaded size. Deletes, appends, inserts and keys past the
// loaded ones change what a later run would measure.
bool RunKeepsLoadedKeys(const OpMix& mix, uint64_t keySpace, uint64_t valueSize,
                        const LoadedKeys& loaded);

}  // namespace kvraft::bench
