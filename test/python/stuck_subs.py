#!/usr/bin/python3
"""Many stuck python3-zmq subscribers, for mailgw's bus memory test.

usage: stuck_subs.py N ENDPOINT

Opens N SUB sockets in one context, each subscribed to everything and
connected to ENDPOINT, with the smallest receive queue libzmq allows
(RCVHWM 1) and a small kernel receive buffer, so that each stops reading
almost at once. Prints "connected" when every socket is connected, then
never receives a message; it exits when stdin closes.
"""
import resource
import sys

import zmq


def main():
    n, endpoint = int(sys.argv[1]), sys.argv[2]
    # Each socket takes two descriptors (its mailbox and its connection).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctx = zmq.Context(io_threads=2)
    ctx.set(zmq.MAX_SOCKETS, n + 16)
    socks = []
    for _ in range(n):
        s = ctx.socket(zmq.SUB)
        s.setsockopt(zmq.RCVHWM, 1)
        s.setsockopt(zmq.RCVBUF, 4096)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect(endpoint)
        socks.append(s)
    print("connected", flush=True)
    sys.stdin.read()
    for s in socks:
        s.close()
    ctx.term()


if __name__ == "__main__":
    sys.exit(main())
