"""How `hilt repl` feels, on a real pseudo-terminal: how soon its prompt is
ready, and how soon Tab completes against a live exporter and hub on
loopback, each next to a baseline measured in the same run.

- prompt: from spawning `hilt repl ADDR --hub HUB` (and `hilt repl`, which
  serves the simulated lab in-process) to its prompt on the terminal,
  against spawning `hilt -e 'io.write("> ")'` to that "> " (the runtime's
  own start); the runs alternate so a slow spell hits all alike.
- completion: from writing Tab after `lab.dut.po` (the remote driver
  tree: the exporter's report) and after `bus:get('/lab/ov` (the hub's
  listing, asked over the wire once the 2 s cache has expired) to the
  completed text on the terminal, against writing `x` to its echo (what
  the editor itself costs per key).

Figures are medians over the runs, in milliseconds, with the ratios
against the baselines and against the budgets (prompt 100 ms, completion
50 ms); below 1.0 is within budget.

  /usr/bin/python3 latency.py HILT RUNS
"""
import os
import pty
import select
import statistics
import subprocess
import sys
import time

HILT = sys.argv[1]
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


class Pty:
    """A program on a pseudo-terminal, its output read as it comes."""

    def __init__(self, argv, env=None):
        self.t0 = time.monotonic()
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvpe(argv[0], argv, dict(os.environ, **(env or {})))
        self.seen = b""

    def until(self, needle, timeout=10):
        """Reads until needle is in the output (from now on); returns the
        time it took, from the call."""
        start = time.monotonic()
        got = b""
        while needle not in got:
            left = timeout - (time.monotonic() - start)
            if left <= 0:
                raise SystemExit("timed out waiting for %r; got %r" % (needle, got))
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    got += os.read(self.fd, 65536)
                except OSError:
                    raise SystemExit("the program ended; got %r" % got)
        return time.monotonic() - start

    def write(self, data):
        os.write(self.fd, data)

    def close(self):
        try:
            os.kill(self.pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def start_server(argv):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    addr = None
    while addr is None:
        line = p.stdout.readline().decode()
        if not line:
            raise SystemExit("%s did not start" % argv[1])
        if "listening on" in line:
            addr = line.split("listening on ")[1].strip()
    return p, addr


def ms(x):
    return x * 1000


def main():
    env = {"HILT_HISTORY": "", "HILT_LOG": "warn"}
    exp, exp_addr = start_server([HILT, "serve", os.path.join(ROOT, "examples/lab.lua"),
                                  "--listen", "tcp://127.0.0.1:0"])
    hub, hub_addr = start_server([HILT, "hub", "--listen", "tcp://127.0.0.1:0"])
    try:
        prompt = {"remote": [], "sim": [], "runtime": []}
        for _ in range(RUNS):
            for key, argv in (("runtime", [HILT, "-e", 'io.write("> ")']),
                              ("remote", [HILT, "repl", exp_addr, "--hub", hub_addr]),
                              ("sim", [HILT, "repl"])):
                p = Pty(argv, env)
                p.until(b"> ")
                prompt[key].append(time.monotonic() - p.t0)
                p.close()

        keys = {"echo": [], "tree": [], "bus": []}
        p = Pty([HILT, "repl", exp_addr, "--hub", hub_addr], env)
        p.until(b"> ")
        p.write(b"st = bus:state_register('/lab/oven/temp')\r")
        p.until(b"\n> ")
        for i in range(RUNS):
            p.write(b"x")
            keys["echo"].append(p.until(b"x"))
            p.write(b"\x15")  # Ctrl-U: the line is empty again
            p.write(b"lab.dut.po")
            p.until(b"po")
            p.write(b"\t")
            keys["tree"].append(p.until(b"wer"))
            p.write(b"\x15")
        for i in range(max(3, RUNS // 4)):
            time.sleep(2.1)  # past the listing's cache
            p.write(b"bus:get('/lab/ov")
            p.until(b"ov")
            p.write(b"\t")
            keys["bus"].append(p.until(b"en/"))
            p.write(b"\x15")
        p.close()
    finally:
        exp.kill()
        hub.kill()
        exp.wait()
        hub.wait()

    med = {k: statistics.median(v) for k, v in list(prompt.items()) + list(keys.items())}
    print("prompt ready, repl against an exporter and a hub: %.1f ms median"
          " = %.2fx the runtime's own start, %.2fx the 100 ms budget"
          % (ms(med["remote"]), med["remote"] / med["runtime"], ms(med["remote"]) / 100))
    print("prompt ready, repl with the simulated lab in-process: %.1f ms median"
          " = %.2fx the runtime's own start, %.2fx the 100 ms budget"
          % (ms(med["sim"]), med["sim"] / med["runtime"], ms(med["sim"]) / 100))
    print("Tab on a remote driver tree: %.2f ms median = %.2fx a key's echo,"
          " %.3fx the 50 ms budget" % (ms(med["tree"]), med["tree"] / med["echo"],
                                       ms(med["tree"]) / 50))
    print("Tab on a bus path (listing over the wire): %.2f ms median = %.2fx a key's"
          " echo, %.3fx the 50 ms budget" % (ms(med["bus"]), med["bus"] / med["echo"],
                                             ms(med["bus"]) / 50))
    print("(runtime start %.1f ms, key echo %.2f ms; %d runs)"
          % (ms(med["runtime"]), ms(med["echo"]), RUNS))


main()
