#include "tests/integration/test_util.h"

#include <gtest/gtest.h>

#include <sstream>
#include <thread>

namespace kvraft::integration {

using Steady = std::chrono::steady_clock;

bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit,
                std::chrono::milliseconds every) {
  const Steady::time_point deadline = Steady::now() + limit;
  while (true) {
    if (condition()) return true;
    if (Steady::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

client::KvClient::Options ClientOptions(std::vector<std::string> endpoints, std::chrono::milliseconds timeout) {
  client::KvClient::Options o;
  o.endpoints = std::move(endpoints);
  o.timeout = timeout;
  o.attemptTimeout = std::min(o.attemptTimeout, timeout);
  return o;
}

int AFollower(const KvdCluster& cluster, int leader) { return leader == 1 ? 2 : 1; }

bool ReadAll(client::KvClient& kv, bool stale, std::map<std::string, std::string>* out, std::string* error) {
  out->clear();
  std::string start;
  // Bounded: every page but the last holds at least one new key.
  for (int page = 0; page < 1000000; ++page) {
    client::Result r = kv.Range(start, "", 500, stale);
    if (!r.ok()) {
      *error = "Range from '" + start + "': " + r.ToString();
      return false;
    }
    for (client::KeyValue& item : r.items) (*out)[item.key] = std::move(item.value);
    if (!r.more) return true;
    if (r.items.empty()) {
      *error = "Range from '" + start + "' said there is more but returned nothing";
      return false;
    }
    start = r.items.back().key + std::string(1, '\0');
  }
  *error = "too many pages";
  return false;
}

kvraft::thrift::NodeStatus StatusOf(const KvdCluster& cluster, int i) {
  kvraft::thrift::NodeStatus s;
  if (!cluster.Status(i, &s)) ADD_FAILURE() << "node " << i << " did not answer Status";
  return s;
}

bool WaitApplied(const KvdCluster& cluster, int i, int64_t index, std::chrono::milliseconds limit) {
  return Eventually(
      [&] {
        kvraft::thrift::NodeStatus s;
        return cluster.Status(i, &s) && s.appliedIndex >= index;
      },
      limit);
}

std::string DescribeDifferences(const std::map<std::string, std::string>& actual,
                                const std::map<std::string, std::string>& expected) {
  std::string out;
  int shown = 0;
  auto note = [&](const std::string& line) {
    if (shown++ < 5) out += "\n  " + line;
  };
  for (const auto& [key, value] : expected) {
    auto it = actual.find(key);
    if (it == actual.end()) {
      note(key + ": missing, expected '" + value + "'");
    } else if (it->second != value) {
      note(key + ": '" + it->second + "', expected '" + value + "'");
    }
  }
  for (const auto& [key, value] : actual) {
    if (!expected.count(key)) note(key + ": unexpected, '" + value + "'");
  }
  if (shown == 0) return "";
  return std::to_string(shown) + " differences (" + std::to_string(actual.size()) + " keys, expected " +
         std::to_string(expected.size()) + "):" + out;
}

void ExpectContains(const std::map<std::string, std::string>& actual,
                    const std::map<std::string, std::string>& expected, const std::string& where) {
  int missing = 0;
  for (const auto& [key, value] : expected) {
    auto it = actual.find(key);
    if (it != actual.end() && it->second == value) continue;
    if (++missing <= 5) {
      ADD_FAILURE() << where << ": " << key << " is " << (it == actual.end() ? "missing" : "'" + it->second + "'")
                    << ", expected '" << value << "'";
    }
  }
  EXPECT_EQ(missing, 0) << where << ": " << missing << " of " << expected.size() << " keys wrong or missing";
}

int CountLines(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) ++n;
  }
  return n;
}

}  // namespace kvraft::integration
