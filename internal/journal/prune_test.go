package journal

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
)

// bigEnv is an envelope with a body of about 3 KiB (a typical one),
// journaled at ts.
func bigEnv(i int, ts int64) *bus.Envelope {
	msg := map[string]any{"source": "bash", "changes": strings.Repeat(fmt.Sprintf("line %d\n", i), 300)}
	return bus.NewEnvelope("org.debian.dev.dak.package.upload", msg, fmt.Sprint("2008-big-", i), ts, "mailgw")
}

// fillPublished journals envelopes 1..n with timestamps 1..n and marks
// them published.
func fillPublished(t *testing.T, j *Journal, n int) {
	t.Helper()
	var envs []*bus.Envelope
	for i := 1; i <= n; i++ {
		envs = append(envs, bigEnv(i, int64(i)))
	}
	added, err := j.Add(envs)
	if err != nil || len(added) != n {
		t.Fatalf("Add: %d, %v", len(added), err)
	}
	if err := j.MarkPublished(seqs(added)...); err != nil {
		t.Fatal(err)
	}
}

func wantPruned(t *testing.T, what string, err error, through int64) {
	t.Helper()
	var pe *PrunedError
	if !errors.As(err, &pe) || !errors.Is(err, ErrPruned) || pe.Through != through {
		t.Errorf("%s: %v, want PrunedError through %d", what, err, through)
	}
}

// TestPruneBodies: the bodies of the envelopes journaled before the
// cutoff are dropped and their disk space given back; queries for them
// say "pruned", the kept ones read back, a pruned msg_id is still a
// duplicate, and a reopened journal keeps it all.
func TestPruneBodies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.sqlite")
	j := open(t, path)
	fillPublished(t, j, 200)
	before := j.bfile.allocated()
	st, err := j.Prune(context.Background(), time.Unix(181, 0), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Bodies != 180 || st.Keys != 0 || st.Mark.Through != 180 || st.Mark.Before != 180 {
		t.Fatalf("Prune: %+v", st)
	}
	after := j.bfile.allocated()
	if u, err := j.DiskUsage(); err != nil || u["bodies"] != after || u["database"] <= 0 {
		t.Errorf("DiskUsage: %v %v", u, err)
	}
	// 20 of 200 bodies are left: the file takes about a tenth (blocks
	// round up; the block of the identity line and the first body's
	// start stays).
	if after > before/10+12288 || st.Reclaimed < before*8/10 {
		t.Errorf("bodies file took %d bytes, now %d (reclaimed %d): want about a tenth", before, after, st.Reclaimed)
	}
	_, err = j.BySeqRange(1, 200, 1000)
	wantPruned(t, "BySeqRange(1, 200)", err, 180)
	_, err = j.BySeqIDs([]int64{190, 5}, 1000)
	wantPruned(t, "BySeqIDs(190, 5)", err, 180)
	_, err = j.ByMsgIDs([]string{"2008-big-3"}, 1000)
	wantPruned(t, "ByMsgIDs(pruned)", err, 180)
	_, err = j.ByTime(100, 300, 1000)
	wantPruned(t, "ByTime(100, 300)", err, 180)
	for _, q := range []func() ([][]byte, error){
		func() ([][]byte, error) { return j.BySeqRange(181, 300, 1000) },
		func() ([][]byte, error) { return j.ByTime(181, 300, 1000) },
	} {
		bodies, err := q()
		if err != nil || len(bodies) != 20 {
			t.Fatalf("kept range: %d bodies, %v", len(bodies), err)
		}
		if e, err := bus.ParseEnvelope(bodies[0]); err != nil || e.SeqID != 181 {
			t.Fatalf("first kept: %v %v", e, err)
		}
	}
	if ok, _ := j.Has("2008-big-1"); !ok {
		t.Error("a pruned msg_id is no longer known")
	}
	if added, err := j.Add([]*bus.Envelope{bigEnv(1, 500), bigEnv(201, 500)}); err != nil || len(added) != 1 || added[0].SeqID != 201 {
		t.Fatalf("redelivery of a pruned envelope: %v %v", added, err)
	}
	j.Close()
	j = open(t, path)
	if bodies, err := j.BySeqRange(181, 201, 100); err != nil || len(bodies) != 21 {
		t.Fatalf("after reopen: %d bodies, %v", len(bodies), err)
	}
	// Nothing more to prune: nothing changes.
	if st, err := j.Prune(context.Background(), time.Unix(181, 0), time.Time{}); err != nil || st.Bodies != 0 || st.Mark.Through != 180 {
		t.Fatalf("second Prune: %+v %v", st, err)
	}
}

// TestPruneStopsAtUnpublished: an envelope not yet on the bus keeps its
// body whatever its age, and so does everything after it.
func TestPruneStopsAtUnpublished(t *testing.T) {
	j := open(t, filepath.Join(t.TempDir(), "j.sqlite"))
	var envs []*bus.Envelope
	for i := 1; i <= 10; i++ {
		envs = append(envs, bigEnv(i, int64(i)))
	}
	added, err := j.Add(envs)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.MarkPublished(seqs(added[:4])...); err != nil {
		t.Fatal(err)
	}
	if err := j.MarkPublished(7, 8); err != nil {
		t.Fatal(err)
	}
	st, err := j.Prune(context.Background(), time.Unix(1000, 0), time.Time{})
	if err != nil || st.Bodies != 4 || st.Mark.Through != 4 {
		t.Fatalf("Prune: %+v %v", st, err)
	}
	un, err := j.Unpublished(100)
	if err != nil || len(un) != 4 || un[0].SeqID != 5 || len(un[0].Body) == 0 {
		t.Fatalf("Unpublished after prune: %d, %v", len(un), err)
	}
}

// TestPruneKeys: rows older than the keys cutoff go (a redelivery is then
// new), never past the pruned bodies, never the newest row: seq_id goes
// on from it.
func TestPruneKeys(t *testing.T) {
	j := open(t, filepath.Join(t.TempDir(), "j.sqlite"))
	fillPublished(t, j, 100)
	st, err := j.Prune(context.Background(), time.Unix(91, 0), time.Unix(1000, 0))
	if err != nil || st.Bodies != 90 || st.Keys != 90 || st.Mark.KeysThrough != 90 {
		t.Fatalf("Prune: %+v %v", st, err)
	}
	if n, _ := j.Count(); n != 10 {
		t.Errorf("Count = %d, want 10", n)
	}
	if ok, _ := j.Has("2008-big-5"); ok {
		t.Error("a msg_id whose key is pruned is still known")
	}
	// Its range still says pruned, not "no match".
	_, err = j.BySeqRange(1, 5, 10)
	wantPruned(t, "BySeqRange of deleted rows", err, 90)
	// Everything old: all but the newest row go.
	st, err = j.Prune(context.Background(), time.Unix(1000, 0), time.Unix(1000, 0))
	if err != nil || st.Mark.Through != 100 || st.Mark.KeysThrough != 99 {
		t.Fatalf("Prune all: %+v %v", st, err)
	}
	if n, _ := j.Count(); n != 1 {
		t.Errorf("Count = %d, want 1 (the newest row)", n)
	}
	added, err := j.Add([]*bus.Envelope{bigEnv(5, 2000)})
	if err != nil || len(added) != 1 || added[0].SeqID != 101 {
		t.Fatalf("redelivery after key prune: %v %v", added, err)
	}
}

// TestPruneKeysKeepsProbeChains: with every msg_id on one of two keys,
// deleting a row in the middle of a chain would hide the msg_ids after
// it; those rows stay, and every kept msg_id is still found.
func TestPruneKeysKeepsProbeChains(t *testing.T) {
	defer func(f func(string) int64) { msgKey = f }(msgKey)
	msgKey = func(id string) int64 { return int64(len(id) % 2 * 100) }
	j := open(t, filepath.Join(t.TempDir(), "j.sqlite"))
	fillPublished(t, j, 30)
	if _, err := j.Prune(context.Background(), time.Unix(11, 0), time.Unix(11, 0)); err != nil {
		t.Fatal(err)
	}
	for i := 11; i <= 30; i++ {
		id := fmt.Sprint("2008-big-", i)
		if ok, err := j.Has(id); !ok || err != nil {
			t.Errorf("Has(%s) = %v, %v after pruning older keys", id, ok, err)
		}
	}
	if added, err := j.Add([]*bus.Envelope{bigEnv(20, 99)}); err != nil || len(added) != 0 {
		t.Errorf("kept msg_id journaled again: %v %v", added, err)
	}
}

// TestPruneRacingReader: a reader that read a row before the prune
// committed and its body after the hole was punched gets a PrunedError,
// not a damaged-body error.
func TestPruneRacingReader(t *testing.T) {
	j := open(t, filepath.Join(t.TempDir(), "j.sqlite"))
	fillPublished(t, j, 10)
	var sb storedBody
	if err := j.db.QueryRow(`SELECT ` + bodyCols + ` FROM envelopes WHERE seq_id = 3`).Scan(sb.dest()...); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Prune(context.Background(), time.Unix(6, 0), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := j.bfile.load(&sb); err == nil {
		t.Fatal("the punched body still reads")
	}
	_, err := j.loadRow(3, &sb)
	wantPruned(t, "loadRow", err, 5)
}
