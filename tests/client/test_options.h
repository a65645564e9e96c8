#pragma once
// Client options for tests against fake nodes on 127.0.0.1: short pauses
// between attempts, and deadlines long enough never to be met by a test
// that expects success, yet short enough that one expecting failure
// finishes in well under a second.
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "core/kv_client.h"

namespace kvraft::client::testing {

inline KvClient::Options TestOptions(std::vector<std::string> endpoints,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  KvClient::Options o;
  o.endpoints = std::move(endpoints);
  o.timeout = timeout;
  o.attemptTimeout = std::chrono::seconds(5);
  o.minBackoff = std::chrono::milliseconds(1);
  o.maxBackoff = std::chrono::milliseconds(20);
  return o;
}

}  // namespace kvraft::client::testing
