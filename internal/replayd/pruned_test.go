package replayd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/journal"
)

// prunedJournal is a journal of envelopes 1..30 (testEnv's, timestamps
// 1000+seq), all published, with the bodies of 1..20 pruned.
func prunedJournal(t *testing.T) *journal.Journal {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	var envs []*bus.Envelope
	var seqs []int64
	for i := int64(1); i <= 30; i++ {
		e := testEnv(i)
		e.SeqID = 0
		envs = append(envs, e)
		seqs = append(seqs, i)
	}
	if _, err := j.Add(envs); err != nil {
		t.Fatal(err)
	}
	if err := j.MarkPublished(seqs...); err != nil {
		t.Fatal(err)
	}
	if st, err := j.Prune(context.Background(), time.Unix(1021, 0), time.Time{}); err != nil || st.Mark.Through != 20 {
		t.Fatalf("Prune: %+v %v", st, err)
	}
	return j
}

// TestAnswerPruned: every kind of query that reaches into pruned
// envelopes is answered with an error reply that says "pruned" and
// where the kept ones start; queries for kept ones are answered.
func TestAnswerPruned(t *testing.T) {
	j := prunedJournal(t)
	seq := int64(3)
	for _, req := range []Request{
		SeqRange(1, 25), {SeqID: &seq}, {SeqIDs: []int64{22, 4}},
		{MsgID: "2026-m7"}, {Time: &[2]int64{1005, 1025}},
	} {
		_, err := Answer(j, &req, 100)
		through, ok := PrunedThrough(err)
		if !errors.Is(err, ErrPruned) || !ok || through != 20 || errors.Is(err, ErrNoMatch) {
			t.Errorf("%+v: %v (through %d)", req, err, through)
		}
		var re *ReplyError
		if !errors.As(err, &re) || !strings.HasPrefix(re.Text, "pruned: seq_ids up to 20 are pruned") {
			t.Errorf("%+v: reply text %v", req, err)
		}
	}
	out, err := Answer(j, &Request{SeqIDRange: &[2]int64{21, 30}, MsgID: "2026-m22"}, 100)
	if err != nil || len(out) != 10 {
		t.Fatalf("kept range: %d, %v", len(out), err)
	}
}

// TestGapFillerPruned: a gap reaching into pruned seq_ids is filled from
// the oldest kept one on, and the pruned ones are counted and logged as
// pruned (not lost, not silently skipped); so is a backfill from 1.
func TestGapFillerPruned(t *testing.T) {
	j := prunedJournal(t)
	var log bytes.Buffer
	query := func(_ context.Context, _ string, req Request, _ time.Duration) ([][]byte, error) {
		return Answer(j, &req, 1000)
	}
	opts := GapOptions{MaxReply: 4, query: query, Logger: slog.New(slog.NewTextHandler(&log, nil))}
	g := NewGapFiller(map[string]string{pubA: replayA}, opts)
	ctx := context.Background()
	var got []int64
	for _, seq := range []int64{2, 25} {
		got = append(got, delivered(g.Filter(ctx, live(pubA, seq)))...)
	}
	if fmt.Sprint(got) != "[2 21 22 23 24 25]" {
		t.Errorf("delivered %v", got)
	}
	if st := g.Stats(); st.Pruned != 18 || st.Lost != 0 || st.Replayed != 4 {
		t.Errorf("stats %+v, want 18 pruned (3..20), none lost, 4 replayed", st)
	}
	if !strings.Contains(log.String(), "pruned from the publisher's journal") || !strings.Contains(log.String(), "from=3 to=20") {
		t.Errorf("log:\n%s", log.String())
	}

	g = NewGapFiller(map[string]string{pubA: replayA}, opts)
	got = delivered(g.Backfill(ctx, 1))
	if len(got) != 10 || got[0] != 21 || got[9] != 30 {
		t.Errorf("backfill from 1 delivered %v, want 21..30", got)
	}
	if st := g.Stats(); st.Pruned != 20 {
		t.Errorf("backfill stats %+v, want 20 pruned", st)
	}
}
