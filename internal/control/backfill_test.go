package control

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestHoldWaitsForLaggingSubscriber: a backfill batch waits while a
// subscriber has more than HoldBytes queued, until it is down to half.
func TestHoldWaitsForLaggingSubscriber(t *testing.T) {
	var queued atomic.Int64
	queued.Store(3000)
	b := &Backfiller{HoldBytes: 1000, Backlog: func() (int64, int64) { return queued.Load(), 1 << 20 }}
	done := make(chan error, 1)
	go func() { done <- b.hold(context.Background()) }()
	for _, q := range []int64{2000, 900, 600} { // draining, still above 500
		time.Sleep(20 * time.Millisecond)
		select {
		case err := <-done:
			t.Fatalf("hold returned (%v) with %d queued", err, queued.Load())
		default:
		}
		queued.Store(q)
	}
	queued.Store(400)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("hold did not return once the queue was down to half")
	}
	// Under the bound: no wait.
	queued.Store(999)
	start := time.Now()
	if err := b.hold(context.Background()); err != nil || time.Since(start) > 100*time.Millisecond {
		t.Errorf("hold under the bound: %v after %v", err, time.Since(start))
	}
}

// TestHoldStuckSubscriber: a subscriber whose queue does not shrink is
// waited for StallAfter once, then not again until it caught up.
func TestHoldStuckSubscriber(t *testing.T) {
	var queued atomic.Int64
	queued.Store(5000)
	b := &Backfiller{HoldBytes: 1000, StallAfter: 50 * time.Millisecond, Backlog: func() (int64, int64) { return queued.Load(), 1 << 20 }}
	start := time.Now()
	if err := b.hold(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > 5*time.Second {
		t.Errorf("held %v for a stuck subscriber, want about StallAfter", d)
	}
	start = time.Now()
	b.hold(context.Background())
	if d := time.Since(start); d > 20*time.Millisecond {
		t.Errorf("held again %v for the same stuck subscriber", d)
	}
	queued.Store(10) // caught up: the next lag is waited for again
	b.hold(context.Background())
	queued.Store(5000)
	start = time.Now()
	b.hold(context.Background())
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("did not wait for a new lag (%v)", d)
	}
	// Cancelled while waiting.
	ctx, cancel := context.WithCancel(context.Background())
	b.stalled = false
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	b.StallAfter = time.Hour
	if err := b.hold(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("hold cancelled: %v", err)
	}
}

// TestLagGate: the gate holds once the lag is over MaxLag (QuietLag
// without live mail), keeps holding
// until it is down to half, never holds without a lag measure, and stops
// waiting for a subscriber whose lag has not fallen for StallAfter, until
// that subscriber has caught up.
func TestLagGate(t *testing.T) {
	lag, ok := time.Duration(0), true
	g := &LagGate{Lag: func() (time.Duration, bool) { return lag, ok }, MaxLag: 20 * time.Millisecond, StallAfter: time.Hour}
	for _, c := range []struct {
		lag  time.Duration
		ok   bool
		hold bool
	}{
		{0, true, false},
		{15 * time.Millisecond, true, false},
		{25 * time.Millisecond, true, true},
		{15 * time.Millisecond, true, true}, // not yet down to half
		{time.Second, false, false},         // no subscriber answers
		{9 * time.Millisecond, true, false},
		{15 * time.Millisecond, true, false},
	} {
		lag, ok = c.lag, c.ok
		if got := g.Hold(true); got != c.hold {
			t.Fatalf("lag %v (%v): Hold = %v, want %v", c.lag, c.ok, got, c.hold)
		}
	}
	lag = 35 * time.Millisecond // no live mail: up to QuietLag (40ms)
	if g.Hold(false) {
		t.Fatal("lag 35ms without live mail: held")
	}
	lag = 45 * time.Millisecond
	if !g.Hold(false) {
		t.Fatal("lag 45ms without live mail: not held")
	}
	lag = 15 * time.Millisecond // down to half of QuietLag
	if g.Hold(false) {
		t.Fatal("lag 15ms without live mail: still held")
	}
	g.StallAfter = time.Millisecond
	lag = 30 * time.Millisecond
	if !g.Hold(true) {
		t.Fatal("lag 30ms: not held")
	}
	time.Sleep(5 * time.Millisecond)
	lag = 40 * time.Millisecond // not falling: a stuck subscriber
	if g.Hold(true) {
		t.Fatal("still held after StallAfter without the lag falling")
	}
	if g.Hold(true) {
		t.Fatal("held again a subscriber given up on")
	}
	lag = 5 * time.Millisecond // caught up: waited for again
	g.Hold(true)
	lag = 30 * time.Millisecond
	if !g.Hold(true) {
		t.Fatal("a subscriber that caught up is not waited for again")
	}
}

// TestLagGateBehind: while live mail flows the gate also holds while a
// subscriber has not confirmed reading what was published (Behind), a
// burst just written whose PING has not aged yet; without live mail
// Behind is not asked.
func TestLagGateBehind(t *testing.T) {
	behind := uint64(0)
	g := &LagGate{Lag: func() (time.Duration, bool) { return 0, true },
		Behind: func() (uint64, bool) { return behind, true }, MaxLag: 20 * time.Millisecond, StallAfter: time.Hour}
	if g.Hold(true) {
		t.Fatal("held with nothing behind")
	}
	behind = 300
	if !g.Hold(true) {
		t.Fatal("not held with 300 messages unconfirmed while live mail flows")
	}
	if g.Hold(false) {
		t.Fatal("held by Behind without live mail")
	}
	if !g.Hold(true) {
		t.Fatal("not held again with 300 messages unconfirmed")
	}
	behind = 0
	if g.Hold(true) {
		t.Fatal("held once the subscriber confirmed reading everything")
	}
}
