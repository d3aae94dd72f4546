package pipeline

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/bus/bustest"
)

// waitFor polls cond; the deadline only stops a broken test from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCrashBetweenJournalAndDone: the events of a spooled mail were
// journaled and published but the process died before removing the file.
// After the restart the mail is processed again and publishes nothing new.
func TestCrashBetweenJournalAndDone(t *testing.T) {
	r := newRig(t)
	raw := pick(t, "009-bash")[0]
	if _, err := r.sp.Deliver(bytes.NewReader(raw), 0); err != nil {
		t.Fatal(err)
	}
	// The "first life": journal and publish, but no Done.
	res, err := r.p.Process(context.Background(), raw, false)
	if err != nil || len(res.Added) == 0 {
		t.Fatal(res, err)
	}
	published := len(r.pub.Envelopes())
	// The restart.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- New(r.opts).Run(ctx) }()
	waitFor(t, "the spool to drain", func() bool {
		pend, _ := r.sp.Pending()
		return len(pend) == 0
	})
	cancel()
	<-done
	if n := len(r.pub.Envelopes()); n != published {
		t.Errorf("restart published %d more", n-published)
	}
	if q, _ := r.sp.List(); len(q) != 0 {
		t.Errorf("quarantined: %v", q)
	}
}

// flakyPublisher fails while down is set.
type flakyPublisher struct {
	inner bustest.Publisher
	down  atomic.Bool
}

func (f *flakyPublisher) Publish(ctx context.Context, env *bus.Envelope) error {
	if f.down.Load() {
		return errors.New("bus down")
	}
	return f.inner.Publish(ctx, env)
}

func (f *flakyPublisher) Close() error { return f.inner.Close() }

// TestRunRepublishesAfterPublishFailure: while the bus fails, Run keeps
// journaling (and emptying the spool); when it is back, everything is
// published once, in seq_id order.
func TestRunRepublishesAfterPublishFailure(t *testing.T) {
	r := newRig(t)
	pub := &flakyPublisher{}
	pub.down.Store(true)
	r.opts.Publisher = pub
	p := New(r.opts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	raws := pick(t, "009-bash", "010-boson", "100-report")
	for _, raw := range raws {
		if _, err := r.sp.Deliver(bytes.NewReader(raw), 0); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the spool to drain", func() bool {
		pend, _ := r.sp.Pending()
		return len(pend) == 0
	})
	want, _ := r.j.Count()
	if un, _ := r.j.Unpublished(100); int64(len(un)) != want || want == 0 {
		t.Fatalf("%d unpublished of %d journaled while the bus is down", len(un), want)
	}
	pub.down.Store(false)
	waitFor(t, "the republish", func() bool { return int64(len(pub.inner.Envelopes())) == want })
	for i, env := range pub.inner.Envelopes() {
		if env.SeqID != int64(i+1) {
			t.Fatalf("#%d has seq_id %d", i, env.SeqID)
		}
	}
	waitFor(t, "the marks", func() bool {
		un, _ := r.j.Unpublished(100)
		return len(un) == 0
	})
	cancel()
	<-done
}
