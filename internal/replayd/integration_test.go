package replayd

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/journal"
)

// publisher is the publishing half of "mailgw serve": journal, ZeroMQ
// PUB and replay endpoint.
type publisher struct {
	t      *testing.T
	j      *journal.Journal
	pub    *bus.ZMQPublisher
	replay *Server
	pad    string
}

func newPublisher(t *testing.T, hwm, pad int) *publisher {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	pub, err := bus.NewZMQPublisher(context.Background(), []string{"tcp://127.0.0.1:0"}, hwm)
	if err != nil {
		t.Fatal(err)
	}
	pub.Linger = 0
	t.Cleanup(func() { pub.Close() })
	return &publisher{t: t, j: j, pub: pub, replay: startServer(t, j, 100), pad: strings.Repeat("x", pad)}
}

// publish journals and publishes the next envelope; it returns its seq_id.
func (p *publisher) publish() int64 { return p.publishBatch(1) }

// publishBatch journals n envelopes in one transaction and publishes
// them; it returns the last seq_id.
func (p *publisher) publishBatch(n int) int64 {
	last, err := p.j.LastSeq()
	if err != nil {
		p.t.Fatal(err)
	}
	envs := make([]*bus.Envelope, n)
	for i := range envs {
		k := last + int64(i) + 1
		envs[i] = bus.NewEnvelope("org.debian.dev.test.a", map[string]any{"n": k, "pad": p.pad},
			bus.MsgID(2026, fmt.Sprintf("%s-%d", p.t.Name(), k)), 1795000000+k, "tester")
	}
	added, err := p.j.Add(envs)
	if err != nil || len(added) != n {
		p.t.Fatalf("journal: %v", err)
	}
	for _, env := range added {
		if err := p.pub.Publish(context.Background(), env); err != nil {
			p.t.Fatal(err)
		}
	}
	return added[n-1].SeqID
}

// subscribe connects a subscriber with a GapFiller for p.
func (p *publisher) subscribe(ctx context.Context, buffer int) (*bus.Subscriber, *GapFiller) {
	p.t.Helper()
	ep := p.pub.Addrs()[0]
	sub, err := bus.Subscribe(ctx, []string{ep}, nil, bus.SubOptions{Buffer: buffer, Logger: quiet})
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { sub.Close() })
	return sub, NewGapFiller(map[string]string{ep: p.replay.Addr()}, GapOptions{MaxReply: 100, Logger: quiet})
}

// consume runs sub through g until a message with seq_id >= until() > 0
// is delivered; it returns every delivered seq_id.
func consume(ctx context.Context, sub *bus.Subscriber, g *GapFiller, until func() int64, slow time.Duration) ([]int64, error) {
	var got []int64
	for len(got) == 0 || until() <= 0 || got[len(got)-1] < until() {
		m, err := sub.Next(ctx)
		if err != nil {
			return got, fmt.Errorf("after %d messages: %w", len(got), err)
		}
		for _, d := range g.Filter(ctx, m) {
			got = append(got, d.Env.SeqID)
		}
		time.Sleep(slow)
	}
	return got, nil
}

func fixed(n int64) func() int64 { return func() int64 { return n } }

// checkExactlyOnce fails unless got is lo, lo+1, …, with no repeat.
func checkExactlyOnce(t *testing.T, got []int64, lo int64) {
	t.Helper()
	for i, s := range got {
		if s != lo+int64(i) {
			t.Fatalf("delivered seq_ids are not %d.. exactly once in order: at %d got %d (%v…)", lo, i, s, got[:min(len(got), i+5)])
		}
	}
}

// TestGapFillSlowSubscriber: a high-water mark of 2 and a reader that
// sleeps make the publisher drop messages for it; the GapFiller delivers
// every seq_id exactly once, in order.
func TestGapFillSlowSubscriber(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p := newPublisher(t, 2, 16<<10)
	// Drop at once, as libzmq's PUB (a fedmsg publisher) does: mailgw's
	// own waits for a slow subscriber that drains.
	p.pub.StallTimeout = 0
	sub, g := p.subscribe(ctx, 1)
	if err := p.pub.WaitSubscribers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	done := make(chan []int64, 1)
	var last int64
	var target atomic.Int64
	go func() {
		got, err := consume(ctx, sub, g, target.Load, 200*time.Microsecond)
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	for last < 400 || p.pub.Dropped() < 20 {
		last = p.publishBatch(50)
		if last > 20000 {
			t.Fatal("the publisher never dropped a message")
		}
	}
	target.Store(last)
	// Keep the stream going slowly, as a live bus does, so that the
	// last gap is noticed.
	var got []int64
	for got == nil {
		select {
		case got = <-done:
		case <-time.After(20 * time.Millisecond):
			p.publish()
		}
	}
	checkExactlyOnce(t, got, 1)
	st := g.Stats()
	t.Logf("published %d+, publisher dropped %d, replayed %d, duplicates %d", last, p.pub.Dropped(), st.Replayed, st.Duplicates)
	if st.Replayed == 0 || st.Lost != 0 {
		t.Fatalf("stats %+v: expected replayed messages and none lost", st)
	}
}

// TestGapFillRestartedSubscriber: a subscriber stops mid-stream; its
// successor starts with since = last seen + 1 (tail --since-seq) and the
// two together deliver every seq_id exactly once, in order.
func TestGapFillRestartedSubscriber(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := newPublisher(t, 1000, 0)
	sub1, g1 := p.subscribe(ctx, 1000)
	if err := p.pub.WaitSubscribers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		p.publish()
	}
	got, err := consume(ctx, sub1, g1, fixed(50), 0)
	if err != nil {
		t.Fatal(err)
	}
	sub1.Close()
	for range 100 { // nobody listening
		p.publish()
	}
	sub2, g2 := p.subscribe(ctx, 1000)
	if err := p.pub.WaitSubscribers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for _, m := range g2.Backfill(ctx, got[len(got)-1]+1) {
		got = append(got, m.Env.SeqID)
	}
	go func() {
		for range 50 {
			p.publish()
		}
	}()
	more, err := consume(ctx, sub2, g2, fixed(200), 0)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, more...)
	checkExactlyOnce(t, got, 1)
	if len(got) != 200 {
		t.Fatalf("delivered %d, want 200", len(got))
	}
}

// TestSeqIDContinuesAfterReopen: a journal reopened (serve restarted)
// goes on at last+1, and the replay endpoint serves both runs.
func TestSeqIDContinuesAfterReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.sqlite")
	for run, want := range [][2]int64{{1, 5}, {6, 9}} {
		j, err := journal.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		addEnvs(t, j, want[0], want[1]) // fails unless seq_ids continue
		s, err := NewServer(j, "tcp://127.0.0.1:0", 100, quiet)
		if err != nil {
			t.Fatal(err)
		}
		go s.Serve(context.Background())
		envs, err := query(context.Background(), s.Addr(), SeqRange(1, 100), 0)
		s.Close()
		j.Close()
		if err != nil || len(envs) != int(want[1]) || envs[len(envs)-1].SeqID != want[1] {
			t.Fatalf("run %d: %d envelopes, %v", run, len(envs), err)
		}
	}
}
