// Package amqpout is the journal's AMQP outlet: it publishes every
// journaled event to a RabbitMQ exchange in fedora-messaging's wire
// format (message.go), so that fedora-messaging consumers and any AMQP
// client read mailgw's events from durable queues of an existing broker.
//
// The outlet runs beside the ZeroMQ bus, never in its way: it reads the
// journal from its own watermark (journal.OpenOutlet), publishes in
// seq_id order on one channel in confirm mode with up to window messages
// unconfirmed, and moves its watermark only over messages the broker
// confirmed. A broker that is down, refuses the login or nacks only
// stops the outlet, which reconnects with a growing pause and resends
// from the watermark: delivery is at least once, and a message is sent
// twice only when it was sent but not confirmed, with the same
// message_id (the event's msg_id) both times.
package amqpout

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/journal"
)

// OutletName is the outlet's name in the journal.
const OutletName = "amqp"

// Journal is what the outlet needs of the journal.
type Journal interface {
	OpenOutlet(name string, atEnd bool) (mark int64, created bool, err error)
	MarkOutlet(name string, seq int64) error
	// ReadAfter reads up to limit envelopes after seq into b (journal.Batch
	// reuses its buffers from one read to the next).
	ReadAfter(seq int64, limit int, b *journal.Batch) error
	Added() <-chan struct{}
	LastSeq() (int64, error)
}

// Options wires an Outlet.
type Options struct {
	Config  config.AMQP
	Journal Journal
	// Logger gets connection changes and errors; nil means slog.Default().
	Logger *slog.Logger
	// OnState, if set, is called when the outlet's trouble changes: the
	// reason it cannot connect or publish, or nil once it works again
	// (or stops): /healthz.
	OnState func(err error)
}

// Tuning. window bounds the messages sent and not yet confirmed (the
// broker confirms in batches; a few hundred keep the connection busy
// while a confirm is on its way); batch is how many envelopes one journal
// read takes; markEvery is how often confirmed progress is written to
// the journal (a mark lost in a crash only resends that much).
const (
	window      = 1024
	batch       = 256
	markEvery   = 200 * time.Millisecond
	pollEvery   = time.Second // envelopes another process journaled
	dialTimeout = 10 * time.Second
	minBackoff  = time.Second
	maxBackoff  = 15 * time.Second
	// stopGrace bounds how long a stopping outlet waits for the
	// confirms of what it sent.
	stopGrace = 5 * time.Second
)

// Outlet publishes the journal to an AMQP broker. Its methods are safe for
// concurrent use.
type Outlet struct {
	o      Options
	dialer *dialer
	log    *slog.Logger

	// confirmed is the watermark: every envelope up to it is confirmed
	// by the broker (or was before this process started).
	confirmed atomic.Int64
	stats     counters
	// sentI numbers the messages sent (the envelope's i).
	sentI atomic.Int64

	mu    sync.Mutex
	state error // nil while connected
	up    bool
	// moved is closed when the watermark next moves (Wait).
	moved chan struct{}
}

// counters are the outlet's metrics since the process started.
type counters struct {
	published, confirmed, nacked, skipped, connects, failures atomic.Uint64
}

// Status is a snapshot of the outlet for metrics and health checks.
type Status struct {
	// Connected is true while a connection to the broker is open.
	Connected bool
	// Err is why it is not connected or cannot publish (nil while it
	// works, before the first attempt and once stopped).
	Err error
	// Mark is the watermark: every seq_id up to it is confirmed.
	Mark int64
	// Published counts messages sent, Confirmed those the broker
	// confirmed, Nacked those it refused (they are sent again), Skipped
	// journaled envelopes that cannot be made into a message, Connects
	// connections made, Failures connections that failed or broke.
	Published, Confirmed, Nacked, Skipped, Connects, Failures uint64
}

// New checks the configuration, loads the TLS files and opens the
// outlet's watermark in the journal (made at the journal's end or start
// per Config.Start the first time). It does not connect: Run does.
func New(o Options) (*Outlet, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	d, err := newDialer(o.Config)
	if err != nil {
		return nil, err
	}
	mark, created, err := o.Journal.OpenOutlet(OutletName, o.Config.Start != "beginning")
	if err != nil {
		return nil, err
	}
	out := &Outlet{o: o, dialer: d, log: o.Logger}
	out.confirmed.Store(mark)
	if created {
		out.log.Info("amqp: new outlet", "start", o.Config.Start, "after_seq_id", mark)
	}
	return out, nil
}

// Status returns the outlet's state and counters.
func (out *Outlet) Status() Status {
	out.mu.Lock()
	st := Status{Connected: out.up, Err: out.state}
	out.mu.Unlock()
	st.Mark = out.confirmed.Load()
	c := &out.stats
	st.Published, st.Confirmed, st.Nacked = c.published.Load(), c.confirmed.Load(), c.nacked.Load()
	st.Skipped, st.Connects, st.Failures = c.skipped.Load(), c.connects.Load(), c.failures.Load()
	return st
}

// Backlog returns how many journaled envelopes are not confirmed yet.
func (out *Outlet) Backlog() (int64, error) {
	last, err := out.o.Journal.LastSeq()
	if err != nil {
		return 0, err
	}
	return max(last-out.confirmed.Load(), 0), nil
}

// setState records a connection (err nil) or its failure, and tells
// OnState when it changed.
func (out *Outlet) setState(up bool, err error) {
	out.mu.Lock()
	changed := up != out.up || (err == nil) != (out.state == nil) ||
		(err != nil && out.state != nil && err.Error() != out.state.Error())
	out.up, out.state = up, err
	out.mu.Unlock()
	if changed && out.o.OnState != nil {
		out.o.OnState(err)
	}
}

// Run publishes until ctx ends, reconnecting after failures with a pause
// that grows from 1 s to 15 s (back to 1 s after a connection that
// worked). It returns nil when ctx ends.
func (out *Outlet) Run(ctx context.Context) error {
	pause := minBackoff
	for {
		worked, err := out.session(ctx)
		if ctx.Err() != nil {
			out.setState(false, nil) // stopped: not a failure
			return nil
		}
		out.stats.failures.Add(1)
		if worked {
			pause = minBackoff
		}
		out.setState(false, err)
		out.log.Error("amqp: publishing stopped; events wait in the journal", "err", err,
			"retry_in", pause.String(), "after_seq_id", out.confirmed.Load())
		select {
		case <-ctx.Done():
			out.setState(false, nil)
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, maxBackoff)
	}
}

// Wait returns once every envelope up to seq is confirmed, or with ctx's
// error.
func (out *Outlet) Wait(ctx context.Context, seq int64) error {
	for {
		out.mu.Lock()
		if out.moved == nil {
			out.moved = make(chan struct{})
		}
		moved := out.moved
		out.mu.Unlock()
		if out.confirmed.Load() >= seq {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("amqp: %d envelopes not confirmed: %w", seq-out.confirmed.Load(), ctx.Err())
		case <-moved:
		}
	}
}

// advance moves the watermark (in memory; mark writes it) to seq and
// wakes Wait.
func (out *Outlet) advance(seq int64) {
	out.confirmed.Store(seq)
	out.mu.Lock()
	if out.moved != nil {
		close(out.moved)
		out.moved = nil
	}
	out.mu.Unlock()
}
