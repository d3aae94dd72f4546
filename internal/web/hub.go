package web

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/journal"
)

// Hub is the live feed. serve's publisher hands it every envelope it
// publishes after journaling (Publish: it is a bus.Publisher), and the
// live streams read what is new from it. It keeps the newest events in a
// ring bounded in number and bytes; a stream that has fallen behind the
// ring, or finds a seq_id missing in it (the hub dropped an envelope
// rather than make the publisher wait), reads those from the journal by
// seq_id instead. So no stream misses an event, and none holds events of
// its own: a slow reader costs no memory, whatever it falls behind.
type Hub struct {
	in chan hubItem // to run, which decodes; never blocks Publish
	// queued is the bytes of the bodies in in.
	queued atomic.Int64
	mu     sync.Mutex
	// ring holds the newest events in seq_id order; bytes is their size.
	ring  []*liveEvent
	bytes int
	// wake is closed when an event is added, then replaced.
	wake chan struct{}
	// latest is the highest seq_id Publish was given, evicted the
	// highest that left the ring (under mu).
	latest, evicted int64
}

type hubItem struct {
	seq, ts      int64
	msgID, topic string
	body         []byte
}

// Bounds of the hub: the envelopes waiting to be decoded (in number and
// bytes), and the ring.
const (
	hubQueue      = 1024
	hubQueueBytes = 16 << 20
	ringEvents    = 4096
	ringMaxBytes  = 16 << 20
)

// NewHub returns an empty hub; Run decodes what Publish hands it.
func NewHub() *Hub {
	return &Hub{in: make(chan hubItem, hubQueue), wake: make(chan struct{})}
}

// Publish implements bus.Publisher: it takes env, journaled (its SeqID
// set), for the live streams. It never blocks: when the hub is behind,
// env is dropped here and the streams read it from the journal.
func (h *Hub) Publish(_ context.Context, env *bus.Envelope) error {
	if env.SeqID == 0 {
		return nil
	}
	h.mu.Lock()
	h.latest = max(h.latest, env.SeqID)
	h.mu.Unlock()
	body, err := env.Marshal()
	if err != nil {
		return nil // the bus refused it too; the journal has it
	}
	if h.queued.Add(int64(len(body))) <= hubQueueBytes {
		select {
		case h.in <- hubItem{env.SeqID, env.Timestamp, env.MsgID, env.Topic, body}:
			return nil
		default:
		}
	}
	h.queued.Add(-int64(len(body)))
	h.notify() // dropped: the streams read it from the journal
	return nil
}

// Close implements bus.Publisher.
func (h *Hub) Close() error { return nil }

// Run decodes the envelopes Publish takes into the ring until ctx ends.
func (h *Hub) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-h.in:
			h.queued.Add(-int64(len(it.body)))
			h.add(newLiveEvent(journal.Hit{SeqID: it.seq, MsgID: it.msgID, Topic: it.topic, Timestamp: it.ts, Body: it.body}))
		}
	}
}

// add puts e into the ring (an event not newer than the ring's newest is
// a republished one, and left out) and wakes the streams.
func (h *Hub) add(e *liveEvent) {
	h.mu.Lock()
	if n := len(h.ring); n == 0 || e.seq > h.ring[n-1].seq {
		h.ring = append(h.ring, e)
		h.bytes += e.size()
		drop := 0
		for len(h.ring)-drop > ringEvents || (h.bytes > ringMaxBytes && len(h.ring)-drop > 1) {
			h.bytes -= h.ring[drop].size()
			h.evicted = h.ring[drop].seq
			h.ring[drop] = nil
			drop++
		}
		if drop > 0 {
			h.ring = append(h.ring[:0], h.ring[drop:]...)
		}
	}
	h.mu.Unlock()
	h.notify()
}

// notify wakes every stream waiting on wait.
func (h *Hub) notify() {
	h.mu.Lock()
	close(h.wake)
	h.wake = make(chan struct{})
	h.mu.Unlock()
}

// wait returns a channel closed at the next notify.
func (h *Hub) wait() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.wake
}

// What since says of the events after a stream's position.
const (
	inRing = iota // the ring holds them (or there are none yet)
	behind        // they have left the ring: the stream is slower than the events
	hole          // the hub dropped them (or never had them): the journal has them
)

// since appends to dst (a stream's own slice, reused: a wake-up of
// hundreds of streams makes no garbage) up to limit of the ring's events
// that follow seq without a gap, and says where the next events are when
// the ring does not hold them.
func (h *Hub) since(dst []*liveEvent, seq int64, limit int) ([]*liveEvent, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := len(h.ring)
	for i > 0 && h.ring[i-1].seq > seq {
		i--
	}
	switch {
	case seq+1 <= h.evicted:
		return dst, behind
	case i == len(h.ring) && h.latest <= seq:
		return dst, inRing
	case i == len(h.ring) || h.ring[i].seq != seq+1:
		return dst, hole
	}
	k := i + 1
	for k < len(h.ring) && k-i < limit && h.ring[k].seq == h.ring[k-1].seq+1 {
		k++
	}
	return append(dst, h.ring[i:k]...), inRing
}

// oldest returns the seq_id before the ring's oldest event (where a
// stream that fell behind skips to).
func (h *Hub) oldest() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ring) == 0 {
		return h.latest
	}
	return h.ring[0].seq - 1
}

// seen tells the hub that envelopes up to seq are journaled (the
// journal's newest when the listener starts): streams behind it read
// them from the journal.
func (h *Hub) seen(seq int64) {
	h.mu.Lock()
	h.latest = max(h.latest, seq)
	h.mu.Unlock()
}

// newest returns the highest seq_id Publish was given.
func (h *Hub) newest() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.latest
}
