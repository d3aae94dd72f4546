#!/usr/bin/python3
"""A mailgw bus consumer in Python, with only Debian's python3-zmq and gnupg.

Subscribes to a mailgw publisher and prints one line per event: its seq_id,
topic and one-line summary (msg.mailgw.summary). With --key, each envelope
is checked first, the way fedmsg's gpg validator does it plus mailgw's
binding: gpg --verify of the detached signature (base64 in "signature") over
the canonical JSON of "msg", made by the key in FILE, and topic, msg_id and
timestamp equal to their signed copies in msg.mailgw (docs/wire.md). An
envelope that fails is reported as INVALID on stderr and not printed.

    examples/consumer.py tcp://127.0.0.1:9940 org.debian.prod.dak. --key signing.pub.asc
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile

import zmq


def canonical(value):
    """fedmsg's canonical JSON: sorted keys, no spaces, non-ASCII escaped."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("ascii")


class Verifier:
    """Checks signatures with gpg against one public key, in a private GNUPGHOME."""

    def __init__(self, key_file):
        self.home = tempfile.TemporaryDirectory()
        os.chmod(self.home.name, 0o700)
        subprocess.run(["gpg", "--homedir", self.home.name, "--batch", "--quiet", "--import", key_file],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def check(self, env):
        """Returns None when env is valid, else the reason."""
        if env.get("crypto") != "gpg" or not env.get("signature"):
            return "not signed"
        msg = env.get("msg")
        if not isinstance(msg, dict):
            return "no msg"
        try:
            signature = base64.b64decode(env["signature"], validate=True)
        except ValueError:
            return "signature is not base64"
        with tempfile.NamedTemporaryFile(dir=self.home.name) as data, \
                tempfile.NamedTemporaryFile(dir=self.home.name) as sig:
            data.write(canonical(msg))
            data.flush()
            sig.write(signature)
            sig.flush()
            res = subprocess.run(["gpg", "--homedir", self.home.name, "--batch", "--status-fd", "1",
                                  "--verify", sig.name, data.name],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if res.returncode != 0 or b"[GNUPG:] VALIDSIG " not in res.stdout:
            return "bad signature"
        bound = msg.get("mailgw")
        if not isinstance(bound, dict):
            return "unbound: msg.mailgw is missing"
        for key in ("topic", "msg_id", "timestamp"):
            if bound.get(key) != env.get(key):
                return "binding: %s differs from msg.mailgw.%s" % (key, key)
        return None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("endpoint", nargs="?", default="tcp://127.0.0.1:9940")
    p.add_argument("prefix", nargs="?", default="", help="topic prefix to subscribe to")
    p.add_argument("--key", help="armored public key of the publisher: check every envelope")
    p.add_argument("--count", type=int, default=0, help="exit after N messages (0: never)")
    a = p.parse_args()
    verifier = Verifier(a.key) if a.key else None
    sock = zmq.Context().socket(zmq.SUB)
    sock.connect(a.endpoint)
    sock.setsockopt(zmq.SUBSCRIBE, a.prefix.encode())
    n = 0
    while a.count == 0 or n < a.count:
        frames = sock.recv_multipart()
        if len(frames) != 2:
            continue  # fedmsg messages are exactly [topic, body]
        n += 1
        try:
            env = json.loads(frames[1])
            if not isinstance(env, dict) or not isinstance(env.get("msg"), dict):
                raise ValueError("not an envelope")
        except ValueError as e:
            print("INVALID", "-", e, file=sys.stderr, flush=True)
            continue
        if verifier:
            why = verifier.check(env)
            if why:
                print("INVALID", env.get("msg_id"), why, file=sys.stderr, flush=True)
                continue
        mailgw = env["msg"].get("mailgw")
        summary = (mailgw.get("summary") if isinstance(mailgw, dict) else None) or env.get("topic")
        print(env.get("seq_id", "-"), env["topic"], summary, flush=True)


if __name__ == "__main__":
    main()
