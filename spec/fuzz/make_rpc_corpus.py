#!/usr/bin/python3
"""Writes the seed corpus of spec/fuzz/fuzz_rpc.c into
spec/fuzz/corpus/fuzz_rpc/: valid and nearly valid wire messages
(docs/protocol.md), alone and in sequences, each file laid out as the
target reads it:

    input  := config stream plan
    config := bit 0 token "s3cret" required, bit 1 small limits,
              bits 2..7 the seed of the embedder's choices
    plan   := chunk sizes read from the end backwards, 0 for the rest

Before its input the session has started calls 1 to 4: 1 a plain request,
2 a call taking streams (default windows), 3 the same with a result
window of 2, 4 with sub 1. Run it again after changing the seeds:

    /usr/bin/python3 spec/fuzz/make_rpc_corpus.py
"""
import os

import msgpack

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "corpus", "fuzz_rpc")

ITEM, DATA, END, CREDIT, CANCEL, EXPIRE, DEADLINE = range(7)


def config(token=False, small=False, seed=0):
    return int(token) | int(small) << 1 | seed << 2


def pack(msg):
    if isinstance(msg, bytes):
        return msg  # hand-written bytes
    return msgpack.packb(msg, use_bin_type=True)


def chunks(n, pattern):
    """Chunk sizes covering n bytes, cycling through pattern."""
    sizes, i = [], 0
    while n > 0:
        size = min(pattern[i % len(pattern)], n)
        sizes.append(size)
        n -= size
        i += 1
    return sizes


def seed(name, msgs, cfg=0, pattern=None):
    stream = b"".join(pack(m) for m in msgs)
    plan = chunks(len(stream), pattern) if pattern else [0]
    assert all(0 <= size <= 255 for size in plan)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([cfg]) + stream + bytes(reversed(plan)))


def hello(token=None, msg_id=1):
    opts = {"version": 1, "name": "hilt-cli"}
    if token is not None:
        opts["token"] = token
    return [0, msg_id, "rpc.hello", [opts]]


def standard():
    seed("request", [[0, 1, "power/on", []]])
    seed("request_params",
         [[0, 8, "gpio/set", [3, True, -1.5, None, b"\x01\x02", {"k": "v"},
                              msgpack.ExtType(5, b"abc")]]], config(seed=1))
    seed("notify", [[2, "log", ["info", "board up"]]])
    seed("responses", [
        [1, 1, None, True],
        [1, 2, {"code": "not_found", "message": "no method 'power/of'"},
         None],
        [1, 3, "oops", None],
        [1, 4, None, None],
    ], config(seed=2))
    seed("response_unknown_id", [[1, 99, None, None]])
    seed("duplicate_id", [[0, 30, "a", []], [0, 30, "b", []]],
         config(seed=3))


def calls():
    seed("call", [[3, 7, "console/lines", [],
                   {"timeout": 5, "sub": 0, "credit": 64}]])
    seed("call_trace",
         [[3, 9, "sensor/read", [1],
           {"timeout": 2.5, "trace": "abc123", "stream": True}]],
         config(seed=4))
    seed("call_subs", [[3, 10, "power/off", [], {"sub": 1}],
                       [3, 11, "led/blink", [], {"sub": 2}]])
    seed("call_unknown_option",
         [[3, 12, "x/y", [], {"trace": b"\x00\x01", "credit": 0,
                              "later": [1, {"a": 2}], "stream": True}]],
         config(seed=5))
    seed("call_bad_opts", [
        [3, 13, "a", [], []],
        [3, 14, "a", [], {"sub": 3}],
        [3, 15, "a", [], {"timeout": -1}],
        [3, 16, "a", [], {"trace": "x" * 65}],
        [3, 17, "a", [], {1: 2}],
        [3, 18, "a", []],
        [3, 19, "a", [], {"stream": 1}],
        [0, 20, 5, []],
        [0, 21, "a", {}],
        [0, 22, "m" * 1025, []],
        [2, "n" * 1025, []],
    ])


def streams():
    # Enough handlers at once to grow the table of ops, then cancelled.
    seed("many_handlers",
         [[3, i, "h", [], {"stream": True}] for i in range(100, 124)] +
         [[5, i, 0, CANCEL, None] for i in range(100, 124)],
         config(seed=19))
    seed("results_items", [
        [4, 2, 0, ITEM, 42], [4, 2, 1, ITEM, "x"], [4, 2, 2, END, None],
        [4, 2, 3, END, None], [1, 2, None, None],
    ], config(seed=6))
    seed("results_data", [
        [4, 3, 0, DATA, b"ab"], [4, 3, 1, DATA, "c"], [1, 3, None, None],
    ], config(seed=1))
    seed("results_data_str", [
        [4, 2, 0, DATA, "hello"], [4, 2, 1, DATA, b"world"],
        [4, 2, 2, END, None], [1, 2, None, None],
    ], config(seed=7))
    seed("results_credit", [
        [4, 2, 0, CREDIT, 5], [4, 2, 1, CREDIT, 0], [4, 2, 2, END, None],
        [1, 2, None, None],
    ], config(seed=4))
    # Call 1 takes no streams, 2 gets seq 5 first, 3 mixes items and bytes.
    seed("results_bad", [
        [4, 1, 0, ITEM, 1], [4, 2, 5, ITEM, 1],
        [4, 3, 0, ITEM, 1], [4, 3, 1, DATA, b"x"], [1, 3, None, 1],
    ])
    seed("results_credit_exceeded",
         [[4, 2, i, ITEM, i] for i in range(5)], config(small=True, seed=3))
    seed("input_stream", [
        [3, 20, "pump/feed", [], {"stream": True, "credit": 2}],
        [5, 20, 0, ITEM, 1], [5, 20, 1, ITEM, 2], [5, 20, 2, CREDIT, 4],
        [5, 20, 3, END, None], [5, 20, 4, ITEM, 3],
    ], config(seed=1))
    seed("cancel", [[3, 21, "long/op", [], {"stream": True}],
                    [5, 21, 0, CANCEL, None], [5, 21, 1, CANCEL, None]],
         config(seed=10))
    seed("expire", [[0, 22, "long/op", []], [5, 22, 0, EXPIRE, None]],
         config(seed=1))
    seed("deadline", [
        [3, 23, "long/op", [], {"timeout": 1}],
        [5, 23, 0, DEADLINE, 1.5], [5, 23, 1, DEADLINE, 3],
        [5, 23, 2, DEADLINE, 0],
    ], config(seed=12))
    seed("stream_bad_shapes", [
        [3, 25, "s", [], {"stream": True}],
        [4, 2, 0, ITEM],
        [5, 25, 0, 7, None],
        [4, 3, 0, CANCEL, None],
        [5, 25, 0, DATA, 5],
        [4, 4, 0, CREDIT, -1],
        [5, 99, 0, ITEM, 1],
    ], config(seed=13))


def hellos():
    seed("hello_token", [hello("s3cret"), [0, 2, "power/on", []],
                         [2, "log", ["x"]]], config(token=True))
    seed("hello_wrong_token", [hello("s3cres")], config(token=True))
    seed("hello_missing_token", [hello()], config(token=True))
    seed("before_hello", [[0, 5, "power/on", []], hello("s3cret")],
         config(token=True))
    seed("hello_open", [[0, 1, "rpc.hello", []], hello("anything", 2)])
    seed("hello_nested_option",
         [[0, 1, "rpc.hello",
           [{"client": {"os": "linux"}, "token": "s3cret"}]]],
         config(token=True))


def broken():
    seed("malformed", [b"\xc1"])
    seed("not_a_message", [1, [1], [9, 1]])
    seed("bad_id", [[0, -1, "a", []], [0, 2 ** 32, "a", []]])
    seed("wrong_length", [[2, "a", [], 1], [1, 1, None]])
    seed("too_deep", [[0, 40, "deep", [[[[[[[[1]]]]]]]]]],
         config(small=True))
    seed("too_big", [[0, 41, "big", ["x" * 300]]], config(small=True))
    seed("too_many_pending", [[0, i, "p", []] for i in range(50, 56)],
         config(small=True, seed=14))


def encodings():
    # [0, 7, "power/on", []] with the widest forms of each header, a call
    # whose timeout is a float 32, and stream fields as int 8 and uint 64.
    seed("wide_forms", [
        b"\xdc\x00\x04\xcc\x00\xce\x00\x00\x00\x07"
        b"\xd9\x08power/on\xdc\x00\x00",
        b"\x95\x03\x08\xa1m\x90\x81\xa7timeout\xca\x40\xa0\x00\x00",
        b"\x95\x04\x02\xcf\x00\x00\x00\x00\x00\x00\x00\x00\xd0\x00\x01",
    ])


def sequences():
    session = [
        hello("s3cret"),
        [3, 60, "pump/feed", [], {"stream": True, "trace": "t-1"}],
        [5, 60, 0, ITEM, {"v": 1}],
        [4, 2, 0, ITEM, [1, 2]],
        [2, "log", ["info", "up"]],
        [5, 60, 1, CANCEL, None],
        [1, 1, None, "ok"],
        [4, 2, 1, CREDIT, 3],
        [0, 61, "power/on", []],
        [1, 2, {"code": "failed", "message": "boom"}, None],
    ]
    seed("session", session, config(token=True, seed=15))
    seed("session_bytewise", session, config(token=True, seed=20), [1])
    seed("session_split", session, config(token=True, seed=8),
         [3, 7, 1, 13, 2, 64, 5])
    seed("session_open_split", session[1:], config(seed=6), [2, 9, 4])


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        os.remove(os.path.join(OUT, name))
    standard()
    calls()
    streams()
    hellos()
    broken()
    encodings()
    sequences()


if __name__ == "__main__":
    main()
