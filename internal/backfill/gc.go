package backfill

import (
	"os"
	"runtime/debug"
	"sync"
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
	// sharedGCPercent is GOGC while a Run runs on a shared engine (a
	// backfill inside serve).
	sharedGCPercent = 300
)

// sharedGC counts the Runs on a shared engine under way: the first
// raises GOGC, the last restores what it found.
var sharedGC struct {
	sync.Mutex
	runs, pct int
}

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
//
// Inside serve (shared, a backfill over the control socket) the process
// is not the Run's alone: a soft limit with the collector off would make
// live mail wait for the collector's work near the limit. There GOGC is
// raised to 300 for the Run's time only, without a limit: `mailgw serve`
// spent 14 % less CPU on a 20,000-mail backfill (serve's CPU seconds,
// medians of three runs taken in turn: 6.00 at the default GOGC=100,
// 5.16 at 300; 5.4 at 200), for a peak RSS of 150-300 MiB instead of
// 135-160 MiB (docs/benchmarks.md, "Backfill into a running serve").
func tuneGC(mode Mode, shared bool) (restore func()) {
	if shared {
		if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
			return func() {}
		}
		sharedGC.Lock()
		defer sharedGC.Unlock()
		if sharedGC.runs++; sharedGC.runs == 1 {
			sharedGC.pct = debug.SetGCPercent(sharedGCPercent)
		}
		return func() {
			sharedGC.Lock()
			defer sharedGC.Unlock()
			if sharedGC.runs--; sharedGC.runs == 0 {
				debug.SetGCPercent(sharedGC.pct)
			}
		}
	}
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
