package journal

import (
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/debian/mailgw/bus"
)

// unpublishedSeqs returns the seq_ids Unpublished reports.
func unpublishedSeqs(t *testing.T, j *Journal) string {
	t.Helper()
	un, err := j.Unpublished(1000)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]int64, len(un))
	for i, e := range un {
		got[i] = e.SeqID
	}
	return fmt.Sprint(got)
}

func addN(t testing.TB, j *Journal, from, n int) []*bus.Envelope {
	t.Helper()
	added, err := j.Add(envsOf(t, from, n))
	if err != nil || len(added) != n {
		t.Fatalf("Add: %d added, %v", len(added), err)
	}
	return added
}

func watermark(t *testing.T, j *Journal) int64 {
	t.Helper()
	w, err := j.PublishedThrough()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestMarkOutOfOrder marks seq_ids out of order: the watermark moves only
// over a contiguous published prefix, and every mark survives a reopen.
func TestMarkOutOfOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.sqlite")
	j := open(t, path)
	addN(t, j, 0, 8)
	steps := []struct {
		mark   []int64
		wm     int64
		unpubl string
	}{
		{[]int64{3, 5, 5, 99, 0, -1}, 0, "[1 2 4 6 7 8]"}, // 99: not journaled, ignored
		{[]int64{2}, 0, "[1 4 6 7 8]"},
		{[]int64{1}, 3, "[4 6 7 8]"},
		{[]int64{8, 4}, 5, "[6 7]"},
		{[]int64{2, 3}, 5, "[6 7]"}, // marked already
		{[]int64{6, 7}, 8, "[]"},
	}
	for i, s := range steps {
		if err := j.MarkPublished(s.mark...); err != nil {
			t.Fatal(err)
		}
		if w, got := watermark(t, j), unpublishedSeqs(t, j); w != s.wm || got != s.unpubl {
			t.Errorf("step %d (mark %v): watermark %d, unpublished %s; want %d, %s", i, s.mark, w, got, s.wm, s.unpubl)
		}
	}
	addN(t, j, 8, 3) // seq 9..11
	j.MarkPublished(11)
	j.Close()
	j = open(t, path)
	if w, got := watermark(t, j), unpublishedSeqs(t, j); w != 8 || got != "[9 10]" {
		t.Errorf("after reopen: watermark %d, unpublished %s; want 8, [9 10]", w, got)
	}
	j.MarkPublished(9, 10)
	if w := watermark(t, j); w != 11 {
		t.Errorf("watermark %d, want 11", w)
	}
}

// TestAddMarking: marks handed to AddMarking are recorded in its own
// transaction, may name envelopes of the same call, are ignored when
// unknown, and are dropped with a transaction that fails; with no
// envelopes to add, AddMarking only marks.
func TestAddMarking(t *testing.T) {
	j := open(t, filepath.Join(t.TempDir(), "j.sqlite"))
	defer j.Close()
	addN(t, j, 0, 4) // seq 1..4
	var envs []*bus.Envelope
	for i := 4; i < 6; i++ {
		envs = append(envs, env(fmt.Sprint(i), int64(i)))
	}
	if added, err := j.AddMarking(envs, []int64{2, 1, 5, 99}); err != nil || len(added) != 2 {
		t.Fatalf("AddMarking: %d added, %v", len(added), err)
	}
	if w, got := watermark(t, j), unpublishedSeqs(t, j); w != 2 || got != "[3 4 6]" {
		t.Errorf("watermark %d, unpublished %s; want 2, [3 4 6]", w, got)
	}
	bad := []*bus.Envelope{env("7", 7), {Topic: "t", MsgID: "x", Msg: map[string]any{"f": math.Inf(1)}}}
	if _, err := j.AddMarking(bad, []int64{3}); err == nil {
		t.Fatal("AddMarking with an unencodable envelope succeeded")
	}
	if w, got := watermark(t, j), unpublishedSeqs(t, j); w != 2 || got != "[3 4 6]" {
		t.Errorf("after a failed AddMarking: watermark %d, unpublished %s; want 2, [3 4 6]", w, got)
	}
	if added, err := j.AddMarking(nil, []int64{3, 4}); err != nil || len(added) != 0 {
		t.Fatalf("AddMarking without envelopes: %d added, %v", len(added), err)
	}
	if w, got := watermark(t, j), unpublishedSeqs(t, j); w != 5 || got != "[6]" {
		t.Errorf("watermark %d, unpublished %s; want 5, [6]", w, got)
	}
}

// oldSchema is the journal before the published watermark: a flag per row.
const oldSchema = `
CREATE TABLE envelopes (
	seq_id    INTEGER PRIMARY KEY,
	msg_id    TEXT    NOT NULL,
	topic     TEXT    NOT NULL,
	timestamp INTEGER NOT NULL,
	body      BLOB    NOT NULL,
	published INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX envelopes_msg_id ON envelopes(msg_id);
CREATE INDEX envelopes_timestamp ON envelopes(timestamp, seq_id);
CREATE INDEX envelopes_unpublished ON envelopes(seq_id) WHERE published = 0;
`

// oldJournal creates a journal file with the schema of before the
// published watermark and the bodies file, and returns its path and an
// open handle for filling it.
func oldJournal(t *testing.T) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "old.sqlite")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(oldSchema); err != nil {
		t.Fatal(err)
	}
	return path, db
}

// TestMigrateOldJournal opens a journal written with the old per-row
// published flag: the same envelopes stay unpublished, new ones are
// added and marked, and the old partial index is gone.
func TestMigrateOldJournal(t *testing.T) {
	for _, tc := range []struct {
		published []int // 1-based seq_ids with published = 1, of 6
		wm        int64
		unpubl    string
	}{
		{nil, 0, "[1 2 3 4 5 6]"},
		{[]int{1, 2, 3, 4, 5, 6}, 6, "[]"},
		{[]int{1, 2, 4, 6}, 2, "[3 5]"},
		{[]int{2, 3}, 0, "[1 4 5 6]"},
	} {
		path, db := oldJournal(t)
		pub := map[int]bool{}
		for _, s := range tc.published {
			pub[s] = true
		}
		for s := 1; s <= 6; s++ {
			e := env(fmt.Sprint(s), int64(s))
			e.SeqID = int64(s)
			body, _ := e.Marshal()
			if _, err := db.Exec(`INSERT INTO envelopes VALUES (?, ?, ?, ?, ?, ?)`, s, e.MsgID, e.Topic, e.Timestamp, body, pub[s]); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()

		j := open(t, path)
		if w, got := watermark(t, j), unpublishedSeqs(t, j); w != tc.wm || got != tc.unpubl {
			t.Errorf("published %v: watermark %d, unpublished %s; want %d, %s", tc.published, w, got, tc.wm, tc.unpubl)
		}
		var idx int
		j.db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'envelopes_unpublished'`).Scan(&idx)
		if idx != 0 {
			t.Error("old index envelopes_unpublished still there")
		}
		addN(t, j, 100, 2) // seq 7, 8
		j.Close()
		j = open(t, path) // a second Open does not migrate again
		un, _ := j.Unpublished(100)
		if len(un) == 0 || un[len(un)-1].SeqID != 8 {
			t.Fatalf("published %v: new envelopes not unpublished: %s", tc.published, unpublishedSeqs(t, j))
		}
		seqs := make([]int64, len(un))
		for i, e := range un {
			seqs[i] = e.SeqID
		}
		if err := j.MarkPublished(seqs...); err != nil {
			t.Fatal(err)
		}
		if w, got := watermark(t, j), unpublishedSeqs(t, j); w != 8 || got != "[]" {
			t.Errorf("published %v, then the rest: watermark %d, unpublished %s", tc.published, w, got)
		}
	}
}
