#pragma once
// Free TCP ports on 127.0.0.1 for processes that will bind them later.

namespace kvraft::integration {

// A port the kernel just handed out for bind(port 0), left in TIME_WAIT so
// that for the next minute the kernel gives it to no other bind(0) or
// outgoing connection (tests running in parallel), while a server that
// binds it with SO_REUSEADDR (as Thrift's do) still can. Fails the test
// and returns 0 if no socket can be had.
int ReserveLoopbackPort();

}  // namespace kvraft::integration
