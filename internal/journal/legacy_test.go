package journal

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/debian/mailgw/bus"
)

// happeningEnv is env with msg_id "2008-new-<id>" and LegacyMsgID
// "2008-<id>", as Build makes for an event identified by its happening.
func happeningEnv(id string) *bus.Envelope {
	e := env("new-"+id, 0)
	e.LegacyMsgID = "2008-" + id
	return e
}

// TestLegacyMsgIDs: in a journal with rows from before happenings (made
// here as such a journal is: rows, no legacy table), an envelope whose
// LegacyMsgID is journaled is a duplicate for Add and Seen, whatever
// its msg_id, in a batch of its own or among new ones; in a journal that
// mailgw created, the legacy msg_id is not looked up at all.
func TestLegacyMsgIDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.sqlite")
	j := open(t, path)
	if j.legacyUntil != 0 {
		t.Fatalf("a new journal has legacy rows up to %d", j.legacyUntil)
	}
	addN(t, j, 0, 3) // msg_ids 2008-0 … 2008-2, from before happenings
	fresh, err := j.Add([]*bus.Envelope{happeningEnv("0")})
	if err != nil || len(fresh) != 1 {
		t.Fatalf("a journal mailgw created looked a legacy msg_id up: %d added, %v", len(fresh), err)
	}
	if _, err := j.db.Exec(`DROP TABLE legacy`); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j = open(t, path)
	if j.legacyUntil != 4 {
		t.Fatalf("legacy rows up to %d, want 4", j.legacyUntil)
	}
	for _, id := range []string{"1", "2"} {
		if seen, err := j.Seen(happeningEnv(id)); !seen || err != nil {
			t.Errorf("Seen(%s) = %v, %v", id, seen, err)
		}
	}
	if seen, err := j.Seen(happeningEnv("9")); seen || err != nil {
		t.Errorf("Seen of a new happening = %v, %v", seen, err)
	}
	added, err := j.Add([]*bus.Envelope{happeningEnv("1"), happeningEnv("9"), happeningEnv("2"), happeningEnv("9")})
	if err != nil || len(added) != 1 || added[0].MsgID != "2008-new-9" || added[0].SeqID != 5 {
		t.Fatalf("Add: %v, %v; want only 2008-new-9 as seq 5", added, err)
	}
	// The mark survives reopening: rows added since are not legacy.
	j.Close()
	j = open(t, path)
	if j.legacyUntil != 4 {
		t.Errorf("legacy rows up to %d after reopening, want 4", j.legacyUntil)
	}
}

// BenchmarkAddLegacy measures Add (batches of 256, 3 KiB bodies, as
// BenchmarkJournalAddMark) of envelopes that carry a LegacyMsgID, into a
// journal that mailgw created (no lookup: "new") and into one with
// 10,000 rows from before happenings (one lookup more per envelope:
// "old"); the difference is the cost of the legacy lookup.
func BenchmarkAddLegacy(b *testing.B) {
	for _, old := range []bool{false, true} {
		b.Run(map[bool]string{false: "new", true: "old"}[old], func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "j.sqlite")
			j := open(b, path)
			addN(b, j, 0, 10000)
			if old {
				if _, err := j.db.Exec(`DROP TABLE legacy`); err != nil {
					b.Fatal(err)
				}
				j.Close()
				j = open(b, path)
			}
			n := 0
			for b.Loop() {
				envs := uploadBatch(&n, "2008-new-%d")
				for _, e := range envs {
					e.LegacyMsgID = "2008-legacy-" + e.MsgID[len("2008-new-"):]
				}
				added, err := j.Add(envs)
				if err != nil || len(added) != len(envs) {
					b.Fatal(len(added), err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "envelopes/s")
		})
	}
}

// BenchmarkSeenLegacy measures Seen of envelopes that are not journaled
// (what a replay's dup gate asks), in a journal of 10,000 rows that
// mailgw created (one lookup: "new") and in one from before happenings
// (the legacy msg_id looked up too: "old"): the difference is the cost of
// one legacy lookup, without the fsyncs that dominate Add.
func BenchmarkSeenLegacy(b *testing.B) {
	for _, old := range []bool{false, true} {
		b.Run(map[bool]string{false: "new", true: "old"}[old], func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "j.sqlite")
			j := open(b, path)
			addN(b, j, 0, 10000)
			if old {
				if _, err := j.db.Exec(`DROP TABLE legacy`); err != nil {
					b.Fatal(err)
				}
				j.Close()
				j = open(b, path)
			}
			n := 0
			for b.Loop() {
				if seen, err := j.Seen(happeningEnv(strconv.Itoa(20000 + n%10000))); seen || err != nil {
					b.Fatal(seen, err)
				}
				n++
			}
		})
	}
}
