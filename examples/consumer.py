#!/usr/bin/python3
"""Minimal mailgw bus consumer in Python (Debian: apt install python3-zmq).

Subscribes to a mailgw publisher, prints one line per upload, and checks the
OpenPGP signature with gpg when --gpg-home is given (the way fedmsg's gpg
validator does: a detached signature over the canonical JSON of "msg").

    examples/consumer.py tcp://127.0.0.1:9940 org.debian.dev.dak.package.upload
"""
import base64
import json
import subprocess
import sys
import tempfile

import zmq


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def valid(envelope, gpg_home):
    with tempfile.NamedTemporaryFile() as data, tempfile.NamedTemporaryFile() as sig:
        data.write(canonical(envelope["msg"]))
        data.flush()
        sig.write(base64.b64decode(envelope["signature"]))
        sig.flush()
        rc = subprocess.call(["gpg", "--homedir", gpg_home, "--verify", sig.name, data.name],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return rc == 0


def main():
    endpoint = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:9940"
    prefix = sys.argv[2] if len(sys.argv) > 2 else ""
    gpg_home = sys.argv[3] if len(sys.argv) > 3 else None
    sock = zmq.Context().socket(zmq.SUB)
    sock.connect(endpoint)
    sock.setsockopt(zmq.SUBSCRIBE, prefix.encode())
    while True:
        frames = sock.recv_multipart()
        if len(frames) != 2:
            continue  # fedmsg messages are exactly [topic, body]
        envelope = json.loads(frames[1])
        if gpg_home and not valid(envelope, gpg_home):
            print("INVALID", envelope["msg_id"], file=sys.stderr)
            continue
        msg = envelope["msg"]
        print(envelope["seq_id"] if "seq_id" in envelope else "-", envelope["topic"],
              msg.get("source") or msg.get("package") or msg.get("bug") or "", msg.get("version", ""))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
