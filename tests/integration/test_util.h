#pragma once
// Helpers shared by the kvd integration tests.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "core/kv_client.h"
#include "tests/integration/kvd_cluster.h"

namespace kvraft::client {
// gtest prints codes by name.
inline void PrintTo(Code code, std::ostream* os) { *os << CodeName(code); }
}  // namespace kvraft::client

namespace kvraft::integration {

// How long a cluster gets to elect a leader. Generous: on a loaded 2-core
// machine a kvd can take a second or more to start.
constexpr std::chrono::milliseconds kLeaderLimit{20000};
// How long a node gets to catch up with the others.
constexpr std::chrono::milliseconds kCatchUpLimit{30000};

// Polls `condition` every `every` until it holds (true) or `limit` passes
// (false). The condition is evaluated at least once.
bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit,
                std::chrono::milliseconds every = std::chrono::milliseconds(20));

// Client options for tests: the library's defaults, with `timeout`.
client::KvClient::Options ClientOptions(std::vector<std::string> endpoints,
                                        std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

// A node other than `leader` (the lowest id).
int AFollower(const KvdCluster& cluster, int leader);

// Every key-value pair in the store, read page by page (small pages, so
// that paging is exercised). False, with *error, if a read failed.
bool ReadAll(client::KvClient& kv, bool stale, std::map<std::string, std::string>* out, std::string* error);

// Waits until node i has applied at least `index`; false if it has not
// within `limit`.
bool WaitApplied(const KvdCluster& cluster, int i, int64_t index, std::chrono::milliseconds limit);

// Node i's status, failing the test (and returning a blank status) if it
// does not answer.
kvraft::thrift::NodeStatus StatusOf(const KvdCluster& cluster, int i);

// "" if the maps are equal; else the first few differences.
std::string DescribeDifferences(const std::map<std::string, std::string>& actual,
                                const std::map<std::string, std::string>& expected);

// Fails the test unless every pair in `expected` is in `actual` (which may
// hold more); names the first few that are missing or differ. `where` says
// which read this was.
void ExpectContains(const std::map<std::string, std::string>& actual,
                    const std::map<std::string, std::string>& expected, const std::string& where);

// How many lines of `text` contain `needle`.
int CountLines(const std::string& text, const std::string& needle);

}  // namespace kvraft::integration
