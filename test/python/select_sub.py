#!/usr/bin/python3
"""A python3-zmq subscriber that selects messages by hand, as mailgw tail's
--include, --exclude and --package say they do.

usage: select_sub.py ENDPOINT --count N [--include RE]... [--exclude RE]... [--package NAME]...

Prints "ready" once subscribed, then reads N messages and prints the
msg_id of each selected one: its topic matches some --include (re.search;
any when none is given) and no --exclude, and, when --package is given,
msg.mailgw.packages names one of them. Exits 2 if no message comes for 30 s.
"""
import argparse
import json
import re
import sys

import zmq


def main():
    p = argparse.ArgumentParser()
    p.add_argument("endpoint")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--include", action="append", default=[])
    p.add_argument("--exclude", action="append", default=[])
    p.add_argument("--package", action="append", default=[])
    a = p.parse_args()
    sock = zmq.Context().socket(zmq.SUB)
    sock.setsockopt(zmq.RCVTIMEO, 30000)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(a.endpoint)
    print("ready", flush=True)
    for _ in range(a.count):
        try:
            topic, body = sock.recv_multipart()
        except zmq.Again:
            print("timeout waiting for a message", file=sys.stderr)
            return 2
        env = json.loads(body)
        topic = topic.decode()
        if a.include and not any(re.search(r, topic) for r in a.include):
            continue
        if any(re.search(r, topic) for r in a.exclude):
            continue
        packages = env["msg"].get("mailgw", {}).get("packages", [])
        if a.package and not any(p in packages for p in a.package):
            continue
        print(env["msg_id"], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
