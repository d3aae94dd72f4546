package bus

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/debian/mailgw/bus/zmtp"
)

// slowReader is a subscriber that reads perMsg messages every pause, much
// slower than a burst arrives; got counts the messages, in order (a gap
// or a message out of order ends it with gap set).
type slowReader struct {
	got  atomic.Int64
	gap  atomic.Bool
	done chan struct{}
}

func startSlowReader(t *testing.T, ep string, perMsg int, pause time.Duration) *slowReader {
	t.Helper()
	conn, r := stuckSubscriber(t, ep) // subscribed to everything
	s := &slowReader{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for k := 0; ; k++ {
			frames, cmd, err := zmtp.ReadMessage(r, 1<<20)
			if err != nil {
				return
			}
			if cmd {
				continue // the publisher's PINGs: left unanswered
			}
			want := s.got.Load() + 1
			if len(frames) != 2 || !strings.Contains(string(frames[1]), `"n":`+strconv.FormatInt(want, 10)+`,`) {
				s.gap.Store(true)
				conn.Close()
				return
			}
			s.got.Store(want)
			if k%perMsg == perMsg-1 {
				time.Sleep(pause)
			}
		}
	}()
	return s
}

// waitGot waits (bounded, not asserted on speed) until r got n messages
// or stopped.
func (r *slowReader) waitGot(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for r.got.Load() < n && !r.gap.Load() && time.Now().Before(deadline) {
		select {
		case <-r.done:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stalledPeers counts the subscribers p no longer waits for.
func stalledPeers(p *ZMQPublisher) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for peer := range p.peers {
		if peer.stalled.Load() {
			n++
		}
	}
	return n
}

// burst publishes n messages of about 4 KiB: 12 MB for 3,000, far more
// than the queue bound of these tests (64 KiB) and the kernel's loopback
// socket buffers hold.
func burst(t *testing.T, p *ZMQPublisher, n int) {
	t.Helper()
	text := strings.Repeat("x", 4000)
	for i := 1; i <= n; i++ {
		if err := p.Publish(context.Background(), testEnv("org.debian.dev.burst", i, text)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestZMQSlowSubscriberLosesNothing: a subscriber that reads slower than
// a burst arrives (about 16 MB/s against a burst of 12 MB published at
// once) is waited for while it drains, so it gets every message in order
// although its queue holds 64 KiB; a stuck subscriber next to it misses
// messages, counted, and is marked stalled. With StallTimeout 0 (drop at
// once, libzmq's PUB) the same slow subscriber loses messages: what the
// wait is for, and proof that the burst does fill its queue.
func TestZMQSlowSubscriberLosesNothing(t *testing.T) {
	const n = 3000
	t.Run("wait", func(t *testing.T) {
		p := newTestPub(t, 10000)
		p.MaxQueueBytes = 64 << 10
		p.StallTimeout, p.MaxWait = 2*time.Second, time.Hour
		ep := p.Addrs()[0]
		stuckSubscriber(t, ep)
		slow := startSlowReader(t, ep, 8, 2*time.Millisecond)
		waitSubs(t, p, 2)
		burst(t, p, n)
		slow.waitGot(t, n)
		if got := slow.got.Load(); got != n || slow.gap.Load() {
			t.Fatalf("the slow subscriber got %d messages in order (gap: %v), want %d", got, slow.gap.Load(), n)
		}
		if p.Dropped() == 0 {
			t.Error("nothing dropped: the stuck subscriber's queue never filled")
		}
		if stalled := stalledPeers(p); stalled != 1 {
			t.Errorf("%d subscribers marked stalled, want 1 (the stuck one)", stalled)
		}
	})
	t.Run("drop at once", func(t *testing.T) {
		p := newTestPub(t, 10000)
		p.MaxQueueBytes = 64 << 10
		p.StallTimeout = 0
		slow := startSlowReader(t, p.Addrs()[0], 8, 2*time.Millisecond)
		waitSubs(t, p, 1)
		burst(t, p, n)
		slow.waitGot(t, n)
		if p.Dropped() == 0 || !slow.gap.Load() {
			t.Fatalf("with StallTimeout 0 the slow subscriber got %d messages (gap: %v), %d dropped: the burst did not fill its queue",
				slow.got.Load(), slow.gap.Load(), p.Dropped())
		}
	})
}

// TestZMQTricklingSubscriberWaitedForAtMostMaxWait: a subscriber that
// drains, but at about 80 KB/s (a 12 MB burst would take it minutes),
// holds the publisher up for MaxWait and then misses messages; the
// burst ends in a small multiple of MaxWait rather than at its pace.
func TestZMQTricklingSubscriberWaitedForAtMostMaxWait(t *testing.T) {
	const n = 3000
	p := newTestPub(t, 10000)
	p.MaxQueueBytes = 64 << 10
	p.StallTimeout, p.MaxWait = 10*time.Second, time.Second
	startSlowReader(t, p.Addrs()[0], 4, 200*time.Millisecond)
	waitSubs(t, p, 1)
	start := time.Now()
	burst(t, p, n)
	// A bound on blocking, not a speed target: at its own pace the
	// trickler would need about 150 s.
	if took := time.Since(start); took > 40*time.Second {
		t.Errorf("the burst took %v with a trickling subscriber, want about MaxWait (1 s)", took)
	}
	if p.Dropped() == 0 {
		t.Error("the trickling subscriber missed nothing: it was waited for all along")
	}
}

// TestZMQManyTricklersShareOneWait: five subscribers that trickle cost
// the publisher what one does (MaxWait, and then a tenth of the time),
// not five times MaxWait: an attacker cannot hold the bus up longer by
// connecting more of them.
func TestZMQManyTricklersShareOneWait(t *testing.T) {
	const n, tricklers = 3000, 5
	p := newTestPub(t, 10000)
	p.MaxQueueBytes = 64 << 10
	p.StallTimeout, p.MaxWait = 30*time.Second, time.Second
	for range tricklers {
		startSlowReader(t, p.Addrs()[0], 4, 200*time.Millisecond)
	}
	waitSubs(t, p, tricklers)
	start := time.Now()
	burst(t, p, n)
	// Each trickler alone would be waited for MaxWait: 5 s in turn.
	if took := time.Since(start); took > 3500*time.Millisecond {
		t.Errorf("the burst took %v with %d trickling subscribers, want about MaxWait (1 s) in all", took, tricklers)
	}
	if stalled := stalledPeers(p); stalled != tricklers {
		t.Errorf("%d of %d trickling subscribers marked stalled", stalled, tricklers)
	}
}
