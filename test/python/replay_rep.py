#!/usr/bin/python3
"""Real libzmq (pyzmq) REP socket answering like fedmsg's ReplayContext,
for testing mailgw's replay client against libzmq.

usage: replay_rep.py

Binds a REP socket to a free loopback port and prints its endpoint on
the first stdout line. For every request (one frame of JSON) it replies
as fedmsg does: for {"seq_id_range": [lo, hi]} one frame per envelope
with seq_id lo..hi (at most 50), canonical JSON; for anything else the
single frame "error: 'There was no match for the given query'". Exits
after QUIT requests or 30 seconds without one.
"""
import json
import sys

import zmq


def envelope(seq):
    return {
        "i": seq,
        "msg": {"n": seq},
        "msg_id": "2026-%08d-0000-4000-8000-000000000000" % seq,
        "seq_id": seq,
        "timestamp": 1795000000 + seq,
        "topic": "org.debian.dev.test.replay",
        "username": "py",
    }


def main():
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REP)
    sock.setsockopt(zmq.RCVTIMEO, 30000)
    sock.setsockopt(zmq.LINGER, 1000)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    print("tcp://127.0.0.1:%d" % port, flush=True)
    while True:
        try:
            frames = sock.recv_multipart()
        except zmq.Again:
            return 2
        if frames == [b"QUIT"]:
            sock.send(b"bye")
            return 0
        try:
            query = json.loads(frames[0].decode("utf-8"))
            lo, hi = query["seq_id_range"]
            reply = [
                json.dumps(envelope(s), sort_keys=True, separators=(",", ":")).encode("utf-8")
                for s in range(lo, min(hi, lo + 49) + 1)
            ]
        except (ValueError, KeyError, TypeError):
            reply = [b"error: 'There was no match for the given query'"]
        sock.send_multipart(reply)


if __name__ == "__main__":
    sys.exit(main())
