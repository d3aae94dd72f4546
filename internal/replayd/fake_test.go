package replayd

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/journal"
)

// fakeStore is an in-memory Store: envelopes by seq_id.
type fakeStore struct {
	envs map[int64]*bus.Envelope
	fail error // returned by every query when set
}

// newFakeStore holds n envelopes with seq_ids 1..n, timestamps 1000+seq
// and msg_ids "2026-m<seq>", topics alternating a/b.
func newFakeStore(n int) *fakeStore {
	s := &fakeStore{envs: map[int64]*bus.Envelope{}}
	for i := int64(1); i <= int64(n); i++ {
		s.envs[i] = testEnv(i)
	}
	return s
}

// testEnv is the envelope with seq_id seq used across the tests.
func testEnv(seq int64) *bus.Envelope {
	topic := "org.debian.dev.test.a"
	if seq%2 == 0 {
		topic = "org.debian.dev.test.b"
	}
	env := bus.NewEnvelope(topic, map[string]any{"n": seq}, fmt.Sprintf("2026-m%d", seq), 1000+seq, "tester")
	env.SeqID = seq
	return env
}

func (s *fakeStore) sel(limit int, keep func(*bus.Envelope) bool) ([][]byte, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	var seqs []int64
	for seq, e := range s.envs {
		if keep(e) {
			seqs = append(seqs, seq)
		}
	}
	if len(seqs) > limit {
		return nil, &journal.TooManyError{Limit: limit}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	out := make([][]byte, len(seqs))
	for i, seq := range seqs {
		b, err := s.envs[seq].Marshal()
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (s *fakeStore) BySeqRange(lo, hi int64, limit int) ([][]byte, error) {
	return s.sel(limit, func(e *bus.Envelope) bool { return e.SeqID >= lo && e.SeqID <= hi })
}

func (s *fakeStore) BySeqIDs(ids []int64, limit int) ([][]byte, error) {
	want := map[int64]bool{}
	for _, id := range ids {
		want[id] = true
	}
	return s.sel(limit, func(e *bus.Envelope) bool { return want[e.SeqID] })
}

func (s *fakeStore) ByMsgIDs(ids []string, limit int) ([][]byte, error) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	return s.sel(limit, func(e *bus.Envelope) bool { return want[e.MsgID] })
}

func (s *fakeStore) ByTime(t0, t1 int64, limit int) ([][]byte, error) {
	return s.sel(limit, func(e *bus.Envelope) bool { return e.Timestamp >= t0 && e.Timestamp <= t1 })
}

var _ Store = (*fakeStore)(nil)
var _ Store = (*journal.Journal)(nil)

// query is QueryRaw with the reply frames parsed as envelopes; a frame
// that is not an envelope is an error.
func query(ctx context.Context, endpoint string, req Request, timeout time.Duration) ([]*bus.Envelope, error) {
	frames, err := QueryRaw(ctx, endpoint, req, timeout)
	if err != nil {
		return nil, err
	}
	out := make([]*bus.Envelope, len(frames))
	for i, f := range frames {
		if out[i], err = bus.ParseEnvelope(f); err != nil {
			return nil, fmt.Errorf("replay %s: reply frame %d: %w", endpoint, i, err)
		}
	}
	return out, nil
}

// newJournal opens a journal in a temp dir holding n envelopes (seq_ids
// 1..n, as testEnv describes them).
func newJournal(t testing.TB, n int) *journal.Journal {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	addEnvs(t, j, 1, int64(n))
	return j
}

// addEnvs journals testEnv(lo..hi) and checks the seq_ids they got.
func addEnvs(t testing.TB, j *journal.Journal, lo, hi int64) {
	t.Helper()
	for seq := lo; seq <= hi; seq++ {
		env := testEnv(seq)
		env.SeqID = 0
		added, err := j.Add([]*bus.Envelope{env})
		if err != nil {
			t.Fatal(err)
		}
		if len(added) != 1 || added[0].SeqID != seq {
			t.Fatalf("journal gave seq_id %d, want %d", added[0].SeqID, seq)
		}
	}
}

// startServer serves st on a free loopback port until the test ends.
func startServer(t testing.TB, st Store, maxReply int) *Server {
	t.Helper()
	s, err := NewServer(st, "tcp://127.0.0.1:0", maxReply, quiet)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background()) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}
