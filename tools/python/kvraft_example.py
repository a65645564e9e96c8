#!/usr/bin/env python3
"""A minimal kvraft client in Python: find the leader, register a client
session, Put a key, Get it back.

The Python code for thrift/kv.thrift is generated at build time into
<build>/python (the kvraft_python_gen target), and the Thrift runtime is
Debian's python3-thrift:

    PYTHONPATH=build/python /usr/bin/python3 tools/python/kvraft_example.py \\
        --endpoints=127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103

Exit status: 0 when the value read back is the value written; 1 otherwise,
with the reason on stderr.
"""

import argparse
import logging
import sys
import time

try:
    from thrift.protocol import TBinaryProtocol
    from thrift.Thrift import TException
    from thrift.transport import TSocket, TTransport
except ImportError as e:
    sys.exit(f"kvraft_example: cannot import the Thrift runtime ({e}); install python3-thrift")
try:
    from kvraft_kv import KvService
    from kvraft_kv.ttypes import Code, GetRequest, PutRequest, Session
except ImportError as e:
    sys.exit(f"kvraft_example: cannot import the generated kv.thrift code ({e}); "
             "set PYTHONPATH to <build>/python (built by the kvraft_python_gen target)")


# The Thrift runtime logs every failed connect; this program reports what
# went wrong itself, once.
logging.getLogger("thrift").setLevel(logging.CRITICAL)


class Failure(Exception):
    """What went wrong, in words for the user."""


def split_endpoint(endpoint):
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise Failure(f"'{endpoint}' is not host:port")
    return host, int(port)


class Connection:
    """One framed, binary-protocol connection to a node, as kvd serves."""

    def __init__(self, endpoint, timeout_ms):
        host, port = split_endpoint(endpoint)
        socket = TSocket.TSocket(host, port)
        socket.setTimeout(timeout_ms)
        self.endpoint = endpoint
        self.transport = TTransport.TFramedTransport(socket)
        self.client = KvService.Client(TBinaryProtocol.TBinaryProtocol(self.transport))
        self.transport.open()

    def close(self):
        self.transport.close()


def code_name(code):
    return Code._VALUES_TO_NAMES.get(code, str(code))


# Answers that mean "ask again, maybe elsewhere": the call may be retried
# as it is (a write keeps its sequence number, so it is applied at most once).
RETRY = (Code.NOT_LEADER, Code.TIMEOUT, Code.UNAVAILABLE)


class Cluster:
    """Sends each call to the leader: it follows a NOT_LEADER answer's
    leaderAddress when there is one, and otherwise tries the next endpoint,
    until the deadline."""

    def __init__(self, endpoints, timeout_ms, deadline):
        self.queue = list(endpoints)
        self.timeout_ms = timeout_ms
        self.deadline = deadline
        self.connection = None

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def call(self, what, send):
        tried = {}  # endpoint -> what it last did
        pause = 0.05
        while time.monotonic() < self.deadline:
            if self.connection is None:
                endpoint = self.queue.pop(0)
                self.queue.append(endpoint)
                try:
                    self.connection = Connection(endpoint, self.timeout_ms)
                except TException as e:
                    tried[endpoint] = f"cannot connect ({e})"
                    time.sleep(pause)
                    continue
            endpoint = self.connection.endpoint
            try:
                answer = send(self.connection.client)
            except TException as e:
                tried[endpoint] = str(e)
                self.close()
                continue
            result = answer.result
            if result.code not in RETRY:
                return answer
            tried[endpoint] = f"{code_name(result.code)} {result.message}"
            self.close()
            if result.code == Code.NOT_LEADER and result.leaderAddress:
                # The named leader goes first.
                if result.leaderAddress in self.queue:
                    self.queue.remove(result.leaderAddress)
                self.queue.insert(0, result.leaderAddress)
                continue
            # No leader known (an election is on): wait a little.
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
        raise Failure(f"{what}: no leader answered before the deadline; tried:\n" +
                      "".join(f"  {e}: {outcome}\n" for e, outcome in tried.items()).rstrip())


def main():
    parser = argparse.ArgumentParser(description="Put a key into a kvraft cluster and read it back.")
    parser.add_argument("--endpoints", required=True,
                        help="client addresses of some or all nodes, host:port,...")
    parser.add_argument("--key", default="python-example")
    parser.add_argument("--value", default="hello from python")
    parser.add_argument("--timeout_ms", type=int, default=10000,
                        help="how long the whole run may take, and the timeout of each call")
    args = parser.parse_args()
    endpoints = [e for e in args.endpoints.split(",") if e]
    if not endpoints:
        raise Failure("--endpoints is empty")

    cluster = Cluster(endpoints, args.timeout_ms, time.monotonic() + args.timeout_ms / 1000.0)
    try:
        registered = cluster.call("RegisterClient", lambda c: c.RegisterClient())
        if registered.result.code != Code.OK:
            raise Failure(f"RegisterClient: {code_name(registered.result.code)} {registered.result.message}")
        client_id = registered.clientId

        # The first write of a new session: sequence number 1, nothing
        # outstanding below it. A retry sends the same numbers.
        request = PutRequest(session=Session(clientId=client_id, sequence=1, firstOutstanding=1),
                             key=args.key.encode(), value=args.value.encode())
        put = cluster.call("Put", lambda c: c.Put(request))
        if put.result.code != Code.OK:
            raise Failure(f"Put: {code_name(put.result.code)} {put.result.message}")
        print(f"put {args.key} = {args.value} (client {client_id}, leader {cluster.connection.endpoint})")

        got = cluster.call("Get", lambda c: c.Get(GetRequest(key=args.key.encode(), stale=False)))
        if got.result.code != Code.OK:
            raise Failure(f"Get: {code_name(got.result.code)} {got.result.message}")
        value = got.value.decode(errors="replace") if got.value is not None else None
        print(f"get {args.key} = {value}")
        if value != args.value:
            raise Failure(f"read back {value!r}, wrote {args.value!r}")
    finally:
        cluster.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"kvraft_example: {e}", file=sys.stderr)
        sys.exit(1)
