#!/usr/bin/python3
"""The fedmsg/debmessenger way of putting Debian mail on the bus, as the
baseline that bench/run.sh compares mailgw with.

usage: /usr/bin/python3 bench/reference/reference.py MBOX ENDPOINT
           --gpg-home DIR --key FINGERPRINT [--wait-subscribers N]

What it does is what debmessenger (laarmen/debmessenger, 2013) and fedmsg
(fedmsg/core.py, fedmsg/crypto/gpg.py) do per mail, written from their
documented behaviour (docs: ../../../shared/reference/peers.md §0 and
fedmsg.md §1-§2), with none of their code:

  - each mail of the mbox is parsed with Python's email package
    (mailbox.mbox, the compat32 message class), headers RFC 2047-decoded
    with utf-8 assumed for unlabelled 8-bit text;
  - upload mail (dak's headers, or an "Accepted" subject): the first text
    part is read as a .changes with python-debian (debian.deb822.Changes)
    and every field is published on ...debmessenger.package.upload;
  - debbugs mail (X-Debian-PR-Message: TYPE N): from, source, package,
    tags, type, nb, title, content and patches on ...debmessenger.bug.TYPE;
  - PTS and tracker forwards: package, keyword, subject, from and content
    on ...debmessenger.pts.KEYWORD (debmessenger had no such rule; it is
    here so that the reference does comparable work on every mail);
  - the envelope is fedmsg's: topic, msg, timestamp, msg_id "<year>-<uuid4>",
    i, username; crypto "gpg" and a signature made by running
    `gpg --detach-sign` on the canonical JSON of msg (one process per
    message, as fedmsg.crypto.gpg does), base64 on one line;
  - the body is canonical JSON (sorted keys, "," and ":") sent as
    [topic, body] on a pyzmq PUB socket bound to ENDPOINT.

The last line on stdout is JSON: mails, events, skipped, seconds (from the
first mail read to the last message sent) and mails/s, events/s.
"""
import argparse
import base64
import email.errors
import email.header
import getpass
import json
import mailbox
import subprocess
import sys
import time
import uuid

import zmq
from debian import deb822

PREFIX = "org.debian.dev.debmessenger"


def dumps(obj):
    """fedmsg.encoding.dumps: canonical JSON."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def header(msg, name):
    """A header unfolded and RFC 2047-decoded, "" when absent."""
    raw = msg.get(name)
    if raw is None:
        return ""
    try:
        parts = email.header.decode_header(str(raw).replace("\n", " "))
        return str(email.header.make_header([(t, c or "utf-8") for t, c in parts]))
    except (UnicodeDecodeError, LookupError, email.errors.HeaderParseError):
        return str(raw)


def first_text(msg):
    """The first text/* part's decoded payload, as debmessenger reads it."""
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            data = part.get_payload(decode=True) or b""
            charset = part.get_content_charset() or "utf-8"
            try:
                return data.decode(charset, "replace")
            except LookupError:
                return data.decode("latin-1")
    return ""


def patches(msg):
    """Attachments whose type says patch (debmessenger's intent)."""
    out = []
    for part in msg.walk():
        if part.get_content_type() in ("text/x-diff", "text/x-patch") or part.get_filename(
            ""
        ).endswith((".patch", ".diff")):
            out.append((part.get_payload(decode=True) or b"").decode("utf-8", "replace"))
    return out


def plain(value):
    """python-debian values as JSON: Deb822 dicts and lists of them."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict) or hasattr(value, "keys"):
        return {str(k): plain(value[k]) for k in value.keys()}
    return str(value)


def classify(msg):
    """Returns (topic, msg dict) or None when no rule claims the mail."""
    subject = header(msg, "Subject")
    pr = header(msg, "X-Debian-PR-Message")
    if pr:
        words = pr.split()
        return "%s.bug.%s" % (PREFIX, words[0]), {
            "from": header(msg, "From"),
            "source": header(msg, "X-Debian-PR-Source"),
            "package": header(msg, "X-Debian-PR-Package"),
            "tags": header(msg, "X-Debian-PR-Keywords").split(),
            "type": words[0],
            "nb": words[1] if len(words) > 1 else "",
            "title": subject,
            "content": first_text(msg),
            "patches": patches(msg),
        }
    pkg = header(msg, "X-PTS-Package") or header(msg, "X-Distro-Tracker-Package")
    if pkg:
        kw = header(msg, "X-PTS-Keyword") or header(msg, "X-Distro-Tracker-Keyword") or "default"
        return "%s.pts.%s" % (PREFIX, kw), {
            "package": pkg, "keyword": kw, "subject": subject,
            "from": header(msg, "From"), "content": first_text(msg),
        }
    dak = msg.get("X-DAK") or msg.get("X-Katie") or msg.get("Debian-Archive-Action")
    if dak or subject.startswith("Accepted "):
        changes = deb822.Changes(first_text(msg))
        if "Source" in changes:
            return PREFIX + ".package.upload", {k: plain(changes[k]) for k in changes.keys()}
    return None


class Publisher:
    """fedmsg.core.FedMsgContext.publish with crypto_backend = gpg."""

    def __init__(self, endpoint, gpg_home, key, wait):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.XPUB)  # PUB that shows subscriptions
        self.sock.setsockopt(zmq.SNDHWM, 0)
        self.sock.bind(endpoint)
        for _ in range(wait):
            self.sock.recv()  # a subscription message
        self.gpg = ["gpg", "--homedir", gpg_home, "--batch", "--no-tty",
                    "--local-user", key, "--detach-sign"]
        self.user = getpass.getuser()
        self.i = 0

    def publish(self, topic, msg):
        self.i += 1
        env = {"topic": topic, "msg": msg, "timestamp": int(time.time()),
               "msg_id": "%d-%s" % (time.localtime().tm_year, uuid.uuid4()),
               "i": self.i, "username": self.user, "crypto": "gpg"}
        sig = subprocess.run(self.gpg, input=dumps(msg).encode("utf-8"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout
        env["signature"] = base64.b64encode(sig).decode("ascii")
        self.sock.send_multipart([topic.encode("utf-8"), dumps(env).encode("utf-8")])

    def close(self):
        self.sock.close(linger=-1)  # lets queued messages go out
        self.ctx.term()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mbox")
    ap.add_argument("endpoint")
    ap.add_argument("--gpg-home", required=True)
    ap.add_argument("--key", required=True, help="signing key for gpg --local-user")
    ap.add_argument("--wait-subscribers", type=int, default=1)
    args = ap.parse_args()
    pub = Publisher(args.endpoint, args.gpg_home, args.key, args.wait_subscribers)
    mails = events = skipped = 0
    start = time.time()
    for msg in mailbox.mbox(args.mbox, create=False):
        mails += 1
        try:
            ev = classify(msg)
        except Exception as e:  # debmessenger prints and drops the mail
            print("mail %d: %s" % (mails, e), file=sys.stderr)
            ev = None
        if ev is None:
            skipped += 1
            continue
        pub.publish(*ev)
        events += 1
    secs = time.time() - start
    pub.close()
    print(json.dumps({"mails": mails, "events": events, "skipped": skipped, "seconds": secs,
                      "mails_per_s": mails / secs, "events_per_s": events / secs}), flush=True)


if __name__ == "__main__":
    main()
