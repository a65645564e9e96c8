#pragma once
// Names the calling thread (truncated to the kernel's 15 characters), so
// that top -H, perf and gdb tell the loop, the peer senders and the IO
// threads apart.
#include <pthread.h>

#include <string>

namespace kvraft::core {

inline void SetThreadName(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace kvraft::core
