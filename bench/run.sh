#!/bin/sh
# bench/run.sh: mailgw's benchmarks in one table (issue 8).
#
#   bench/run.sh [--quick] [--runs N] [--mails N] [--ref-mails N] [--profile] [--no-rss-1g]
#
# Medians of 5 runs per row (1 with --quick): parse, sign, publish (mailgw
# next to libzmq), end-to-end signed replay into a python3-zmq subscriber,
# the fedmsg/debmessenger-style Python reference on the same mails, the
# ratios between them, SMTP ingest, deliver latency, the AMQP outlet next
# to python3-pika (a private RabbitMQ) and peak RSS. The
# table goes to stdout and bench/out/table.txt; raw samples to
# bench/out/results.json, logs to bench/out/logs/. See docs/benchmarks.md.
# Needs Go (/usr/local/go/bin), Debian's /usr/bin/python3 with python3-zmq
# and python3-debian, gpg, postfix's smtp-source, /usr/bin/time, xz,
# rabbitmq-server and python3-pika.
set -eu
cd "$(dirname "$0")/.."
for p in /usr/bin/python3 gpg smtp-source /usr/bin/time xz; do
	command -v "$p" >/dev/null || { echo "bench/run.sh: $p missing" >&2; exit 1; }
done
/usr/bin/python3 -c 'import zmq, debian.deb822, pika' || { echo "bench/run.sh: python3-zmq, python3-debian or python3-pika missing" >&2; exit 1; }
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || { echo "bench/run.sh: rabbitmq-server missing" >&2; exit 1; }
exec /usr/bin/python3 bench/run.py "$@"
