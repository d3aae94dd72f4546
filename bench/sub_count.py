#!/usr/bin/python3
"""Count every fedmsg message a publisher sends, for bench/run.sh.

usage: /usr/bin/python3 bench/sub_count.py ENDPOINT [--idle SECONDS]
                                          [--save FILE] [--save-max N]

A SUB socket of Debian's python3-zmq (real libzmq) connects to ENDPOINT,
subscribes to everything with no receive high-water mark, prints "ready"
and counts two-frame messages. Every body is parsed as JSON and checked:
frame 0 equals the envelope's topic and the envelope is signed
(crypto "gpg" and a signature). Once IDLE seconds (default 2) pass with no
message after the first one, it prints one line of JSON:

  {"count": N, "distinct": D, "bad": B, "first": T0, "last": T1, "bytes": S}

(times are time.time() of the first and last message received). With
--save, the first N (default 20000) messages are written to FILE as
length-prefixed frames (4-byte big-endian length, topic, 4-byte length,
body) for bench/pyzmq_rate.py --frames: the very same envelope frames.
"""
import argparse
import json
import struct
import sys
import time

import zmq


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("endpoint")
    ap.add_argument("--idle", type=float, default=2.0)
    ap.add_argument("--save")
    ap.add_argument("--save-max", type=int, default=20000)
    args = ap.parse_args()

    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.setsockopt(zmq.RCVHWM, 0)
    sock.connect(args.endpoint)
    save = open(args.save, "wb") if args.save else None
    print("ready", flush=True)

    count = bad = size = saved = 0
    ids = set()
    first = last = None
    while True:
        if not sock.poll(200):
            if last is not None and time.time() - last > args.idle:
                break
            continue
        frames = sock.recv_multipart()
        last = time.time()
        if first is None:
            first = last
        count += 1
        if len(frames) != 2:
            bad += 1
            continue
        topic, body = frames
        size += len(body)
        try:
            env = json.loads(body)
            ok = env["topic"].encode() == topic and env["crypto"] == "gpg" and env["signature"]
        except (ValueError, KeyError, AttributeError):
            ok = False
        if not ok:
            bad += 1
            continue
        ids.add(env["msg_id"])
        if save and saved < args.save_max:
            save.write(struct.pack(">I", len(topic)) + topic + struct.pack(">I", len(body)) + body)
            saved += 1
    if save:
        save.close()
    print(json.dumps({"count": count, "distinct": len(ids), "bad": bad,
                      "first": first, "last": last, "bytes": size}), flush=True)
    sock.close(linger=0)
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
