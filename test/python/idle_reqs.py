#!/usr/bin/python3
"""Idle python3-zmq REQ peers, for mailgw's replay endpoint limits test.

usage: idle_reqs.py ENDPOINT SOURCE:COUNT...

Opens COUNT REQ sockets from each SOURCE address (libzmq's
"tcp://SOURCE:0;HOST:PORT" form), each completing the ZMTP handshake
and then sending nothing, without reconnecting when the server closes
it. Prints "connected" once every socket is set up, then idles until
stdin closes.
"""
import resource
import sys

import zmq


def main():
    endpoint = sys.argv[1]
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    host = endpoint[len("tcp://"):]
    ctx = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, 4096)
    socks = []
    for arg in sys.argv[2:]:
        source, count = arg.split(":")
        for _ in range(int(count)):
            s = ctx.socket(zmq.REQ)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.RECONNECT_IVL, -1)
            s.connect("tcp://%s:0;%s" % (source, host))
            socks.append(s)
    print("connected", flush=True)
    sys.stdin.read()
    for s in socks:
        s.close()
    ctx.term()


if __name__ == "__main__":
    sys.exit(main())
