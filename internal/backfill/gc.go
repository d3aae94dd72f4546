package backfill

import (
	"os"
	"runtime/debug"
)

// The collector's settings while a Run runs; an operator's GOGC or
// GOMEMLIMIT in the environment wins over them.
const (
	// spoolMemoryLimit is the soft heap limit of a dry-run or spool
	// replay: it holds only the mails in flight, so a long backfill stays
	// small, and the collector works harder only near the limit.
	spoolMemoryLimit = 64 << 20
	// publishMemoryLimit is the soft heap limit of a ModePublish Run,
	// which collects garbage only when its heap reaches it.
	publishMemoryLimit = 256 << 20
)

// tuneGC sets the collector for a Run in mode and returns the function
// that restores it.
//
// Publishing allocates a few times the mail's size per mail (decoded
// text, payload maps, canonical JSON, bodies) over a live heap of some
// 30-100 MB (the batches in flight and each subscriber's queue, at most
// 64 MiB); under the 64 MiB limit it would spend its time collecting. At
// the default GOGC=100 the collector took a tenth of the CPU time;
// GOGC=300 halved that. Collecting only at a 256 MiB heap (GOGC=off and
// the limit) took 3 % less CPU again in the end-to-end benchmark, with a
// lower peak RSS (about 290 MB against 300-350). Should several slow
// subscribers fill their queues, the heap nears the limit and the
// collector runs often, which the runtime caps at about half the CPU: the
// replay slows down, it does not fail.
func tuneGC(mode Mode) (restore func()) {
	if os.Getenv("GOMEMLIMIT") != "" || (mode == ModePublish && os.Getenv("GOGC") != "") {
		return func() {}
	}
	if mode != ModePublish {
		limit := debug.SetMemoryLimit(spoolMemoryLimit)
		return func() { debug.SetMemoryLimit(limit) }
	}
	limit := debug.SetMemoryLimit(publishMemoryLimit)
	pct := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(pct)
		debug.SetMemoryLimit(limit)
	}
}
