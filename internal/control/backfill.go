package control

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/backfill"
	"github.com/debian/mailgw/internal/pipeline"
)

// Hooks are the typed events a Backfiller reports for metrics; nil ones
// are not called. They are called from the backfill's goroutines.
type Hooks struct {
	// Mail is called for every mail read, with the kind of reason it
	// yields no event ("" when it yields events).
	Mail func(kind pipeline.QuarantineKind)
	// Event is called for every event built: added when the journal took
	// it, else it was a duplicate.
	Event func(env *bus.Envelope, added bool)
}

// Backfiller is the Handler by which serve runs a job: each archive goes
// through backfill.RunArchives in ModePublish on serve's own engine, so
// that the replayed mail takes the one prepare step and the one journal
// and publish path of live mail, at backfill priority (live mail first).
type Backfiller struct {
	// Options returns the replay options for a job: serve's config,
	// classifier, verifier, signer, journal and engine as they are now
	// (a reload may have replaced some). Mode is set to ModePublish.
	Options func() backfill.Options
	Hooks   Hooks
	// Backlog, if set, returns the bytes queued for the bus subscriber
	// that lags most and the bound of a subscriber's queue. Before each
	// batch goes to the engine, the backfill waits while a subscriber
	// has more than HoldBytes queued (default: 1 MiB or a quarter of the
	// bound, the lesser), until it is down to half that. The queue of a
	// subscriber is first in, first out: what a backfill queues there,
	// live mail waits behind; held to about a megabyte, that is some
	// tens of milliseconds at a subscriber's pace, and a subscriber that
	// keeps reading receives every event of a backfill however fast
	// serve could replay. A subscriber whose queue does not shrink for
	// StallAfter (5s) is not waited for until it has caught up (its
	// messages are dropped when its queue is full, as with live mail).
	Backlog    func() (queued, limit int64)
	HoldBytes  int64
	StallAfter time.Duration

	mu      sync.Mutex
	stalled bool // gave up waiting; reset once the backlog is below half
}

// hold waits while a bus subscriber lags (Backlog).
func (b *Backfiller) hold(ctx context.Context) error {
	if b.Backlog == nil {
		return nil
	}
	q, limit := b.Backlog()
	high := b.HoldBytes
	if high <= 0 {
		high = min(1<<20, limit/4)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if q <= high {
		b.stalled = false
		return nil
	}
	if b.stalled {
		return nil
	}
	stall := b.StallAfter
	if stall <= 0 {
		stall = 5 * time.Second
	}
	low, since := q, time.Now()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for q > high/2 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if q, _ = b.Backlog(); q < low {
			low, since = q, time.Now()
		} else if time.Since(since) > stall {
			b.stalled = true
			return nil
		}
	}
	return nil
}

// Backfill implements Handler.
func (b *Backfiller) Backfill(ctx context.Context, job Job, f *FileRun) (backfill.Summary, error) {
	o := b.Options()
	o.Mode = backfill.ModePublish
	o.TrustArchive = job.TrustArchive
	if job.BatchSize > 0 {
		o.BatchSize = job.BatchSize
	}
	// The client keeps the checkpoints, filters and paces: serve replays
	// every mail it is sent.
	o.CheckpointDir, o.Restart, o.Rate = "", false, 0
	o.AllRecords = true
	o.Progress = nil
	o.OnJournaled = f.Journaled
	o.Observe = func(env *bus.Envelope, added bool) {
		f.Event(added)
		if b.Hooks.Event != nil {
			b.Hooks.Event(env, added)
		}
	}
	o.OnMail = func(reason string, kind pipeline.QuarantineKind) {
		if reason != "" {
			f.Quarantined()
		}
		if b.Hooks.Mail != nil {
			b.Hooks.Mail(kind)
		}
	}
	o.Hold = b.hold
	return backfill.RunArchives(ctx, o, []backfill.Archive{{Name: f.Name, Reader: f.Source}})
}

// LagGate holds serve's backfill back while a bus subscriber reads behind
// the stream (engine.Options.Hold): whatever a backfill publishes, live
// mail published after it waits behind, in the publisher's queue, the
// kernel's socket buffers and the subscriber's reader. Queued bytes on
// serve's side (Backfiller.Backlog) do not show the socket buffers: a
// lagging subscriber's receive buffer alone held 5 MB of a backfill, half
// a second of live mail's wait (issue 19). While live mail flows the
// gate holds while the lag is over MaxLag, until it is down to half that;
// without live mail, over QuietLag: enough queued to keep a subscriber
// busy while the next transaction is written, and little for the first
// live mail to wait behind. A subscriber whose lag does not fall for
// StallAfter is not waited for until it has caught up, so that a
// subscriber that stopped reading does not stop a backfill.
type LagGate struct {
	// Lag returns how far behind the furthest subscriber reads, false
	// when no subscriber can tell (bus.ZMQPublisher.Lag).
	Lag func() (time.Duration, bool)
	// Behind, if set, returns how many published messages the furthest
	// subscriber has not yet confirmed reading (bus.ZMQPublisher.Behind).
	// While live mail flows the gate also holds until it is 0: the lag
	// of a burst just written shows only once its PING has aged, and
	// the next backfill transaction would be written behind it.
	Behind func() (uint64, bool)
	// MaxLag is the lag a backfill may leave live mail (default 20ms),
	// QuietLag the lag it may build while no live mail comes (default
	// 40ms: what the first live mail after a quiet spell waits behind on
	// the bus; docs/benchmarks.md, "The first live mail after a quiet
	// spell").
	MaxLag, QuietLag time.Duration
	// StallAfter defaults to 5s.
	StallAfter time.Duration
	// Logger, if set, is told when the gate stops waiting for a
	// subscriber.
	Logger *slog.Logger

	mu      sync.Mutex
	holding bool
	low     time.Duration // the least lag seen while holding
	since   time.Time     // when low was seen
	stalled bool
}

// Hold reports whether a backfill transaction must wait now; live says
// live mail flows (engine.Engine.LiveFlowing).
func (g *LagGate) Hold(live bool) bool {
	lag, ok := g.Lag()
	if !ok {
		return false
	}
	high := g.MaxLag
	if high <= 0 {
		high = 20 * time.Millisecond
	}
	if !live {
		high = g.QuietLag
		if high <= 0 {
			high = 40 * time.Millisecond
		}
	}
	caught := true
	if live && g.Behind != nil {
		if n, ok := g.Behind(); ok && n > 0 {
			caught = false
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case lag <= high/2 && caught:
		g.holding, g.stalled = false, false
		return false
	case g.stalled || (!g.holding && lag <= high && caught):
		return false
	case !g.holding:
		g.holding, g.low, g.since = true, lag, time.Now()
		return true
	case lag < g.low:
		g.low, g.since = lag, time.Now()
		return true
	}
	stall := g.StallAfter
	if stall <= 0 {
		stall = 5 * time.Second
	}
	if time.Since(g.since) > stall {
		g.holding, g.stalled = false, true
		if g.Logger != nil {
			g.Logger.Warn("control: a bus subscriber has not caught up for a while; the backfill goes on without waiting for it", "lag", lag.Round(time.Millisecond).String(), "waited", stall.String())
		}
		return false
	}
	return true
}
