package journal

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/debian/mailgw/bus"
)

// provenEnv is the envelope of happening id as a proven mail's event
// makes it: msg_id "2008-proven-<id>", Proven.
func provenEnv(id string) *bus.Envelope {
	e := env("proven-"+id, 0)
	e.Proven = true
	return e
}

// unprovenEnv is the envelope of happening id as an unproven mail's
// event makes it: msg_id "2008-h-<id>", ProvenMsgID "2008-proven-<id>".
func unprovenEnv(id string) *bus.Envelope {
	e := env("h-"+id, 0)
	e.ProvenMsgID = "2008-proven-" + id
	return e
}

// msgIDs lists the msg_ids of envs.
func msgIDs(envs []*bus.Envelope) string {
	ids := make([]string, len(envs))
	for i, e := range envs {
		ids[i] = e.MsgID
	}
	return strings.Join(ids, " ")
}

// add journals envs and checks that exactly the msg_ids want were added.
func addWant(t *testing.T, j *Journal, want string, envs ...*bus.Envelope) {
	t.Helper()
	added, err := j.Add(envs)
	if err != nil {
		t.Fatal(err)
	}
	if got := msgIDs(added); got != want {
		t.Errorf("Add(%s) added %q, want %q", msgIDs(envs), got, want)
	}
}

func provenCount(t *testing.T, j *Journal) int64 {
	t.Helper()
	var n int64
	if err := j.db.QueryRow(provenQuery).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if j.proven.Load() != n {
		t.Errorf("the count this process saw is %d, the journal's %d", j.proven.Load(), n)
	}
	return n
}

// TestProvenDedup: for one happening the journal takes at most one
// proven and one unproven envelope. An unproven copy journaled first
// does not keep the proven one out; one coming after the proven one is
// a duplicate. In separate batches and within one, in either order.
func TestProvenDedup(t *testing.T) {
	for _, c := range []struct {
		name  string
		steps [][]*bus.Envelope
		want  []string // added per step
	}{
		{"unproven first, separate batches",
			[][]*bus.Envelope{{unprovenEnv("a")}, {provenEnv("a")}, {unprovenEnv("a"), provenEnv("a")}},
			[]string{"2008-h-a", "2008-proven-a", ""}},
		{"proven first, separate batches",
			[][]*bus.Envelope{{provenEnv("a")}, {unprovenEnv("a")}, {provenEnv("a")}},
			[]string{"2008-proven-a", "", ""}},
		{"unproven first, one batch",
			[][]*bus.Envelope{{unprovenEnv("a"), provenEnv("a"), unprovenEnv("a")}},
			[]string{"2008-h-a 2008-proven-a"}},
		{"proven first, one batch",
			[][]*bus.Envelope{{provenEnv("a"), unprovenEnv("a"), provenEnv("a")}},
			[]string{"2008-proven-a"}},
		{"other happenings stay apart",
			[][]*bus.Envelope{{provenEnv("a"), unprovenEnv("b")}, {unprovenEnv("c"), provenEnv("b"), unprovenEnv("a")}},
			[]string{"2008-proven-a 2008-h-b", "2008-h-c 2008-proven-b"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			j := open(t, filepath.Join(t.TempDir(), "j.sqlite"))
			var proven int64
			for i, envs := range c.steps {
				addWant(t, j, c.want[i], envs...)
				proven += int64(strings.Count(c.want[i], "proven"))
				if n := provenCount(t, j); n != proven {
					t.Errorf("step %d: %d proven envelopes counted, want %d", i, n, proven)
				}
			}
			for _, id := range []string{"a", "b"} {
				has, _ := j.Has("2008-proven-" + id)
				seen, err := j.Seen(unprovenEnv(id))
				if err != nil || seen != has {
					t.Errorf("Seen(unproven %s) = %v, %v; proven journaled: %v", id, seen, err, has)
				}
			}
			if seen, err := j.Seen(provenEnv("c")); seen || err != nil {
				t.Errorf("Seen(proven c) = %v, %v: an unproven copy made it a duplicate", seen, err)
			}
		})
	}
}

// countKeys makes msgKey count the lookups of msg_ids with prefix until
// the test ends.
func countKeys(t *testing.T, prefix string) *atomic.Int64 {
	var n atomic.Int64
	f := msgKey
	t.Cleanup(func() { msgKey = f })
	msgKey = func(id string) int64 {
		if strings.HasPrefix(id, prefix) {
			n.Add(1)
		}
		return f(id)
	}
	return &n
}

// TestProvenCountGates: while the journal counts no proven envelope,
// neither Add nor Seen looks a ProvenMsgID up: a row journaled under it
// (here, by hand, an unproven envelope's) does not make the envelope a
// duplicate and no key of it is computed. The first proven envelope
// turns the lookup on, and the count survives reopening.
func TestProvenCountGates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.sqlite")
	j := open(t, path)
	lookups := countKeys(t, "2008-proven-")
	// Not Proven: the count stays 0, though its msg_id is a's ProvenMsgID.
	addWant(t, j, "2008-proven-a", env("proven-a", 0))
	addWant(t, j, "2008-h-a", unprovenEnv("a"))
	if seen, err := j.Seen(env("h-x", 0)); seen || err != nil {
		t.Fatal(seen, err)
	}
	if seen, err := j.Seen(unprovenEnv("a")); !seen || err != nil { // its own msg_id
		t.Fatal(seen, err)
	}
	x := unprovenEnv("x")
	x.ProvenMsgID = "2008-proven-a"
	if seen, err := j.Seen(x); seen || err != nil {
		t.Errorf("Seen with no proven envelope counted = %v, %v", seen, err)
	}
	if n := lookups.Load(); n != 1 { // the row added by hand
		t.Errorf("%d lookups of proven msg_ids while none is counted, want 1 (the row's own insert)", n)
	}
	if n := provenCount(t, j); n != 0 {
		t.Fatalf("proven count %d", n)
	}
	addWant(t, j, "2008-proven-b", provenEnv("b"))
	addWant(t, j, "", provenEnv("b")) // a duplicate counts nothing
	if n := provenCount(t, j); n != 1 {
		t.Fatalf("proven count %d, want 1", n)
	}
	j.Close()
	j = open(t, path)
	if n := provenCount(t, j); n != 1 {
		t.Fatalf("proven count %d after reopening, want 1", n)
	}
	if seen, err := j.Seen(unprovenEnv("b")); !seen || err != nil {
		t.Errorf("Seen(unproven b) after reopening = %v, %v", seen, err)
	}
	x = unprovenEnv("y")
	x.ProvenMsgID = "2008-proven-a"
	addWant(t, j, "", x, unprovenEnv("b"))
}

// TestProvenOtherProcess: the count is read inside Add's transaction, so
// a journal opened before another process journaled the first proven
// envelope drops an unproven copy all the same; its Seen, which uses the
// count it saw last, catches up with that Add.
func TestProvenOtherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.sqlite")
	serve, replay := open(t, path), open(t, path)
	addWant(t, replay, "2008-proven-a", provenEnv("a"))
	if seen, err := serve.Seen(unprovenEnv("a")); seen || err != nil {
		t.Errorf("Seen before any Add of this process = %v, %v (it has not looked at the count since Open)", seen, err)
	}
	addWant(t, serve, "2008-h-b", unprovenEnv("a"), unprovenEnv("b"))
	if seen, err := serve.Seen(unprovenEnv("a")); !seen || err != nil {
		t.Errorf("Seen after an Add = %v, %v", seen, err)
	}
}

// TestProvenOldJournal: a journal from before proven msg_ids (no proven
// table) gets one, counting 0, and its rows from before happenings still
// make duplicates of proven and unproven envelopes alike, through their
// LegacyMsgID.
func TestProvenOldJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.sqlite")
	j := open(t, path)
	addN(t, j, 0, 3) // msg_ids 2008-0 … 2008-2
	if _, err := j.db.Exec(`DROP TABLE proven; DROP TABLE legacy`); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j = open(t, path)
	if n := provenCount(t, j); n != 0 || j.legacyUntil != 3 {
		t.Fatalf("proven count %d, legacy rows to %d", n, j.legacyUntil)
	}
	p, u := provenEnv("0"), unprovenEnv("1")
	p.LegacyMsgID, u.LegacyMsgID = "2008-0", "2008-1"
	q := provenEnv("5")
	q.LegacyMsgID = "2008-5"
	addWant(t, j, "2008-proven-5", p, u, q)
	if n := provenCount(t, j); n != 1 {
		t.Errorf("proven count %d, want 1", n)
	}
}

// BenchmarkAddProven measures Add (batches of 256, 3 KiB bodies, as
// BenchmarkJournalAddMark) of unproven envelopes that carry a
// ProvenMsgID into a journal of 10,000 rows counting no proven envelope
// (no lookup: "none"), and one that counts one (a lookup more per
// envelope: "some"); "plain" journals envelopes without a ProvenMsgID, a
// gateway's before proven msg_ids.
func BenchmarkAddProven(b *testing.B) {
	for _, kind := range []string{"plain", "none", "some"} {
		b.Run(kind, func(b *testing.B) {
			j := benchJournal(b, kind)
			n := 0
			for b.Loop() {
				envs := uploadBatch(&n, "2008-h-%d")
				if kind != "plain" {
					for _, e := range envs {
						e.ProvenMsgID = "2008-proven-" + e.MsgID[len("2008-h-"):]
					}
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

// BenchmarkSeenProven measures Seen of unproven envelopes that are not
// journaled (what a replay's dup gate asks) in the journals of
// BenchmarkAddProven: the difference between "none" and "some" is one
// lookup of a ProvenMsgID, without the fsyncs that dominate Add.
func BenchmarkSeenProven(b *testing.B) {
	for _, kind := range []string{"none", "some"} {
		b.Run(kind, func(b *testing.B) {
			j := benchJournal(b, kind)
			n := 0
			for b.Loop() {
				if seen, err := j.Seen(unprovenEnv(fmt.Sprint(20000 + n%10000))); seen || err != nil {
					b.Fatal(seen, err)
				}
				n++
			}
		})
	}
}

// benchJournal is a journal of 10,000 rows that counts one proven
// envelope when kind is "some", none otherwise.
func benchJournal(b *testing.B, kind string) *Journal {
	j := open(b, filepath.Join(b.TempDir(), "j.sqlite"))
	addN(b, j, 0, 10000)
	if kind == "some" {
		if _, err := j.Add([]*bus.Envelope{provenEnv("x")}); err != nil {
			b.Fatal(err)
		}
	}
	return j
}
