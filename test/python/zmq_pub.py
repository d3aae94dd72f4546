#!/usr/bin/python3
"""Real libzmq (pyzmq) publisher used by mailgw's Go tests.

usage: zmq_pub.py

Binds an XPUB to a free loopback port and prints its endpoint as the first
line on stdout. It waits until a subscriber has subscribed (an XPUB sees
the subscription), prints "subscribed", then reads stdin: every line is a
JSON list of strings, sent as one multipart message with one frame per
string (UTF-8). It exits when stdin ends.
"""
import json
import sys

import zmq


def main():
    ctx = zmq.Context()
    sock = ctx.socket(zmq.XPUB)
    sock.bind("tcp://127.0.0.1:*")
    print(sock.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
    sub = sock.recv()
    if not sub or sub[0] != 1:
        print("unexpected first message from subscriber: %r" % sub, file=sys.stderr)
        return 1
    print("subscribed", flush=True)
    for line in sys.stdin:
        frames = json.loads(line)
        sock.send_multipart([f.encode("utf-8") for f in frames])
    sock.close(linger=2000)
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
