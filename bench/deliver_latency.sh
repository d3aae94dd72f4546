#!/bin/bash
# deliver_latency.sh: run "mailgw deliver" N times (default 200) on a
# corpus mail into a fresh spool and print the median wall time per mail
# in milliseconds, process start and fsync included (issue 4: <= 10 ms).
#
# usage: bench/deliver_latency.sh [N] [MAIL]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
mail=${2:-testdata/mails/009-bash-accepted-2008.eml}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# MAILGW_BIN: a mailgw binary to use instead of building one (bench/run.sh).
if [ -n "${MAILGW_BIN:-}" ]; then cp "$MAILGW_BIN" "$work/mailgw"; else go build -o "$work/mailgw" ./cmd/mailgw; fi
mkdir -p "$work/state/spool/tmp" "$work/state/spool/new" "$work/state/spool/cur"
printf 'state_dir = "%s/state"\n' "$work" >"$work/mailgw.toml"
# median prints the statistics of the microsecond times on stdin.
median() {
	sort -n | awk -v n="$n" -v what="$1" '
	{ t[NR] = $1 }
	END {
		med = (n % 2) ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2
		printf "%s: %d runs, median %.2f ms, p90 %.2f ms, min %.2f ms, max %.2f ms\n",
			what, n, med / 1000, t[int(n * 0.9)] / 1000, t[1] / 1000, t[n] / 1000
	}'
}
# Times are $EPOCHREALTIME in microseconds: bash's own clock, unlike
# $(date +%s%N), forks nothing, so they hold only the mailgw process (the
# fork of date used to add about a millisecond under load).
deliver=() version=()
for ((i = 0; i < n; i++)); do
	t0=${EPOCHREALTIME/[.,]/}
	"$work/mailgw" deliver --config "$work/mailgw.toml" <"$mail"
	t1=${EPOCHREALTIME/[.,]/}
	"$work/mailgw" version >/dev/null
	t2=${EPOCHREALTIME/[.,]/}
	deliver+=($((10#$t1 - 10#$t0)))
	version+=($((10#$t2 - 10#$t1)))
done
spooled=$(ls "$work/state/spool/new" | wc -l)
if [ "$spooled" -ne "$n" ]; then
	echo "only $spooled of $n mails spooled" >&2
	exit 1
fi
printf '%s\n' "${deliver[@]}" | median "mailgw deliver"
# The process start alone, for comparison.
printf '%s\n' "${version[@]}" | median "mailgw version (process start only)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
