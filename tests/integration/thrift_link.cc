#include "tests/integration/thrift_link.h"

namespace kvraft::integration {

bool QueryStatus(const std::string& endpoint, std::chrono::milliseconds timeout,
                 kvraft::thrift::NodeStatus* out, std::string* error) {
  try {
    KvLink link(endpoint, timeout);
    link->Status(*out);
    return true;
  } catch (const std::exception& e) {
    if (error != nullptr) *error = e.what();
    return false;
  }
}

}  // namespace kvraft::integration
