package journal

import (
	"bytes"
	"path/filepath"
	"testing"
)

// fromSQLite is After without the envelopes kept in memory.
func fromSQLite(t *testing.T, j *Journal, seq int64, limit int) []Entry {
	t.Helper()
	es, err := j.entries(`SELECT seq_id, msg_id, topic, timestamp, `+bodyCols+` FROM envelopes
		WHERE seq_id > ? ORDER BY seq_id LIMIT ?`, seq, limit)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// sameEntries fails the test unless got and want are the same envelopes,
// body bytes included.
func sameEntries(t *testing.T, what string, got, want []Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.SeqID != w.SeqID || g.MsgID != w.MsgID || g.Topic != w.Topic || g.Timestamp != w.Timestamp || !bytes.Equal(g.Body, w.Body) {
			t.Fatalf("%s: entry %d\n got %d %s %s %d %s\nwant %d %s %s %d %s", what, i,
				g.SeqID, g.MsgID, g.Topic, g.Timestamp, g.Body, w.SeqID, w.MsgID, w.Topic, w.Timestamp, w.Body)
		}
	}
}

// After answers from the envelopes this process journaled last once a
// reader asked (recent.go), and its answers are what SQLite holds: from
// any seq_id, with any limit, across batches, and across envelopes
// another process journaled in between (not kept here: the answer stops
// before them, and the next read gets them from SQLite). Only the last
// batches are kept.
func TestAfterRecent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.sqlite")
	j := open(t, path)
	other := open(t, path)
	addN(t, j, 0, 5) // before any After: not kept
	if es, err := j.After(0, 100); err != nil || len(es) != 5 {
		t.Fatalf("After(0) = %d entries, %v", len(es), err)
	}
	if j.recent.after(0, 100) != nil {
		t.Fatal("envelopes added before the first After are kept")
	}
	addN(t, j, 5, 4)      // 6..9, kept
	addN(t, j, 9, 3)      // 10..12, kept
	addN(t, other, 12, 2) // 13..14, by another process
	addN(t, j, 14, 3)     // 15..17, kept
	if got := j.recent.after(5, 100); len(got) != 7 || got[6].SeqID != 12 {
		t.Fatalf("kept from 6: %d entries", len(got))
	}
	if got := j.recent.after(12, 100); got != nil {
		t.Fatalf("seq 13 (another process's) answered from memory: %d entries", len(got))
	}
	for seq := int64(0); seq <= 17; seq++ {
		for _, limit := range []int{1, 2, 3, 5, 100} {
			got, err := j.After(seq, limit)
			if err != nil {
				t.Fatal(err)
			}
			want := fromSQLite(t, j, seq, limit)
			if seq >= 5 && seq != 12 && seq < 17 {
				// Kept: the answer may stop short at the gap, never
				// differ.
				want = want[:min(len(want), len(got))]
				if len(got) == 0 {
					t.Fatalf("After(%d, %d): nothing", seq, limit)
				}
			}
			sameEntries(t, "After", got, want)
		}
	}

	// Bounded: the oldest batches go.
	for i := 0; i*100 < recentMaxEntries+500; i++ {
		addN(t, j, 17+i*100, 100)
	}
	if j.recent.entries > recentMaxEntries || j.recent.bytes > recentMaxBytes {
		t.Fatalf("kept %d entries, %d bytes", j.recent.entries, j.recent.bytes)
	}
	if j.recent.after(5, 10) != nil {
		t.Fatal("the oldest batch is still kept")
	}
	last, err := j.LastSeq()
	if err != nil {
		t.Fatal(err)
	}
	got, err := j.After(last-150, 1000)
	if err != nil {
		t.Fatal(err)
	}
	sameEntries(t, "After near the end", got, fromSQLite(t, j, last-150, 1000))
}
