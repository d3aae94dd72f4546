#!/usr/bin/env bash
# SMTP ingest benchmark for "mailgw serve" (issue 4, "Speed").
#
#  1. Throughput: postfix's smtp-source sends 20,000 mails of 2 KiB over 50
#     parallel sessions; reports mails/s acknowledged (every 250 is sent
#     after the spool's fsync). Target: >= 2,000/s.
#  2. Latency: bench/smtplatency sends real debbugs mails at 500/s and
#     subscribes to the bus; reports the 50th/99th percentile from the 250
#     reply to the event's arrival. Target: p99 <= 100 ms.
#
# usage: bench/smtp_ingest.sh [RUNS]   (RUNS throughput runs, default 3)
# SMTP_MAILS (default 20000) and LAT_MAILS (default 5000) set the number of
# mails per throughput run and for the latency run (bench/run.sh --quick).
# Needs: go, smtp-source (Debian package postfix). Uses a temp state dir and
# free ports; leaves nothing behind.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
runs=${1:-3}
smtp_mails=${SMTP_MAILS:-20000}
lat_mails=${LAT_MAILS:-5000}
command -v smtp-source >/dev/null || { echo "smtp-source missing (apt-get install postfix)" >&2; exit 1; }

tmp=$(mktemp -d)
serve_pid=
cleanup() {
  [ -n "$serve_pid" ] && kill -TERM "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# MAILGW_BIN: a mailgw binary to use instead of building one (bench/run.sh).
if [ -n "${MAILGW_BIN:-}" ]; then cp "$MAILGW_BIN" "$tmp/mailgw"; else go build -o "$tmp/mailgw" ./cmd/mailgw; fi
go build -o "$tmp/smtplatency" ./bench/smtplatency

# Each serve gets a fresh state directory, and the old ones are removed
# only at the end: on an ext4 without a journal (this bench machine's root
# file system) inode allocation skips inodes deleted in the last minutes one
# by one, so deleting a run's 40,000 files right before the next run made
# that run's every file creation scan them (measured: ~40% of serve's CPU in
# ext4 recently_deleted, and each run slower than the one before).
state_n=0
start_serve() {
  smtp=$(free_port); busp=$(free_port); admin=$(free_port); rep=$(free_port)
  state_n=$((state_n + 1))
  cat > "$tmp/mailgw.toml" <<TOML
state_dir = "$tmp/state.$state_n"
[endpoints]
mailgw = ["tcp://127.0.0.1:$busp"]
[replay_endpoints]
mailgw = "tcp://127.0.0.1:$rep"
[metrics]
listen = "127.0.0.1:$admin"
[log]
level = "warn"
[smtp]
listen = "127.0.0.1:$smtp"
max_connections = 200
TOML
  "$tmp/mailgw" serve --config "$tmp/mailgw.toml" 2>"$tmp/serve.log" &
  serve_pid=$!
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/$smtp) 2>/dev/null && return 0
    sleep 0.1
  done
  echo "serve did not start:" >&2; cat "$tmp/serve.log" >&2; exit 1
}

stop_serve() { kill -TERM "$serve_pid"; wait "$serve_pid" || true; serve_pid=; }

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== throughput: smtp-source -l 2048 -m $smtp_mails -s 50 ($runs runs)"
rates=()
for r in $(seq "$runs"); do
  start_serve
  t0=$(date +%s.%N)
  smtp-source -l 2048 -m "$smtp_mails" -s 50 -f bench@example.org -t mailgw@localhost "127.0.0.1:$smtp"
  t1=$(date +%s.%N)
  spooled=$(curl -s "http://127.0.0.1:$admin/metrics" | awk '/^mailgw_mails_spooled_total/ {print $2}')
  rate=$(awk -v a="$t0" -v b="$t1" -v n="$spooled" 'BEGIN { printf "%.0f", n / (b - a) }')
  echo "run $r: $spooled mails acknowledged in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')s = $rate mails/s"
  rates+=("$rate")
  stop_serve
done
median=$(printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "median: $median mails/s (target >= 2000)"

echo "== latency: $lat_mails debbugs mails at 500/s, 250 -> bus"
start_serve
"$tmp/smtplatency" -smtp "127.0.0.1:$smtp" -bus "tcp://127.0.0.1:$busp" -rate 500 -n "$lat_mails" -conns 64 \
  -mail testdata/mails/100-report-476920-xulrunner-FTBFS-sparc.eml
stop_serve
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
