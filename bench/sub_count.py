#!/usr/bin/python3
"""Count every fedmsg message a publisher sends, for bench/run.sh.

usage: /usr/bin/python3 bench/sub_count.py ENDPOINT [--idle SECONDS]
                  [--timeout SECONDS] [--save FILE] [--save-max N]

A SUB socket of Debian's python3-zmq (real libzmq) connects to ENDPOINT,
subscribes to everything with no receive high-water mark and a 10 ms
reconnect interval (libzmq's default, 100 ms, would add up to 0.1 s of
waiting for the subscriber to every timed run: the publisher binds after
the subscriber started), prints "ready"
and counts two-frame messages. Every body is checked: frame 0 equals the
envelope's topic, the envelope is signed (crypto "gpg" and a signature),
and its msg_id is counted; every 100th body is also parsed as JSON in
full (parsing all of them would make this subscriber the bottleneck). Once IDLE seconds (default 2) pass with no
message after the first one, it prints one line of JSON:

  {"count": N, "distinct": D, "bad": B, "first": T0, "last": T1,
   "bytes": S, "cpu": C}

(times are time.time() of the first and last message received, bytes the
total body size, cpu this process's CPU seconds). With
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
    ap.add_argument("--timeout", type=float, default=120.0, help="give up when nothing came for so long")
    args = ap.parse_args()

    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.setsockopt(zmq.RCVHWM, 0)
    sock.setsockopt(zmq.RECONNECT_IVL, 10)
    sock.connect(args.endpoint)
    save = open(args.save, "wb") if args.save else None
    print("ready", flush=True)
    started = time.time()

    count = bad = size = saved = 0
    ids = set()
    first = last = None
    # A receive timeout instead of a poll before every receive: zmq_poll
    # per message took a fifth of this subscriber's CPU time (0.76 ->
    # 0.62 CPU-s for 74,171 messages).
    sock.setsockopt(zmq.RCVTIMEO, 200)
    while True:
        try:
            frames = sock.recv_multipart()
        except zmq.Again:
            if last is not None and time.time() - last > args.idle:
                break
            if last is None and time.time() - started > args.timeout:
                break
            continue
        last = time.time()
        if first is None:
            first = last
        count += 1
        if len(frames) != 2:
            bad += 1
            continue
        topic, body = frames
        size += len(body)
        # Cheap checks on every message, a full JSON parse of every 100th:
        # canonical JSON puts the envelope's own keys in sorted order, so
        # "crypto" comes first, and the last "msg_id" key is the
        # envelope's (msg.mailgw's copy comes before it), followed by
        # "seq_id", "signature", "timestamp", "topic" and "username". The
        # searches start from that last "msg_id", near the end of the
        # body: scanning the whole body (the msg) for "signature" took a
        # sixth of this subscriber's CPU time (0.64 -> 0.53 CPU-s).
        i = body.rfind(b'"msg_id":"')
        e = body.find(b'"', i + 10) if i > 0 else -1
        j = body.find(b',"signature":"', e) if e > 0 else -1
        k = body.find(b',"topic":"', j) if j > 0 else -1
        ok = k > 0 and body.startswith(b'{"crypto":"gpg"') and body[k + 10:k + 11 + len(topic)] == topic + b'"'
        if ok:
            msg_id = body[i + 10:e]
        if ok and count % 100 == 1:
            try:
                env = json.loads(body)
                ok = env["topic"].encode() == topic and env["msg_id"].encode() == msg_id and env["signature"]
            except (ValueError, KeyError, AttributeError):
                ok = False
        if not ok:
            bad += 1
            continue
        ids.add(msg_id)
        if save and saved < args.save_max:
            save.write(struct.pack(">I", len(topic)) + topic + struct.pack(">I", len(body)) + body)
            saved += 1
    if save:
        save.close()
    print(json.dumps({"count": count, "distinct": len(ids), "bad": bad, "first": first,
                      "last": last, "bytes": size, "cpu": time.process_time()}), flush=True)
    sock.close(linger=0)
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
