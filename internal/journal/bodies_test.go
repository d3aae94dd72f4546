package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debian/mailgw/bus"
)

// allBodies returns the bodies of seq_ids 1..last.
func allBodies(t *testing.T, j *Journal) [][]byte {
	t.Helper()
	last, err := j.LastSeq()
	if err != nil {
		t.Fatal(err)
	}
	bodies, err := j.BySeqRange(1, last, int(last))
	if err != nil || int64(len(bodies)) != last {
		t.Fatalf("BySeqRange(1, %d): %d bodies, %v", last, len(bodies), err)
	}
	return bodies
}

// header returns the bodies file's identity line (with its newline).
func header(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(BodiesPath(path))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.IndexByte(b, '\n')
	if i < 0 || !bytes.HasPrefix(b, []byte(`{"mailgw_journal":"`)) {
		t.Fatalf("bodies file does not start with an identity line: %.80q", b)
	}
	return b[:i+1]
}

// TestBodiesFileIsJSONLines: the bodies file holds its identity line,
// then exactly the journaled bodies, one per line in seq_id order;
// duplicates leave nothing behind.
func TestBodiesFileIsJSONLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.sqlite")
	j := open(t, path)
	if _, err := j.Add([]*bus.Envelope{env("a", 1), env("b", 2), env("a", 3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Add([]*bus.Envelope{env("b", 4), env("c", 5)}); err != nil {
		t.Fatal(err)
	}
	bodies := allBodies(t, j)
	got, err := os.ReadFile(BodiesPath(path))
	if err != nil {
		t.Fatal(err)
	}
	if want := append(append(header(t, path), bytes.Join(bodies, []byte("\n"))...), '\n'); !bytes.Equal(got, want) {
		t.Fatalf("bodies file\n%s\nwant\n%s", got, want)
	}
	for i, b := range bodies {
		e, err := bus.ParseEnvelope(b)
		if err != nil || e.SeqID != int64(i+1) {
			t.Fatalf("line %d: seq_id %d, %v", i+1, e.SeqID, err)
		}
	}
}

// TestBodiesTailOfInterruptedWriter: bytes a writer wrote past the
// committed end before dying (no row names them) are cut by the next Add,
// and everything journaled reads back.
func TestBodiesTailOfInterruptedWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.sqlite")
	j := open(t, path)
	addN(t, j, 0, 3)
	want := allBodies(t, j)
	j.Close()
	f, err := os.OpenFile(BodiesPath(path), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(strings.Repeat(`{"crypto":"gpg","i":1,"msg":{"half a bo`, 200))
	f.Close()

	j = open(t, path)
	if got := allBodies(t, j); len(got) != 3 || !bytes.Equal(bytes.Join(got, nil), bytes.Join(want, nil)) {
		t.Fatal("bodies changed by a tail past the committed end")
	}
	addN(t, j, 100, 2)
	bodies := allBodies(t, j)
	got, _ := os.ReadFile(BodiesPath(path))
	if want := append(append(header(t, path), bytes.Join(bodies, []byte("\n"))...), '\n'); !bytes.Equal(got, want) {
		t.Fatalf("bodies file after the next Add:\n%s\nwant\n%s", got, want)
	}
}

// TestBodiesDamaged: a changed byte in a body is reported with the file,
// offset and seq_id (CRC-32C) and the query answers with the other
// bodies; a bodies file shorter than the journal says (lost, or restored
// from another copy) stops Open with both sizes.
func TestBodiesDamaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.sqlite")
	j := open(t, path)
	var damaged []int64
	var damageErr error
	j.OnDamage = func(seq int64, err error) { damaged, damageErr = append(damaged, seq), err }
	addN(t, j, 0, 3)
	bodies := allBodies(t, j)
	h := len(header(t, path))
	bp := BodiesPath(path)
	data, _ := os.ReadFile(bp)
	off := h + len(bodies[0]) + 1 + 10 // inside the second body
	data[off] ^= 0x20
	if err := os.WriteFile(bp, data, 0o640); err != nil {
		t.Fatal(err)
	}
	got, err := j.BySeqRange(1, 3, 10)
	if err != nil || len(got) != 2 || !bytes.Equal(got[0], bodies[0]) || !bytes.Equal(got[1], bodies[2]) {
		t.Fatalf("range over a damaged body: %d bodies, %v; want the 2 undamaged", len(got), err)
	}
	wantErr := fmt.Sprintf("%s: body at offset %d (%d bytes) is damaged (CRC-32C mismatch)", bp, h+len(bodies[0])+1, len(bodies[1]))
	if len(damaged) != 1 || damaged[0] != 2 || !strings.Contains(damageErr.Error(), wantErr) || j.Damaged() != 1 {
		t.Fatalf("OnDamage got %v %v (count %d), want seq_id 2 and %q", damaged, damageErr, j.Damaged(), wantErr)
	}
	for name, q := range map[string]func() ([][]byte, error){
		"seq_ids": func() ([][]byte, error) { return j.BySeqIDs([]int64{1, 2, 3}, 10) },
		"msg_ids": func() ([][]byte, error) { return j.ByMsgIDs([]string{"2008-0", "2008-1", "2008-2"}, 10) },
		"time":    func() ([][]byte, error) { return j.ByTime(0, 10, 10) },
	} {
		if got, err := q(); err != nil || len(got) != 2 {
			t.Errorf("%s over a damaged body: %d bodies, %v; want 2", name, len(got), err)
		}
	}
	j.Close()

	if err := os.Truncate(bp, 100); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path)
	var me *MismatchError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), fmt.Sprintf("the bodies file has 100 bytes but the journal names %d", len(data))) {
		t.Fatalf("Open with a short bodies file: %v", err)
	}
	os.Remove(bp)
	if _, err = Open(path); !errors.As(err, &me) || !strings.Contains(err.Error(), "the bodies file is missing or empty") {
		t.Fatalf("Open without the bodies file: %v", err)
	}
}

// TestBodiesOfOldJournal: rows written before the bodies file keep their
// inline bodies and read back next to new rows, in seq_id order.
func TestBodiesOfOldJournal(t *testing.T) {
	path, db := oldJournal(t)
	var want [][]byte
	for s := 1; s <= 3; s++ {
		e := env(fmt.Sprint(s), int64(s))
		e.SeqID = int64(s)
		body, _ := e.Marshal()
		want = append(want, body)
		if _, err := db.Exec(`INSERT INTO envelopes VALUES (?, ?, ?, ?, ?, 1)`, s, e.MsgID, e.Topic, e.Timestamp, body); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	j := open(t, path)
	added := addN(t, j, 100, 2)
	for _, e := range added {
		c := *e
		b, _ := c.Marshal()
		want = append(want, b)
	}
	got := allBodies(t, j)
	if !bytes.Equal(bytes.Join(got, []byte("\n")), bytes.Join(want, []byte("\n"))) {
		t.Fatalf("bodies\n%s\nwant\n%s", bytes.Join(got, []byte("\n")), bytes.Join(want, []byte("\n")))
	}
	byID, err := j.ByMsgIDs([]string{added[1].MsgID, "2008-1"}, 10)
	if err != nil || len(byID) != 2 || !bytes.Equal(byID[0], want[0]) || !bytes.Equal(byID[1], want[4]) {
		t.Fatalf("ByMsgIDs over old and new rows: %d bodies, %v", len(byID), err)
	}
}

// TestBodiesLiveBackup: the backup order of docs/knownissues.md — the
// database first (a consistent SQLite copy), then the bodies file while a
// writer goes on — gives a journal whose every body reads back.
func TestBodiesLiveBackup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j.sqlite")
	j := open(t, path)
	addN(t, j, 0, 5)
	backup := filepath.Join(dir, "backup.sqlite")
	if _, err := j.db.Exec(`VACUUM INTO ?`, backup); err != nil {
		t.Fatal(err)
	}
	addN(t, j, 100, 5) // the writer goes on between the two copies
	data, err := os.ReadFile(BodiesPath(path))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(BodiesPath(backup), data, 0o640); err != nil {
		t.Fatal(err)
	}
	b := open(t, backup)
	got := allBodies(t, b)
	want := allBodies(t, j)[:5]
	if len(got) != 5 || !bytes.Equal(bytes.Join(got, nil), bytes.Join(want, nil)) {
		t.Fatalf("backup has %d bodies, want the first 5 of the journal", len(got))
	}
	addN(t, b, 200, 1) // and the restored copy takes new envelopes
	if n, _ := b.LastSeq(); n != 6 {
		t.Fatalf("restored copy: last seq %d, want 6", n)
	}
	allBodies(t, b) // all six read back, the new one past the cut tail
}
