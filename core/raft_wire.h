#pragma once
// Conversion between the core's messages (raftlog/types.h) and their Thrift
// form (thrift/raft.thrift). Incoming messages come from the network, so
// FromWire checks what the core relies on and refuses the rest.
#include <vector>

#include "raft_types.h"
#include "raftlog/status.h"
#include "raftlog/types.h"

namespace kvraft::core {

thrift::RaftMessage ToWire(const raft::Message& m);
// Moves the message's payloads out of `w`. InvalidArgument for an unknown
// message or entry type or a negative number.
Status FromWire(thrift::RaftMessage&& w, raft::Message* m);

}  // namespace kvraft::core
