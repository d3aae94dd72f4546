package backfill

import "sync"

// dupGate decides, in ModePublish, whether a worker asks the journal if
// an envelope is journaled already before signing it. The answer is an
// optimisation only: Journal.Add drops every duplicate msg_id anyway (and
// the summary counts it), so asking merely saves signing an envelope that
// will be dropped. Asking costs a SQLite lookup, 9-50 µs in a replay
// (more right after a commit, whose pages the reader then reads again),
// about what signing costs; in a first backfill it never pays. So the gate
// asks for every envelope while the recent answers find duplicates (at
// least one in 16, as when an archive is replayed again), and otherwise
// for one envelope in 128, which notices within a batch when duplicates
// start to come (one in 8 was 2 % of the replay's CPU time, one in 32
// still 1.4 %).
//
// In ModeSpool every envelope is checked: there the answer decides what
// is spooled.
type dupGate struct {
	mu           sync.Mutex
	n            int64 // envelopes seen
	checks, hits int64 // recent lookups and how many found a duplicate
}

const (
	dupGateWarmup = 64   // envelopes always checked at the start
	dupGateSample = 128  // otherwise one in this many when rare
	dupGateWindow = 2048 // lookups after which both counts halve
)

// want reports whether the next envelope should be looked up.
func (g *dupGate) want() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	return g.n <= dupGateWarmup || g.hits*16 >= g.checks || g.n%dupGateSample == 0
}

// record counts the answer of one lookup.
func (g *dupGate) record(dup bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.checks++
	if dup {
		g.hits++
	}
	if g.checks >= dupGateWindow {
		g.checks, g.hits = g.checks/2, g.hits/2
	}
}
