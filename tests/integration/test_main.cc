// main() of kvd_tests: gtest, with glog writing to stderr and Thrift's own
// diagnostics (each refused connect while a node is down) kept out of the
// test output unless asked for with GLOG_v=1.
#include <glog/logging.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <thrift/TOutput.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  apache::thrift::GlobalOutput.setOutputFunction([](const char* message) { VLOG(1) << "thrift: " << message; });
  // Tests write to sockets the server may have closed (bad input cases).
  signal(SIGPIPE, SIG_IGN);
  return RUN_ALL_TESTS();
}
