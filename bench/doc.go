// Package bench holds mailgw's benchmark harness (issue 8): bench/run.sh
// prints one table that measures mailgw's stages (parse, sign, publish),
// its end-to-end signed replay into a real libzmq subscriber, the
// fedmsg/debmessenger-style Python reference in bench/reference on the
// same mails, SMTP ingest, deliver latency and peak memory. The Go code
// here is only the smoke test of that command; see docs/benchmarks.md.
package bench
