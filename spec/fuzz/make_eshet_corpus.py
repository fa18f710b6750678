#!/usr/bin/python3
"""Writes the seed corpus of spec/fuzz/fuzz_eshet.c into
spec/fuzz/corpus/fuzz_eshet/: streams of ESHET binary protocol v1 frames
(../shared/reference/seed-semantics.md section 1.1), built from the
protocol's table with struct and msgpack bytes written by hand, so the
seeds do not depend on the encoder under test. Each file is one stream,
the bytes a peer sends. Run it again after changing the seeds:

    /usr/bin/python3 spec/fuzz/make_eshet_corpus.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "corpus", "fuzz_eshet")

# A few msgpack values, as bytes.
NIL, TRUE, ONE = b"\xc0", b"\xc3", b"\x01"
ARGS = b"\x92\x01\xa1x"                   # [1, "x"]
MAP = b"\x82\xa1k\xcb\x3f\xf8\0\0\0\0\0\0\xa1n\x90"  # {k: 1.5, n: []}
ERROR = b"\xaepath_not_found"


def frame(payload):
    return struct.pack(">BH", 0x47, len(payload)) + payload


def on_path(code, msg_id, path, value=b""):
    return frame(struct.pack(">BH", code, msg_id) + path + b"\0" + value)


def client():
    """What a client sends: hello, registrations, requests, a ping."""
    return b"".join([
        frame(struct.pack(">BBH", 0x01, 1, 30)),
        frame(struct.pack(">BBH", 0x02, 1, 30) + b"\xa5aa:bb"),
        on_path(0x10, 1, b"/lamp/on"),
        on_path(0x11, 2, b"/lamp/on", ARGS),
        on_path(0x20, 3, b"/p"),
        on_path(0x23, 4, b"/p"),
        on_path(0x24, 5, b"/p", MAP),
        on_path(0x30, 6, b"/e"),
        on_path(0x31, 7, b"/e", ONE),
        on_path(0x32, 8, b"/e"),
        on_path(0x40, 9, b"/s"),
        on_path(0x41, 10, b"/s", TRUE),
        on_path(0x42, 11, b"/s"),
        on_path(0x43, 12, b"/s"),
        on_path(0x46, 13, b"/s"),
        frame(struct.pack(">BH", 0x09, 14)),
        frame(struct.pack(">BH", 0x05, 100) + NIL),
        frame(struct.pack(">BH", 0x06, 101) + ERROR),
    ])


def server():
    """What a server sends: hellos, replies, forwarded requests,
    notifications."""
    return b"".join([
        frame(b"\x03"),
        frame(b"\x04\xcd\x30\x39"),
        frame(struct.pack(">BH", 0x05, 1) + NIL),
        frame(struct.pack(">BH", 0x06, 2) + ERROR),
        frame(struct.pack(">BH", 0x07, 3) + ONE),
        frame(struct.pack(">BH", 0x08, 4)),
        frame(struct.pack(">BHI", 0x0a, 5, 1500) + MAP),
        frame(struct.pack(">BHI", 0x0b, 6, 0xffffffff)),
        on_path(0x11, 100, b"/lamp/on", ARGS),
        on_path(0x21, 101, b"/p"),
        on_path(0x22, 102, b"/p", ONE),
        on_path(0x47, 103, b"/s", TRUE),
        frame(b"\x33/e\0" + MAP),
        frame(b"\x44/s\0" + ONE),
        frame(b"\x45/s\0"),
    ])


def broken():
    """Streams that end in each kind of failure, after a good frame."""
    ping = frame(struct.pack(">BH", 0x09, 1))
    return {
        "bad_sync": ping + b"\x48\x00\x01\x09",
        "empty_frame": ping + b"\x47\x00\x00",
        "unknown_type": ping + frame(b"\x0c"),
        "too_short": ping + frame(b"\x11\x00"),
        "no_nul": ping + frame(b"\x10\x00\x01/a"),
        "missing_value": ping + frame(b"\x11\x00\x01/a\0"),
        "trailing": ping + frame(b"\x05\x00\x01\x01\x02"),
        "bad_value": ping + frame(b"\x05\x00\x01\xc1"),
        "too_deep": ping + frame(b"\x05\x00\x01" + b"\x91" * 65 + b"\x01"),
        "truncated": ping + frame(b"\x33/e\0" + ARGS)[:-2],
    }


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        os.remove(os.path.join(OUT, name))
    write("client", client())
    write("server", server())
    write("long_path", on_path(0x10, 1, b"/" + b"a" * 1500))
    write("nested", frame(b"\x05\x00\x01" + b"\x91" * 63 + b"\x81\x01\x01"))
    for name, data in broken().items():
        write(name, data)


if __name__ == "__main__":
    main()
