package backfill

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/debian/mailgw/internal/archive/archivetest"
)

// TestDupGate: lookups for every envelope during the warm-up and while
// duplicates are frequent, one in dupGateSample while they are rare, and
// back to every envelope once duplicates come again.
func TestDupGate(t *testing.T) {
	var g dupGate
	ask := func(n int, dup bool) (asked int) {
		for range n {
			if g.want() {
				asked++
				g.record(dup)
			}
		}
		return asked
	}
	if got := ask(dupGateWarmup, false); got != dupGateWarmup {
		t.Fatalf("warm-up: %d lookups for %d envelopes", got, dupGateWarmup)
	}
	want := (dupGateWarmup+8000)/dupGateSample - dupGateWarmup/dupGateSample
	if got := ask(8000, false); got != want {
		t.Fatalf("no duplicates: %d lookups for 8000 envelopes, want %d", got, want)
	}
	ask(2000, true) // an archive replayed again starts
	if got := ask(1000, true); got != 1000 {
		t.Fatalf("all duplicates: %d lookups for 1000 envelopes", got)
	}
}

// TestReplayNewThenOld replays an archive, then one with fresh mails first
// (so that the dupGate stops looking up every envelope) followed by the
// first archive's mails: every event is published exactly once, and the
// second run counts the first archive's events as duplicates.
func TestReplayNewThenOld(t *testing.T) {
	_, mails := testMails(t)
	p := newPublishSetup(t)
	dir := t.TempDir()
	var old, fresh bytes.Buffer
	if err := archivetest.Generate(&old, mails, 2*len(mails), 1); err != nil {
		t.Fatal(err)
	}
	if err := archivetest.Generate(&fresh, mails, 6*len(mails), 2); err != nil {
		t.Fatal(err)
	}
	f1 := filepath.Join(dir, "old.mbox")
	f2 := filepath.Join(dir, "mixed.mbox")
	if err := os.WriteFile(f1, old.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// The fresh archive's first copies are the corpus mails themselves,
	// journaled by the first run too: skip them.
	freshOnly := splitArchive(t, writeFile(t, dir, "fresh.mbox", fresh.Bytes()))[len(mails):]
	var mixed bytes.Buffer
	if err := archivetest.Generate(&mixed, freshOnly, len(freshOnly), 1); err != nil {
		t.Fatal(err)
	}
	mixed.Write(old.Bytes())
	if err := os.WriteFile(f2, mixed.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	s1 := run(t, p.options(), f1)
	o := p.options()
	o.BatchSize = 64
	s2 := run(t, o, f2)
	ids := msgIDs(p.pub.Envelopes())
	n, dup := distinct(ids)
	if dup != "" || n != len(ids) {
		t.Fatalf("msg_id %s published twice (%d published, %d distinct)", dup, len(ids), n)
	}
	want := expectedMsgIDs(t, p.cfg, append(splitArchive(t, f1), freshOnly...))
	if w, _ := distinct(want); w != n {
		t.Errorf("published %d distinct msg_ids, want %d", n, w)
	}
	if s2.Duplicates != s1.Events || s2.New != n-s1.New || s2.New+s2.Duplicates != s2.Events {
		t.Errorf("first run %s; second run %s; want %d duplicates", s1.String(), s2.String(), s1.Events)
	}
	if s2.New < 2*dupGateWarmup {
		t.Fatalf("only %d fresh events: the gate never left its warm-up", s2.New)
	}
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
