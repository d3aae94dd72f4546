#!/usr/bin/python3
"""pyzmq PUB -> SUB rate for 4 KiB fedmsg frames, for comparison with
BenchmarkZMQPublish4K (bus/zmq_bench_test.go).

usage: /usr/bin/python3 bench/pyzmq_rate.py [-n MESSAGES] [--runs R] [--frames FILE]

A publisher (XPUB with XPUB_NODROP, so it blocks at the high-water mark
instead of dropping, the same no-drop flow control as the Go benchmark)
sends MESSAGES copies of [topic, body] over TCP loopback to a SUB in a
child process, which checks the frame count. The body is the canonical
JSON of an envelope whose msg holds a 4096-character string, like the Go
benchmark's. Prints each run's received messages per second and the
median.

--frames FILE sends the messages saved by bench/sub_count.py --save (the
envelopes a real mailgw run published) in turn instead, so that the rate
is libzmq's limit for those very frames.
"""
import argparse
import json
import multiprocessing
import statistics
import struct
import time

import zmq

TOPIC = "org.debian.dev.bench.load"


def body():
    env = {
        "i": 1,
        "msg": {
            "log": "x" * 4096,
            "mailgw": {"msg_id": "2026-bench", "timestamp": 1795000000, "topic": TOPIC},
        },
        "msg_id": "2026-4e4b7b6b-6f6b-5d0c-9d4e-000000000000",
        "timestamp": 1795000000,
        "topic": TOPIC,
        "username": "bench",
    }
    return json.dumps(env, sort_keys=True, separators=(",", ":")).encode()


def load_frames(path):
    """Reads length-prefixed [topic, body] pairs written by sub_count.py."""
    with open(path, "rb") as f:
        data = f.read()
    msgs, off = [], 0
    while off < len(data):
        parts = []
        for _ in range(2):
            (n,) = struct.unpack_from(">I", data, off)
            parts.append(data[off + 4:off + 4 + n])
            off += 4 + n
        msgs.append(parts)
    if not msgs:
        raise SystemExit("no messages in %s" % path)
    return msgs


def subscriber(endpoint, n, results):
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(endpoint)
    bad = 0
    for _ in range(n):
        if len(sock.recv_multipart()) != 2:
            bad += 1
    results.put((time.perf_counter(), bad))
    sock.close(linger=0)
    ctx.term()


def run(n, msgs):
    ctx = zmq.Context()
    pub = ctx.socket(zmq.XPUB)
    pub.setsockopt(zmq.XPUB_NODROP, 1)
    pub.setsockopt(zmq.SNDHWM, 10000)
    pub.bind("tcp://127.0.0.1:*")
    endpoint = pub.getsockopt_string(zmq.LAST_ENDPOINT)
    results = multiprocessing.Queue()
    child = multiprocessing.Process(target=subscriber, args=(endpoint, n, results))
    child.start()
    pub.recv()  # the subscription
    start = time.perf_counter()
    for k in range(n):
        frames = msgs[k % len(msgs)]
        while True:
            try:
                pub.send_multipart(frames, flags=zmq.NOBLOCK)
                break
            except zmq.Again:
                pub.poll(100, zmq.POLLOUT)
    end, bad = results.get()
    child.join()
    pub.close(linger=0)
    ctx.term()
    if bad:
        raise SystemExit("%d messages without two frames" % bad)
    return n / (end - start)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--frames", help="frames file from sub_count.py --save")
    args = ap.parse_args()
    msgs = load_frames(args.frames) if args.frames else [[TOPIC.encode(), body()]]
    what = "%d saved envelopes" % len(msgs) if args.frames else "4 KiB"
    rates = []
    for i in range(args.runs):
        rates.append(run(args.n, msgs))
        print("run %d: %.0f msg/s" % (i + 1, rates[-1]), flush=True)
    print("pyzmq %s (libzmq %s) PUB->SUB %s: median %.0f msg/s over %d runs of %d"
          % (zmq.__version__, zmq.zmq_version(), what, statistics.median(rates), args.runs, args.n))


if __name__ == "__main__":
    main()
