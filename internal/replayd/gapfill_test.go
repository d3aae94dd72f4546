package replayd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
)

const (
	pubA    = "tcp://pub-a:1"
	pubA2   = "tcp://pub-a:2" // a second PUB endpoint of the same publisher
	replayA = "tcp://pub-a:9"
)

// fakeReplay answers range queries from a fakeStore and records them.
type fakeReplay struct {
	st   *fakeStore
	asks [][2]int64
	down bool
}

func (f *fakeReplay) query(_ context.Context, ep string, req Request, _ time.Duration) ([][]byte, error) {
	if ep != replayA {
		return nil, fmt.Errorf("unexpected replay endpoint %s", ep)
	}
	f.asks = append(f.asks, *req.SeqIDRange)
	if f.down {
		return nil, errors.New("connection refused")
	}
	return QueryRawStore(f.st, req)
}

// QueryRawStore is what a server would send for req.
func QueryRawStore(st Store, req Request) ([][]byte, error) {
	return Answer(st, &req, 1000)
}

func live(ep string, seq int64) bus.Message {
	env := testEnv(seq)
	return bus.Message{Endpoint: ep, Topic: env.Topic, Env: env}
}

func delivered(ms []bus.Message) []int64 {
	var out []int64
	for _, m := range ms {
		out = append(out, m.Env.SeqID)
	}
	return out
}

func newTestFiller(f *fakeReplay, opts GapOptions, log *bytes.Buffer) *GapFiller {
	opts.query = f.query
	opts.Logger = slog.New(slog.NewTextHandler(log, nil))
	return NewGapFiller(map[string]string{pubA: replayA, pubA2: replayA}, opts)
}

func TestGapFillerSequence(t *testing.T) {
	f := &fakeReplay{st: newFakeStore(100)}
	var log bytes.Buffer
	g := newTestFiller(f, GapOptions{MaxReply: 4}, &log)
	ctx := context.Background()
	var got []int64
	// first message: delivered as is; then in order, a duplicate, a late
	// one, the same message from the publisher's second endpoint, a gap
	// of 10 (three chunks of at most 4), and one without seq_id.
	for _, seq := range []int64{5, 6, 6, 7, 5, 19, 19, 20} {
		got = append(got, delivered(g.Filter(ctx, live(pubA, seq)))...)
	}
	got = append(got, delivered(g.Filter(ctx, live(pubA2, 20)))...)
	untracked := live(pubA, 3)
	untracked.Env.SeqID = 0
	got = append(got, delivered(g.Filter(ctx, untracked))...)
	other := live("tcp://elsewhere:1", 2)
	got = append(got, delivered(g.Filter(ctx, other))...)
	want := []int64{5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 0, 2}
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	if !slices.Equal(f.asks, [][2]int64{{8, 11}, {12, 15}, {16, 18}}) {
		t.Fatalf("asked %v", f.asks)
	}
	st := g.Stats()
	if st.Replayed != 11 || st.Duplicates != 4 || st.Lost != 0 || st.Live != 7 {
		t.Fatalf("stats %+v", st)
	}
}

func TestGapFillerOutage(t *testing.T) {
	f := &fakeReplay{st: newFakeStore(100), down: true}
	var log bytes.Buffer
	g := newTestFiller(f, GapOptions{RetryAfter: time.Nanosecond}, &log)
	ctx := context.Background()
	var got []int64
	for _, seq := range []int64{1, 3, 5, 7} {
		got = append(got, delivered(g.Filter(ctx, live(pubA, seq)))...)
	}
	if !slices.Equal(got, []int64{1, 3, 5, 7}) {
		t.Fatalf("live messages during the outage: %v", got)
	}
	if n := strings.Count(log.String(), "replay endpoint unreachable"); n != 1 {
		t.Fatalf("outage warned %d times, want once:\n%s", n, log.String())
	}
	f.down = false
	got = delivered(g.Filter(ctx, live(pubA, 10)))
	if !slices.Equal(got, []int64{8, 9, 10}) || !strings.Contains(log.String(), "answers again") {
		t.Fatalf("after the outage: %v\n%s", got, log.String())
	}
	if st := g.Stats(); st.Lost != 3 || st.Replayed != 2 {
		t.Fatalf("stats %+v", g.Stats())
	}
}

// TestGapFillerRetryAfter: while the endpoint is down, gaps inside
// RetryAfter are not asked for.
func TestGapFillerRetryAfter(t *testing.T) {
	f := &fakeReplay{st: newFakeStore(100), down: true}
	var log bytes.Buffer
	g := newTestFiller(f, GapOptions{RetryAfter: time.Hour}, &log)
	ctx := context.Background()
	for _, seq := range []int64{1, 3, 5, 7} {
		g.Filter(ctx, live(pubA, seq))
	}
	if len(f.asks) != 1 || g.Stats().Lost != 3 {
		t.Fatalf("asked %v, stats %+v", f.asks, g.Stats())
	}
}

func TestGapFillerTopicsAndVerify(t *testing.T) {
	f := &fakeReplay{st: newFakeStore(100)}
	var log bytes.Buffer
	g := newTestFiller(f, GapOptions{
		Topics: []string{"org.debian.dev.test.a"}, // odd seq_ids
		Verify: func(env *bus.Envelope) (string, error) {
			if env.SeqID == 5 {
				return "", errors.New("bad signature")
			}
			return "FPR", nil
		},
	}, &log)
	ctx := context.Background()
	g.Filter(ctx, live(pubA, 1))
	ms := g.Filter(ctx, live(pubA, 9))
	if got := delivered(ms); !slices.Equal(got, []int64{3, 7, 9}) || ms[0].Signer != "FPR" || len(ms[0].Body) == 0 {
		t.Fatalf("delivered %v", got)
	}
	if !strings.Contains(log.String(), "bad signature") {
		t.Fatalf("invalid replayed message not logged:\n%s", log.String())
	}
}

func TestGapFillerBackfill(t *testing.T) {
	f := &fakeReplay{st: newFakeStore(10)}
	var log bytes.Buffer
	g := newTestFiller(f, GapOptions{MaxReply: 3}, &log)
	ctx := context.Background()
	got := delivered(g.Backfill(ctx, 4))
	if !slices.Equal(got, []int64{4, 5, 6, 7, 8, 9, 10}) {
		t.Fatalf("backfill %v (asked %v)", got, f.asks)
	}
	// live traffic overlapping the backfill is dropped, then continues
	for _, seq := range []int64{9, 10, 11} {
		got = append(got, delivered(g.Filter(ctx, live(pubA, seq)))...)
	}
	if !slices.Equal(got, []int64{4, 5, 6, 7, 8, 9, 10, 11}) {
		t.Fatalf("after backfill %v", got)
	}
	if g.Stats().Lost != 0 || g.Stats().Duplicates != 2 {
		t.Fatalf("stats %+v", g.Stats())
	}
}

func TestGapFillerBackfillPastEnd(t *testing.T) {
	f := &fakeReplay{st: newFakeStore(10)}
	var log bytes.Buffer
	g := newTestFiller(f, GapOptions{}, &log)
	ctx := context.Background()
	if got := g.Backfill(ctx, 50); len(got) != 0 {
		t.Fatalf("backfill past the end delivered %v", delivered(got))
	}
	got := delivered(g.Filter(ctx, live(pubA, 11)))
	got = append(got, delivered(g.Filter(ctx, live(pubA, 50)))...)
	got = append(got, delivered(g.Filter(ctx, live(pubA, 51)))...)
	if !slices.Equal(got, []int64{50, 51}) {
		t.Fatalf("got %v", got)
	}
}

// TestGapFillerShrinksChunks: a server with a smaller bound than ours
// refuses big ranges; the filler asks again in smaller chunks.
func TestGapFillerShrinksChunks(t *testing.T) {
	st := newFakeStore(100)
	var asks [][2]int64
	g := NewGapFiller(map[string]string{pubA: replayA}, GapOptions{
		MaxReply: 40,
		Logger:   quiet,
		query: func(_ context.Context, _ string, req Request, _ time.Duration) ([][]byte, error) {
			asks = append(asks, *req.SeqIDRange)
			return Answer(st, &req, 15)
		},
	})
	ctx := context.Background()
	g.Filter(ctx, live(pubA, 1))
	got := delivered(g.Filter(ctx, live(pubA, 32)))
	if len(got) != 31 || got[30] != 32 || g.Stats().Lost != 0 {
		t.Fatalf("delivered %v, stats %+v, asked %v", got, g.Stats(), asks)
	}
	checkExactlyOnce(t, got, 2)
	if want := [][2]int64{{2, 31}, {2, 21}, {2, 11}, {12, 21}, {22, 31}}; !slices.Equal(asks, want) {
		t.Fatalf("asked %v, want %v", asks, want)
	}
}

// TestGapFillerReset: a seq_id at or below the last delivered one that is
// not a message delivered before means the publisher's journal was reset:
// it is delivered, with a warning, and the count follows the new seq_ids;
// a true duplicate is still dropped.
func TestGapFillerReset(t *testing.T) {
	f := &fakeReplay{st: newFakeStore(100)}
	var log bytes.Buffer
	g := newTestFiller(f, GapOptions{}, &log)
	ctx := context.Background()
	var got []int64
	for _, seq := range []int64{5, 6, 7, 7, 1, 2, 3} {
		got = append(got, delivered(g.Filter(ctx, live(pubA, seq)))...)
	}
	if !slices.Equal(got, []int64{5, 6, 7, 1, 2, 3}) {
		t.Fatalf("delivered %v, want 5 6 7 1 2 3", got)
	}
	if st := g.Stats(); st.Resets != 1 || st.Duplicates != 1 {
		t.Errorf("stats %+v, want 1 reset and 1 duplicate", st)
	}
	if !strings.Contains(log.String(), "journal was reset") {
		t.Errorf("no warning about the reset:\n%s", log.String())
	}
}

// TestGapFillerBackfillRetries: --since-seq started while the replay
// endpoint is down retries with backoff until it answers, then fills
// exactly from since.
func TestGapFillerBackfillRetries(t *testing.T) {
	f := &fakeReplay{st: newFakeStore(30)}
	fails := 3
	var log bytes.Buffer
	g := NewGapFiller(map[string]string{pubA: replayA}, GapOptions{
		MaxReply: 8,
		Logger:   slog.New(slog.NewTextHandler(&log, nil)),
		query: func(ctx context.Context, ep string, req Request, to time.Duration) ([][]byte, error) {
			if fails > 0 {
				fails--
				return nil, errors.New("dial tcp: connection refused")
			}
			return f.query(ctx, ep, req, to)
		},
	})
	start := time.Now()
	got := delivered(g.Backfill(context.Background(), 12))
	want := []int64{}
	for s := int64(12); s <= 30; s++ {
		want = append(want, s)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("backfill delivered %v, want 12..30", got)
	}
	if n := strings.Count(log.String(), "replay endpoint unreachable; retrying"); n != 3 {
		t.Errorf("%d retry warnings, want 3:\n%s", n, log.String())
	}
	t.Logf("filled after 3 failed tries in %v", time.Since(start).Round(time.Millisecond))
}
