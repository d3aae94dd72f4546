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
