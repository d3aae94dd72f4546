#!/usr/bin/python3
"""Real libzmq (pyzmq) subscriber used by mailgw's Go tests.

usage: zmq_sub.py ENDPOINT TOPIC_PREFIX COUNT

Connects a SUB to ENDPOINT, subscribes to TOPIC_PREFIX and, for each of
COUNT messages, prints one JSON line describing what arrived: the frame
count, frame 0, whether frame 0 equals the envelope's topic, whether the
body is byte-for-byte Python's canonical re-encoding of itself, and the
body. Exits 2 if no message arrives for 20 seconds.
"""
import json
import sys

import zmq


def main():
    endpoint, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.RCVTIMEO, 20000)
    sock.setsockopt(zmq.SUBSCRIBE, prefix.encode("utf-8"))
    sock.connect(endpoint)
    print(json.dumps({"ready": True}), flush=True)
    for _ in range(count):
        try:
            frames = sock.recv_multipart()
        except zmq.Again:
            print("timeout waiting for a message", file=sys.stderr)
            return 2
        out = {"nframes": len(frames), "frame0": frames[0].decode("utf-8", "replace")}
        if len(frames) == 2:
            body = frames[1]
            env = json.loads(body.decode("utf-8"))
            canon = json.dumps(env, sort_keys=True, separators=(",", ":")).encode("utf-8")
            out["topic_ok"] = env.get("topic", "").encode("utf-8") == frames[0]
            out["canonical_ok"] = canon == body
            out["body"] = body.decode("utf-8")
        print(json.dumps(out), flush=True)
    sock.close(linger=0)
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
