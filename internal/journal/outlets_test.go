package journal

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
)

func outletMark(t *testing.T, j *Journal, name string) int64 {
	t.Helper()
	m, err := j.OutletMark(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestOutletWatermark: an outlet made at the end starts after what is
// journaled, one made at the start before it; marks only move up,
// survive a reopen, and are independent of the bus's watermark and of
// each other; a dropped outlet is gone.
func TestOutletWatermark(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.sqlite")
	j := open(t, path)
	addN(t, j, 0, 5)
	if m, created, err := j.OpenOutlet("amqp", true); err != nil || !created || m != 5 {
		t.Fatalf("OpenOutlet at end = %d %v %v, want 5 created", m, created, err)
	}
	if m, created, err := j.OpenOutlet("other", false); err != nil || !created || m != 0 {
		t.Fatalf("OpenOutlet at start = %d %v %v, want 0 created", m, created, err)
	}
	addN(t, j, 5, 5)
	if err := j.MarkOutlet("amqp", 8); err != nil {
		t.Fatal(err)
	}
	if err := j.MarkOutlet("amqp", 6); err != nil { // never down
		t.Fatal(err)
	}
	if err := j.MarkPublished(1, 2, 3); err != nil {
		t.Fatal(err)
	}
	if m := outletMark(t, j, "amqp"); m != 8 {
		t.Fatalf("amqp mark %d, want 8", m)
	}
	if m := outletMark(t, j, "other"); m != 0 {
		t.Fatalf("other mark %d, want 0 (marks are per outlet)", m)
	}
	if w := watermark(t, j); w != 3 {
		t.Fatalf("published watermark %d, want 3 (outlets do not move it)", w)
	}
	j.Close()

	j = open(t, path)
	if m, created, err := j.OpenOutlet("amqp", true); err != nil || created || m != 8 {
		t.Fatalf("OpenOutlet after reopen = %d %v %v, want the kept 8", m, created, err)
	}
	if m, existed, err := j.DropOutlet("other"); err != nil || !existed || m != 0 {
		t.Fatalf("DropOutlet = %d %v %v", m, existed, err)
	}
	if _, err := j.OutletMark("other"); err == nil {
		t.Fatal("OutletMark of a dropped outlet: no error")
	}
	if _, existed, err := j.DropOutlet("other"); err != nil || existed {
		t.Fatalf("DropOutlet twice: existed %v, %v", existed, err)
	}
}

// TestDeliveredThrough: what may be pruned is below the bus's watermark
// and every outlet's.
func TestDeliveredThrough(t *testing.T) {
	j := open(t, filepath.Join(t.TempDir(), "j.sqlite"))
	addN(t, j, 0, 10)
	through := func() int64 {
		var n int64
		if err := j.db.QueryRow(`SELECT ` + DeliveredThrough).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := j.MarkPublished(1, 2, 3, 4, 5, 6, 7); err != nil {
		t.Fatal(err)
	}
	if n := through(); n != 7 {
		t.Fatalf("no outlet: %d, want 7", n)
	}
	if _, _, err := j.OpenOutlet("amqp", false); err != nil {
		t.Fatal(err)
	}
	if err := j.MarkOutlet("amqp", 4); err != nil {
		t.Fatal(err)
	}
	if n := through(); n != 4 {
		t.Fatalf("outlet behind the bus: %d, want 4", n)
	}
	if err := j.MarkOutlet("amqp", 10); err != nil {
		t.Fatal(err)
	}
	if n := through(); n != 7 {
		t.Fatalf("outlet ahead of the bus: %d, want 7", n)
	}
}

// TestAfterAndAdded: After pages through the journal in seq_id order,
// and Added's channel closes at the next Add that adds something, not
// at one that only finds duplicates.
func TestAfterAndAdded(t *testing.T) {
	j := open(t, filepath.Join(t.TempDir(), "j.sqlite"))
	addN(t, j, 0, 7)
	var got []int64
	for seq := int64(0); ; {
		es, err := j.After(seq, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			got = append(got, e.SeqID)
			if len(e.Body) == 0 || e.MsgID == "" {
				t.Fatalf("entry %d without body or msg_id", e.SeqID)
			}
		}
		seq = es[len(es)-1].SeqID
	}
	if fmt.Sprint(got) != "[1 2 3 4 5 6 7]" {
		t.Fatalf("After pages %v", got)
	}
	ch := j.Added()
	if _, err := j.Add(envsOf(t, 0, 1)); err != nil { // a duplicate only
		t.Fatal(err)
	}
	select {
	case <-ch:
		t.Fatal("Added closed by an Add of duplicates only")
	default:
	}
	addN(t, j, 7, 1)
	select {
	case <-ch:
	default:
		t.Fatal("Added not closed by an Add")
	}
	if j.Added() == ch {
		t.Fatal("Added returns the closed channel again")
	}
}

// TestOutletsMigration: a journal made before the outlets table gets it
// when opened.
func TestOutletsMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.sqlite")
	j := open(t, path)
	addN(t, j, 0, 3)
	j.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DROP TABLE outlets`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	j = open(t, path)
	if m, created, err := j.OpenOutlet("amqp", true); err != nil || !created || m != 3 {
		t.Fatalf("OpenOutlet on a migrated journal = %d %v %v", m, created, err)
	}
}

// envsOf returns the envelopes addN(from, n) adds, again.
func envsOf(t testing.TB, from, n int) []*bus.Envelope {
	t.Helper()
	var envs []*bus.Envelope
	for i := from; i < from+n; i++ {
		envs = append(envs, env(fmt.Sprint(i), int64(i)))
	}
	return envs
}

// TestPruneStopsAtOutlet: an envelope the AMQP outlet has not delivered
// keeps its body, published or not; once the outlet moves on (or is
// dropped), the prune goes on.
func TestPruneStopsAtOutlet(t *testing.T) {
	j := open(t, filepath.Join(t.TempDir(), "j.sqlite"))
	if _, _, err := j.OpenOutlet("amqp", false); err != nil {
		t.Fatal(err)
	}
	fillPublished(t, j, 10)
	if err := j.MarkOutlet("amqp", 3); err != nil {
		t.Fatal(err)
	}
	st, err := j.Prune(context.Background(), time.Unix(1000, 0), time.Time{})
	if err != nil || st.Bodies != 3 || st.Mark.Through != 3 {
		t.Fatalf("Prune with the outlet at 3: %+v %v", st, err)
	}
	if es, err := j.After(3, 100); err != nil || len(es) != 7 || len(es[0].Body) == 0 {
		t.Fatalf("the outlet's next envelopes: %d, %v", len(es), err)
	}
	if _, _, err := j.DropOutlet("amqp"); err != nil {
		t.Fatal(err)
	}
	if st, err := j.Prune(context.Background(), time.Unix(1000, 0), time.Time{}); err != nil || st.Mark.Through != 10 {
		t.Fatalf("Prune without the outlet: %+v %v", st, err)
	}
	// A new outlet "from the beginning" starts after what is pruned.
	if m, _, err := j.OpenOutlet("amqp", false); err != nil || m != 10 {
		t.Fatalf("OpenOutlet after a prune: %d %v, want 10", m, err)
	}
}

// TestBackupMovesOutlet: a prune that passes the outlet's watermark
// after the database was copied (the outlet delivered meanwhile) is
// applied to the copy too, its watermark moved with it.
func TestBackupMovesOutlet(t *testing.T) {
	dir := t.TempDir()
	j := open(t, filepath.Join(dir, "journal.sqlite"))
	if _, _, err := j.OpenOutlet("amqp", false); err != nil {
		t.Fatal(err)
	}
	fillPublished(t, j, 100)
	if err := j.MarkOutlet("amqp", 20); err != nil {
		t.Fatal(err)
	}
	backupSnapshotHook = func() {
		if err := j.MarkOutlet("amqp", 70); err != nil {
			t.Error(err)
		}
		if _, err := j.Prune(context.Background(), time.Unix(61, 0), time.Time{}); err != nil {
			t.Error(err)
		}
	}
	defer func() { backupSnapshotHook = nil }()
	st, err := j.Backup(filepath.Join(dir, "b"))
	if err != nil {
		t.Fatal(err)
	}
	c := open(t, st.Path)
	if m, err := c.Pruned(); err != nil || m.Through != 60 {
		t.Fatalf("copy's prune mark %+v %v, want through 60", m, err)
	}
	if m := outletMark(t, c, "amqp"); m != 60 {
		t.Fatalf("copy's outlet mark %d, want 60", m)
	}
	if es, err := c.After(60, 1); err != nil || len(es) != 1 || len(es[0].Body) == 0 {
		t.Fatalf("copy's next envelope for the outlet: %v %v", es, err)
	}
}

// TestReadAfter: ReadAfter reads what After reads, page by page into one
// Batch (each page valid until the next), over rows with inline bodies
// (from before the bodies file) and rows in the bodies file; a damaged
// body is skipped and reported as After skips and reports it, and a
// pruned one is an error as for After.
func TestReadAfter(t *testing.T) {
	path, db := oldJournal(t)
	for s := 1; s <= 3; s++ {
		e := env(fmt.Sprint(s), int64(s))
		e.SeqID = int64(s)
		body, _ := e.Marshal()
		if _, err := db.Exec(`INSERT INTO envelopes VALUES (?, ?, ?, ?, ?, 1)`, s, e.MsgID, e.Topic, e.Timestamp, body); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	j := open(t, path)
	for i := range 4 { // four Adds: four runs of bodies in a row
		addN(t, j, 100+10*i, 5)
	}
	var damaged []int64
	j.OnDamage = func(seq int64, err error) { damaged = append(damaged, seq) }
	same := func(what string, limit int) {
		t.Helper()
		var b Batch
		var got, want []Entry
		for seq := int64(0); ; {
			if err := j.ReadAfter(seq, limit, &b); err != nil {
				t.Fatalf("%s: ReadAfter(%d): %v", what, seq, err)
			}
			if len(b.Entries) == 0 {
				break
			}
			for _, e := range b.Entries {
				e.Body = bytes.Clone(e.Body) // the next read reuses the buffer
				got = append(got, e)
			}
			seq = b.Entries[len(b.Entries)-1].SeqID
		}
		for seq := int64(0); ; {
			es, err := j.After(seq, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(es) == 0 {
				break
			}
			want = append(want, es...)
			seq = es[len(es)-1].SeqID
		}
		if len(got) != len(want) || len(got) < 20 {
			t.Fatalf("%s: ReadAfter read %d envelopes, After %d", what, len(got), len(want))
		}
		for i := range got {
			if g, w := got[i], want[i]; g.SeqID != w.SeqID || g.MsgID != w.MsgID || g.Topic != w.Topic ||
				g.Timestamp != w.Timestamp || !bytes.Equal(g.Body, w.Body) || len(g.Body) == 0 {
				t.Fatalf("%s: entry %d: %+v, After %+v", what, i, g, w)
			}
		}
	}
	same("clean, pages of 7", 7)
	same("clean, one page", 100)

	// A changed byte in the body of seq_id 10 (the third of the second
	// Add): both skip it and report it.
	bp := BodiesPath(path)
	data, _ := os.ReadFile(bp)
	es, _ := j.After(9, 1)
	var sb storedBody
	if err := j.db.QueryRow(`SELECT ` + bodyCols + ` FROM envelopes WHERE seq_id = 10`).Scan(sb.dest()...); err != nil || es[0].SeqID != 10 {
		t.Fatal(err)
	}
	data[sb.at.Int64+5] ^= 0x20
	if err := os.WriteFile(bp, data, 0o640); err != nil {
		t.Fatal(err)
	}
	damaged = nil
	var b Batch
	if err := j.ReadAfter(0, 100, &b); err != nil || len(b.Entries) != 22 || len(damaged) != 1 || damaged[0] != 10 {
		t.Fatalf("ReadAfter over a damaged body: %d entries, %v, damaged %v", len(b.Entries), err, damaged)
	}
	for _, e := range b.Entries {
		if e.SeqID == 10 {
			t.Fatal("the damaged body was read")
		}
	}
	same("damaged", 6)

	// A body gone (pruned under the reader's feet looks like this): an
	// error, as for After.
	if _, err := j.db.Exec(`UPDATE envelopes SET body_at = NULL, body = x'' WHERE seq_id = 12`); err != nil {
		t.Fatal(err)
	}
	_, aerr := j.After(11, 5)
	if err := j.ReadAfter(11, 5, &b); err == nil || aerr == nil || err.Error() != aerr.Error() {
		t.Fatalf("ReadAfter over a body gone: %v; After: %v", err, aerr)
	}
}
