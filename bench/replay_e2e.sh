#!/bin/sh
# End-to-end replay benchmark: generate an N-mail mbox (default 100,000)
# from testdata/mails, replay it with `mailgw replay --publish`, signed with
# an Ed25519 key, into a live python3-zmq subscriber (Debian's
# /usr/bin/python3, real libzmq) that counts every event it receives.
#
#   bench/replay_e2e.sh [N]
#
# Prints mails/s and events/s of the replay and checks that the subscriber
# received every journaled event exactly once. Target: >= 15,000 mails/s.
# The work directory (BENCH_DIR, default a temp dir) keeps the mbox, so a
# second run with BENCH_DIR set skips generating it.
set -eu
N=${1:-100000}
cd "$(dirname "$0")/.."
W=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$W"
PY=/usr/bin/python3
$PY -c 'import zmq' || { echo "python3-zmq missing for $PY" >&2; exit 1; }

go build -o "$W/mailgw" ./cmd/mailgw
if [ ! -s "$W/bench-$N.mbox" ]; then
	go run ./cmd/mboxgen -n "$N" -o "$W/bench-$N.mbox"
fi
rm -rf "$W/state"
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$W/mailgw.toml" <<EOF
state_dir = "$W/state"
gpg_signing_key = "$W/state/key.asc"
# enough that the 64 MiB per-subscriber byte bound limits the queue; a
# 10,000,000-slot queue adds about 240 MB of RSS per subscriber (measured)
high_water_mark = 100000
[endpoints]
mailgw = ["tcp://127.0.0.1:$PORT"]
EOF
mkdir -p "$W/state"
"$W/mailgw" keygen --config "$W/mailgw.toml" --secret "$W/state/key.asc" >/dev/null

# The subscriber prints "ready", then, once no message came for 5 seconds
# after the first one, "<count> <distinct msg_ids>".
$PY - "tcp://127.0.0.1:$PORT" >"$W/sub.out" <<'EOF' &
import json, sys, time, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.SUB)
s.setsockopt(zmq.SUBSCRIBE, b"")
s.setsockopt(zmq.RCVHWM, 0)
s.setsockopt(zmq.RECONNECT_IVL, 10)  # libzmq's 100 ms would be timed too
s.connect(sys.argv[1])
print("ready", flush=True)
n, ids, last = 0, set(), None
while True:
    if s.poll(1000) == 0:
        if last is not None and time.time() - last > 5:
            break
        continue
    topic, body = s.recv_multipart()
    env = json.loads(body)
    assert env["topic"].encode() == topic and env["crypto"] == "gpg"
    ids.add(env["msg_id"])
    n += 1
    last = time.time()
print(n, len(ids), flush=True)
EOF
SUB=$!
until grep -q ready "$W/sub.out" 2>/dev/null; do sleep 0.1; done

START=$(date +%s.%N)
"$W/mailgw" replay --config "$W/mailgw.toml" --publish --no-progress --wait-subscribers 1 "$W/bench-$N.mbox" 2>"$W/replay.err" || {
	cat "$W/replay.err" >&2
	exit 1
}
END=$(date +%s.%N)
wait $SUB
tail -1 "$W/replay.err"
NEW=$(tail -1 "$W/replay.err" | sed -n 's/.* events: \([0-9]*\) new.*/\1/p')
read -r GOT DISTINCT <<EOF
$(tail -1 "$W/sub.out")
EOF
$PY - "$N" "$START" "$END" "$NEW" "$GOT" "$DISTINCT" <<'EOF'
import sys
n, start, end, new, got, distinct = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
d = end - start
print(f"replay --publish: {n} mails, {new} events in {d:.2f}s: {n/d:.0f} mails/s, {new/d:.0f} events/s")
print(f"subscriber received {got} messages, {distinct} distinct msg_ids (journaled {new})")
sys.exit(0 if got == new == distinct else 1)
EOF
