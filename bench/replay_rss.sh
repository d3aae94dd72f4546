#!/bin/sh
# Memory benchmark: replay a 1 GiB (uncompressed) xz-compressed mbox in a
# dry run and report the peak RSS (target: at most 100 MiB).
#
#   bench/replay_rss.sh [MAILS]
#
# MAILS (default 130,000, about 1.04 GiB from testdata/mails) are generated
# once with mboxgen and compressed with xz -T2 -1; set BENCH_DIR to keep
# the archive between runs. Peak RSS comes from /usr/bin/time -v.
set -eu
N=${1:-130000}
cd "$(dirname "$0")/.."
W=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$W"
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing (apt-get install time)" >&2; exit 1; }

# MAILGW_BIN and MBOXGEN_BIN: binaries to use instead of building them.
if [ -n "${MAILGW_BIN:-}" ]; then cp "$MAILGW_BIN" "$W/mailgw"; else go build -o "$W/mailgw" ./cmd/mailgw; fi
XZ="$W/rss-$N.mbox.xz"
if [ ! -s "$XZ" ]; then
	if [ -n "${MBOXGEN_BIN:-}" ]; then "$MBOXGEN_BIN" -n "$N" -o "$XZ.tmp" -xz; else go run ./cmd/mboxgen -n "$N" -o "$XZ.tmp" -xz; fi
	mv "$XZ.tmp" "$XZ"
fi
SIZE=$(xz --robot --list "$XZ" | awk '$1 == "totals" { print $5 }')
echo "archive: $XZ, $(du -m "$XZ" | cut -f1) MiB compressed, $((SIZE / 1048576)) MiB uncompressed"

/usr/bin/time -v "$W/mailgw" replay --dry-run --no-progress "$XZ" >"$W/rss.table" 2>"$W/rss.err" || {
	tail -30 "$W/rss.err" >&2
	exit 1
}
grep '^replay:' "$W/rss.err" | tail -1
RSS=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$W/rss.err")
echo "peak RSS: $((RSS / 1024)) MiB ($RSS kB)"
[ "$((RSS / 1024))" -le 100 ] || { echo "over the 100 MiB target" >&2; exit 1; }
