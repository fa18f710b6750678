"""How soon `hilt serve CONFIG` answers, next to baselines timed in the same
run: from spawning the process to (a) its "listening on" line on stdout and
(b) the reply to a first call (a client that retries connecting from the
moment of the spawn, then makes one msgpack-RPC call), against the
start-to-exit time of `hilt -e ''` and `lua5.4 -e ''`. The three are spawned
in turn in every run, so a slow spell of the machine hits them alike; the
report is medians over the runs.

  python3 startup.py HILT CONFIG METHOD RUNS

METHOD is the first call's wire method, e.g. dut/power/state. Prints
"KEY VALUE" lines, in milliseconds: the median (KEY_median) and the worst
run (KEY_max) of serve_listening_ms, serve_first_call_ms (when Python has
msgpack), hilt_e_ms and lua_e_ms.
"""
import errno
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

try:
    import msgpack
except ImportError:
    msgpack = None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def first_call(port, method, proc, t0):
    """Connects to port, retrying until the server listens, then calls
    method with no arguments; returns the time of the reply, from t0."""
    while True:
        if proc.poll() is not None:
            raise SystemExit("hilt serve exited with %d" % proc.returncode)
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", port))
            break
        except OSError as e:
            s.close()
            if e.errno != errno.ECONNREFUSED:
                raise
            # Short enough not to blur the figure, long enough not to take
            # the core from the server when both share it.
            time.sleep(0.0002)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with s:
        s.sendall(msgpack.packb([0, 1, method, []]))
        unpacker = msgpack.Unpacker(raw=False)
        while True:
            data = s.recv(65536)
            if not data:
                raise SystemExit("hilt serve closed the connection")
            unpacker.feed(data)
            for reply in unpacker:
                if reply[0] != 1 or reply[1] != 1 or reply[2] is not None:
                    raise SystemExit("bad reply to %s: %r" % (method, reply))
                return time.monotonic() - t0


def serve_once(hilt, config, method):
    """One `hilt serve`: the ms to its listening line and to its first
    answered call (None without msgpack)."""
    port = free_port()
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [hilt, "serve", config, "--listen", "tcp://127.0.0.1:%d" % port],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    listening = []

    def read_stdout():
        for line in proc.stdout:
            if line.startswith(b"listening on") and not listening:
                listening.append(time.monotonic() - t0)

    reader = threading.Thread(target=read_stdout)
    reader.start()
    try:
        call = first_call(port, method, proc, t0) if msgpack else None
        while not listening and proc.poll() is None:
            time.sleep(0.0005)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        reader.join()
    if not listening:
        raise SystemExit("hilt serve printed no 'listening on' line")
    return listening[0] * 1000, call and call * 1000


def run_once(argv):
    t0 = time.monotonic()
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
    return (time.monotonic() - t0) * 1000


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: python3 startup.py HILT CONFIG METHOD RUNS")
    hilt, config, method, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    samples = {"serve_listening_ms": [], "serve_first_call_ms": [],
               "hilt_e_ms": [], "lua_e_ms": []}
    for _ in range(runs):
        listening, call = serve_once(hilt, config, method)
        samples["serve_listening_ms"].append(listening)
        if call is not None:
            samples["serve_first_call_ms"].append(call)
        samples["hilt_e_ms"].append(run_once([hilt, "-e", ""]))
        samples["lua_e_ms"].append(run_once(["lua5.4", "-e", ""]))
    for key, values in samples.items():
        if values:
            print(key + "_median", "%.3f" % statistics.median(values))
            print(key + "_max", "%.3f" % max(values))


if __name__ == "__main__":
    main()
