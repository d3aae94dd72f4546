#!/usr/bin/python3
"""python3-zmq subscriber for mailgw's end-to-end tests and benchmarks.

usage: e2e_sub.py ENDPOINT [IDLE_SECONDS]

Connects a SUB socket (real libzmq through pyzmq) to ENDPOINT, subscribes
to every topic and prints one JSON line per message:
{"topic", "msg_id", "seq_id", "frame0_ok", "t", "trusted"} where t is the
arrival time (time.time(), seconds), frame0_ok says frame 0 equals the
envelope's topic and trusted is msg.mail.auth.trusted (null without it). Prints {"ready": true} once connected. Exits 0 after
IDLE_SECONDS (default 600) without a message, or when stdin closes.
"""
import json
import sys
import time

import zmq


def main():
    endpoint = sys.argv[1]
    idle = float(sys.argv[2]) if len(sys.argv) > 2 else 600.0
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.setsockopt(zmq.RCVHWM, 0)
    sock.connect(endpoint)
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    poller.register(sys.stdin, zmq.POLLIN)
    print(json.dumps({"ready": True}), flush=True)
    last = time.time()
    while time.time() - last < idle:
        events = dict(poller.poll(200))
        if sys.stdin.fileno() in events or sys.stdin in events:
            if not sys.stdin.readline():
                break
        if sock not in events:
            continue
        while True:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            now = time.time()
            last = now
            env = json.loads(frames[1].decode("utf-8"))
            mail = env.get("msg", {}).get("mail")
            auth = mail.get("auth") if isinstance(mail, dict) else None
            print(json.dumps({
                "trusted": auth.get("trusted") if isinstance(auth, dict) else None,
                "topic": env.get("topic"),
                "msg_id": env.get("msg_id"),
                "seq_id": env.get("seq_id"),
                "frame0_ok": frames[0] == env.get("topic", "").encode("utf-8"),
                "t": now,
            }), flush=True)
    sock.close(linger=0)
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
