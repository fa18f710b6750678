"""Unary gRPC echo in Python (Debian's python3-grpcio), the common RPC stack
to compare against. No .proto: a generic handler passes bytes through, so
only gRPC's own framing and dispatch are measured, not protobuf.

  /usr/bin/python3 grpc_echo.py server ADDR
  /usr/bin/python3 grpc_echo.py client ADDR SECONDS   prints "calls_per_sec N"

ADDR is tcp:PORT (on 127.0.0.1) or unix:PATH.
"""
import sys
import time
from concurrent import futures

import grpc

METHOD = "/bench.Echo/Echo"


def grpc_target(addr):
    if addr.startswith("tcp:"):
        return "127.0.0.1:" + addr[4:]
    if addr.startswith("unix:"):
        return addr  # gRPC's own syntax for unix sockets
    sys.exit("grpc_echo: ADDR must be tcp:PORT or unix:PATH")


def server(addr):
    # Serializers left as None pass the request bytes through untouched.
    echo = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
    handler = grpc.method_handlers_generic_handler("bench.Echo", {"Echo": echo})
    # Calls are sequential, so one worker thread is all the server uses.
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=1),
                      handlers=(handler,))
    if srv.add_insecure_port(grpc_target(addr)) == 0:
        sys.exit("grpc_echo: cannot listen on " + addr)
    srv.start()
    srv.wait_for_termination()


def client(addr, seconds):
    arg = b"x" * 32
    with grpc.insecure_channel(grpc_target(addr)) as channel:
        # Timed from a connected channel, as every client here is.
        grpc.channel_ready_future(channel).result(timeout=10)
        call = channel.unary_unary(METHOD)  # bytes in, bytes out
        calls = 0
        start = now = time.perf_counter()
        deadline = start + seconds
        while now < deadline:
            if call(arg) != arg:
                sys.exit("grpc_echo: bad reply")
            calls += 1
            now = time.perf_counter()
        print("calls_per_sec %.0f" % (calls / (now - start)))


def main(argv):
    if len(argv) == 3 and argv[1] == "server":
        server(argv[2])
    elif len(argv) == 4 and argv[1] == "client":
        client(argv[2], float(argv[3]))
    else:
        sys.exit("usage: grpc_echo.py server ADDR\n"
                 "       grpc_echo.py client ADDR SECONDS\n"
                 "ADDR: tcp:PORT or unix:PATH")


if __name__ == "__main__":
    main(sys.argv)
