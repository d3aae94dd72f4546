#!/usr/bin/python3
"""fedmsg's publishing side with its gpg backend, reproduced for mailgw's
tests (fedmsg itself is neither in Debian nor on a registry CI reaches).

usage: fedmsg_gpg_pub.py GPG_HOME KEY

What it reproduces, from fedmsg 1.1.7 (github.com/fedora-infra/fedmsg):
- fedmsg/encoding: the wire and signing encoder is the standard library's
  JSONEncoder with sort_keys=True and separators=(',', ':'), every other
  option at its default (ensure_ascii=True, allow_nan=True, floats by
  float.__repr__); datetime and date values become time.mktime floats,
  sets become lists.
- fedmsg/core.py FedMsgContext.publish: topic "<modname>.<topic>" under
  "<topic_prefix>.<environment>." unless it already starts with the
  prefix; the envelope is {topic, msg, timestamp: int(time.time()),
  msg_id: "<local year>-<uuid4>", i (from 1), username: getpass.getuser()};
  it is signed, then sent as two frames [topic, dumps(envelope)].
- fedmsg/crypto/gpg.py sign: sets crypto = "gpg", runs
  "gpg --homedir GPG_HOME --local-user KEY --detach-sign" on the UTF-8 of
  dumps(msg) and adds signature = base64 of that binary signature. (On
  Python 3 fedmsg leaves b64encode's bytes in the dict, which json cannot
  encode: fedmsg's own Python 3 publishing crashes there. The string is
  what its Python 2 code sent and what its validator reads.)

The socket is an XPUB bound to a free loopback port: a PUB that also
reports subscriptions, so the script can wait for the subscriber instead
of sleeping; what a subscriber receives is what a PUB sends. The endpoint
is the first line on stdout, then "subscribed" once a subscriber is there.

Then every stdin line is one JSON instruction:
  {"modname": M, "topic": T, "msg": {...}}  publish msg as fedmsg does;
      optional "topic_prefix" and "environment" (default org.fedoraproject,
      prod); in msg, {"$datetime": "ISO"} becomes a datetime and
      {"$set": [...]} a set, which the encoder turns into a float and a list;
      optional "relay": true re-encodes the body as fedmsg-relay forwards it
      (plain json.dumps: ", " and ": ", keys unsorted);
      optional "tamper": [OLD, NEW] replaces OLD by NEW once in the body
      after signing (one changed byte of msg).
  {"raw": [TOPIC, BODY]}  send these two frames as they are.
For each, one JSON line goes to stdout: {"topic", "msg_id", "body"}.
"""
import base64
import datetime
import getpass
import json
import subprocess
import sys
import time
import uuid

import zmq


class FedmsgEncoder(json.JSONEncoder):
    """The conversions fedmsg's encoder adds to the standard ones."""

    def default(self, obj):
        if isinstance(obj, (datetime.datetime, datetime.date)):
            return time.mktime(obj.timetuple())
        if isinstance(obj, set):
            return list(obj)
        return super().default(obj)


dumps = FedmsgEncoder(sort_keys=True, separators=(",", ":")).encode


def revive(v):
    """Turn the instruction's {"$datetime"} and {"$set"} into Python values."""
    if isinstance(v, dict):
        if set(v) == {"$datetime"}:
            return datetime.datetime.fromisoformat(v["$datetime"])
        if set(v) == {"$set"}:
            return set(v["$set"])
        return {k: revive(x) for k, x in v.items()}
    if isinstance(v, list):
        return [revive(x) for x in v]
    return v


def gpg_detach_sign(home, key, data):
    p = subprocess.run(["gpg", "--homedir", home, "--local-user", key, "--detach-sign"],
                       input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode:
        raise RuntimeError("gpg --detach-sign: %s" % p.stderr.decode("utf-8", "replace"))
    return p.stdout


class Publisher:
    def __init__(self, sock, home, key):
        self.sock, self.home, self.key, self.i = sock, home, key, 0

    def publish(self, ins):
        prefix = ins.get("topic_prefix", "org.fedoraproject")
        topic = ins["modname"] + "." + ins["topic"]
        if topic[:len(prefix)] != prefix:
            topic = ".".join([prefix, ins.get("environment", "prod"), topic])
        self.i += 1
        envelope = dict(
            topic=topic,
            msg=revive(ins["msg"]),
            timestamp=int(time.time()),
            msg_id=str(datetime.datetime.now().year) + "-" + str(uuid.uuid4()),
            i=self.i,
            username=getpass.getuser(),
        )
        envelope["crypto"] = "gpg"
        sig = gpg_detach_sign(self.home, self.key, dumps(envelope["msg"]).encode("utf-8"))
        envelope = dict(list(envelope.items()) + [("signature", base64.b64encode(sig).decode("ascii"))])
        body = dumps(envelope)
        if ins.get("relay"):
            body = json.dumps(json.loads(body, object_pairs_hook=lambda kv: dict(reversed(kv))))
        if "tamper" in ins:
            old, new = ins["tamper"]
            if body.count(old) != 1:
                raise RuntimeError("tamper: %r occurs %d times" % (old, body.count(old)))
            body = body.replace(old, new)
        self.sock.send_multipart([topic.encode("utf-8"), body.encode("utf-8")])
        return topic, envelope["msg_id"], body


def main():
    home, key = sys.argv[1], sys.argv[2]
    ctx = zmq.Context()
    sock = ctx.socket(zmq.XPUB)
    sock.bind("tcp://127.0.0.1:*")
    print(sock.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
    sub = sock.recv()
    if not sub or sub[0] != 1:
        print("unexpected first message from subscriber: %r" % sub, file=sys.stderr)
        return 1
    print("subscribed", flush=True)
    pub = Publisher(sock, home, key)
    for line in sys.stdin:
        ins = json.loads(line)
        if "raw" in ins:
            topic, body = ins["raw"]
            sock.send_multipart([topic.encode("utf-8"), body.encode("utf-8")])
            msg_id = json.loads(body).get("msg_id")
        else:
            topic, msg_id, body = pub.publish(ins)
        print(json.dumps({"topic": topic, "msg_id": msg_id, "body": body}), flush=True)
    sock.close(linger=5000)
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
