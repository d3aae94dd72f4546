package journal

import (
	"slices"
	"sync"
	"sync/atomic"
)

// The envelopes this process journaled last, kept in memory for After:
// an outlet that follows the journal (the AMQP outlet, the web's live
// view) reads what was just added from here instead of querying SQLite
// and reading the bodies file back (a query, a pread and a CRC check per
// envelope). The journal starts keeping them at the first After, so a
// process without such a reader pays nothing; from then on every Add
// copies its batch's bodies once.
//
// What recent answers is what the journal holds: envelopes enter it only
// after their transaction committed, with the seq_ids and body bytes
// that were committed, and it answers a read only from seq+1 on and only
// over consecutive seq_ids. Envelopes another process journaled in
// between leave a gap, at which the answer stops; the reader's next
// After, from there, goes to SQLite.

// Bounds on what recent keeps; the oldest batches go first.
const (
	recentMaxEntries = 8192
	recentMaxBytes   = 16 << 20
)

type recent struct {
	// on is set by the first After.
	on atomic.Bool

	mu      sync.Mutex
	batches []recentBatch
	entries int
	bytes   int
}

// recentBatch is one Add's envelopes, in seq_id order and consecutive;
// their bodies point into one buffer of their own.
type recentBatch struct {
	es    []Entry
	bytes int
}

// add keeps es (consecutive seq_ids, in order, bodies in a buffer of
// size bytes that nothing else changes).
func (r *recent) add(es []Entry, bytes int) {
	if len(es) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, recentBatch{es: es, bytes: bytes})
	r.entries += len(es)
	r.bytes += bytes
	drop := 0
	for drop < len(r.batches)-1 && (r.entries > recentMaxEntries || r.bytes > recentMaxBytes) {
		r.entries -= len(r.batches[drop].es)
		r.bytes -= r.batches[drop].bytes
		drop++
	}
	if drop > 0 {
		r.batches = slices.Delete(r.batches, 0, drop)
	}
}

// after returns up to limit kept envelopes from seq_id seq+1 on, as long
// as their seq_ids follow each other; nil when seq+1 is not kept. The
// bodies are shared: callers must not change them.
func (r *recent) after(seq int64, limit int) []Entry {
	if limit <= 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Entry
	next := seq + 1
	for _, b := range r.batches {
		first, last := b.es[0].SeqID, b.es[len(b.es)-1].SeqID
		if next < first || next > last {
			if out != nil {
				break // a gap: what follows is read from SQLite
			}
			continue
		}
		if out == nil {
			out = make([]Entry, 0, min(limit, r.entries))
		}
		take := b.es[next-first:]
		take = take[:min(len(take), limit-len(out))]
		out = append(out, take...)
		next = take[len(take)-1].SeqID + 1
		if len(out) == limit {
			break
		}
	}
	return out
}
