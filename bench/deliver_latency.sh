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
go build -o "$work/mailgw" ./cmd/mailgw
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
deliver=() version=()
for ((i = 0; i < n; i++)); do
	t0=$(date +%s%N)
	"$work/mailgw" deliver --config "$work/mailgw.toml" <"$mail"
	t1=$(date +%s%N)
	"$work/mailgw" version >/dev/null
	t2=$(date +%s%N)
	deliver+=($(((t1 - t0) / 1000)))
	version+=($(((t2 - t1) / 1000)))
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
