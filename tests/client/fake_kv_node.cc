#include "tests/client/fake_kv_node.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <exception>
#include <mutex>
#include <thread>

#include <glog/logging.h>
#include <thrift/TOutput.h>

#include "core/thrift_server.h"

namespace kvraft::client::testing {

namespace {

// Thrift reports refused connects and server start-up on stderr; the tests
// provoke the former on purpose.
void QuietThrift() {
  static std::once_flag once;
  std::call_once(once, [] {
    apache::thrift::GlobalOutput.setOutputFunction([](const char* msg) { VLOG(1) << msg; });
  });
}

}  // namespace

void Gate::Open() {
  std::lock_guard<std::mutex> lock(mu_);
  open_ = true;
  cv_.notify_all();
}

bool Gate::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, kPatience, [this] { return open_; });
}

class FakeKvNode::Service : public wire::KvServiceIf {
 public:
  explicit Service(FakeKvNode* node) : node_(node) {}

  void RegisterClient(wire::RegisterClientResponse& out) override {
    int n;
    {
      std::lock_guard<std::mutex> lock(node_->mu_);
      n = ++node_->registrations_;
      node_->arrived_.notify_all();
    }
    if (node_->onRegister) return node_->onRegister(out);
    out.clientId = n;
  }

  void Get(wire::GetResponse& out, const wire::GetRequest& request) override {
    {
      std::lock_guard<std::mutex> lock(node_->mu_);
      node_->gets_.push_back(request);
      node_->arrived_.notify_all();
    }
    if (node_->onGet) return node_->onGet(request, out);
    out.result.code = wire::Code::NOT_FOUND;
  }

  void Put(wire::WriteResponse& out, const wire::PutRequest& request) override {
    Write(WriteCall{"Put", request.session, request.key, request.value, std::nullopt}, out);
  }
  void Append(wire::WriteResponse& out, const wire::AppendRequest& request) override {
    Write(WriteCall{"Append", request.session, request.key, request.value, std::nullopt}, out);
  }
  void Delete(wire::WriteResponse& out, const wire::DeleteRequest& request) override {
    Write(WriteCall{"Delete", request.session, request.key, "", std::nullopt}, out);
  }
  void CompareAndSwap(wire::WriteResponse& out,
                      const wire::CompareAndSwapRequest& request) override {
    std::optional<std::string> expected;
    if (request.__isset.expected) expected = request.expected;
    Write(WriteCall{"CompareAndSwap", request.session, request.key, request.value, expected}, out);
  }

  void Range(wire::RangeResponse& out, const wire::RangeRequest& request) override {
    {
      std::lock_guard<std::mutex> lock(node_->mu_);
      ++node_->ranges_;
    }
    if (node_->onRange) node_->onRange(request, out);
  }

  void Status(wire::NodeStatus& out) override {
    if (node_->onStatus) return node_->onStatus(out);
    out.nodeId = node_->nodeId;
    out.role = "leader";
    out.leaderId = node_->nodeId;
  }

  // Each op as if it had come alone, all at once: a test that holds one
  // op's handler at a gate does not hold the others of its batch.
  void Batch(wire::BatchResponse& out, const wire::BatchRequest& request) override {
    {
      std::lock_guard<std::mutex> lock(node_->mu_);
      node_->batchSizes_.push_back(request.ops.size());
    }
    out.results.resize(request.ops.size());
    std::vector<std::thread> ops;
    ops.reserve(request.ops.size());
    // A handler that throws fails the whole batch, as it would in a node.
    std::mutex mu;
    std::exception_ptr thrown;
    for (size_t i = 0; i < request.ops.size(); ++i) {
      ops.emplace_back([&, &op = request.ops[i], &result = out.results[i]] {
        try {
          RunOp(op, result);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mu);
          thrown = std::current_exception();
        }
      });
    }
    for (std::thread& t : ops) t.join();
    if (thrown) std::rethrow_exception(thrown);
  }

  void RunOp(const wire::BatchOp& op, wire::BatchResult& result) {
    if (op.__isset.get) {
      result.__isset.getResponse = true;
      return Get(result.getResponse, op.get);
    }
    result.__isset.writeResponse = true;
    if (op.__isset.put) return Put(result.writeResponse, op.put);
    if (op.__isset.append) return Append(result.writeResponse, op.append);
    if (op.__isset.remove) return Delete(result.writeResponse, op.remove);
    if (op.__isset.cas) return CompareAndSwap(result.writeResponse, op.cas);
    result.writeResponse.result.code = wire::Code::INVALID_ARGUMENT;
  }

  // The client library never sends the operators' commands (kvadmin does).
  void SnapshotNow(wire::AdminResponse& out) override { out.result.code = wire::Code::INVALID_ARGUMENT; }
  void Compact(wire::AdminResponse& out) override { out.result.code = wire::Code::INVALID_ARGUMENT; }

 private:
  void Write(const WriteCall& call, wire::WriteResponse& out) {
    {
      std::lock_guard<std::mutex> lock(node_->mu_);
      node_->writes_.push_back(call);
      node_->arrived_.notify_all();
    }
    if (node_->onWrite) node_->onWrite(call, out);
  }

  FakeKvNode* node_;
};

FakeKvNode::FakeKvNode() { QuietThrift(); }

FakeKvNode::~FakeKvNode() { Stop(); }

void FakeKvNode::Start() {
  core::ThriftServer::Options o;
  o.name = "fake-kv-node";
  o.listen = core::Address{"127.0.0.1", 0};
  // Enough workers that handlers a test holds back do not stall the rest.
  o.workerThreads = 8;
  o.onConnection = [this] {
    std::lock_guard<std::mutex> lock(mu_);
    ++connections_;
  };
  Status s = core::ThriftServer::Start(
      std::make_shared<wire::KvServiceProcessorFactory>(
          std::make_shared<wire::KvServiceIfSingletonFactory>(std::make_shared<Service>(this))),
      o, &server_);
  CHECK(s.ok()) << "the fake node did not start: " << s.ToString();
  port_ = server_->port();
}

void FakeKvNode::Stop() { server_.reset(); }

std::string FakeKvNode::endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

std::vector<size_t> FakeKvNode::batchSizes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return batchSizes_;
}

int FakeKvNode::registrations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return registrations_;
}

std::vector<WriteCall> FakeKvNode::writes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return writes_;
}

std::vector<wire::GetRequest> FakeKvNode::gets() const {
  std::lock_guard<std::mutex> lock(mu_);
  return gets_;
}

int FakeKvNode::ranges() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ranges_;
}

int FakeKvNode::connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connections_;
}

bool FakeKvNode::WaitForWrites(size_t n) const {
  std::unique_lock<std::mutex> lock(mu_);
  return arrived_.wait_for(lock, kPatience, [&] { return writes_.size() >= n; });
}

ClosedPort::ClosedPort() {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  PCHECK(fd_ >= 0) << "socket";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  PCHECK(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) << "bind";
  socklen_t len = sizeof addr;
  PCHECK(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) << "getsockname";
  port_ = ntohs(addr.sin_port);
}

ClosedPort::~ClosedPort() { close(fd_); }

std::string ClosedPort::endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

}  // namespace kvraft::client::testing
