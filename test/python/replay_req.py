#!/usr/bin/python3
"""Real libzmq (pyzmq) REQ client for mailgw's replay endpoint tests.

usage: replay_req.py ENDPOINT < requests

Each stdin line is a JSON list of strings: the frames of one request
(a fedmsg query is one frame of JSON; tests also send garbage). Every
request goes over the same REQ socket, as fedmsg's get_replay does it,
and each reply is printed as one JSON line {"frames": [...]}, frames
decoded as UTF-8, plus "envelopes_ok": whether every frame is a JSON
envelope that is byte for byte Python's canonical re-encoding of itself.
Exits 2 if a reply does not arrive within 20 seconds.
"""
import json
import sys

import zmq


def canonical(frame):
    try:
        env = json.loads(frame.decode("utf-8"))
    except ValueError:
        return False
    if not isinstance(env, dict) or "seq_id" not in env:
        return False
    return json.dumps(env, sort_keys=True, separators=(",", ":")).encode("utf-8") == frame


def main():
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.RCVTIMEO, 20000)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(sys.argv[1])
    for line in sys.stdin:
        if not line.strip():
            continue
        sock.send_multipart([f.encode("utf-8") for f in json.loads(line)])
        try:
            reply = sock.recv_multipart()
        except zmq.Again:
            print("timeout waiting for a reply", file=sys.stderr)
            return 2
        out = {
            "frames": [f.decode("utf-8", "replace") for f in reply],
            "envelopes_ok": all(canonical(f) for f in reply),
        }
        print(json.dumps(out), flush=True)
    sock.close()
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
