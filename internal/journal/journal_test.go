package journal

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"testing"

	"github.com/debian/mailgw/bus"
)

func env(id string, ts int64) *bus.Envelope {
	msg := map[string]any{"source": "bash", "version": "3.2-2", "text": "Jörg <x> & 🎉"}
	return bus.NewEnvelope("org.debian.dev.dak.package.upload", msg, "2008-"+id, ts, "mailgw")
}

func open(t testing.TB, path string) *Journal {
	t.Helper()
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func seqs(envs []*bus.Envelope) []int64 {
	out := make([]int64, len(envs))
	for i, e := range envs {
		out[i] = e.SeqID
	}
	return out
}

func TestAddSeqAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "journal.sqlite")
	j := open(t, path)
	a, b, c := env("a", 100), env("b", 200), env("c", 300)
	added, err := j.Add([]*bus.Envelope{a, b, env("a", 999), c})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(seqs(added)); got != "[1 2 3]" || added[2] != c {
		t.Fatalf("seqs %s, want [1 2 3] (the repeated a dropped)", got)
	}
	body, _ := j.BySeqRange(2, 2, 10)
	e, err := bus.ParseEnvelope(body[0])
	if err != nil || e.SeqID != 2 || e.MsgID != b.MsgID {
		t.Fatalf("stored body %s: %+v %v", body[0], e, err)
	}
	want, _ := b.Marshal()
	if string(body[0]) != string(want) {
		t.Errorf("stored body\n%s\nwant canonical\n%s", body[0], want)
	}
	j.Close()

	j = open(t, path)
	if n, _ := j.LastSeq(); n != 3 {
		t.Fatalf("LastSeq after reopen = %d", n)
	}
	d := env("d", 400)
	added, err = j.Add([]*bus.Envelope{env("b", 1), d})
	if err != nil || len(added) != 1 || added[0] != d || d.SeqID != 4 {
		t.Fatalf("after reopen: %v %v, d.SeqID=%d", seqs(added), err, d.SeqID)
	}
	if ok, _ := j.Has(b.MsgID); !ok {
		t.Error("Has(b) = false")
	}
	if ok, _ := j.Has("2008-zzz"); ok {
		t.Error("Has(unknown) = true")
	}
	if n, _ := j.Count(); n != 4 {
		t.Errorf("Count = %d", n)
	}
	if added, err := j.Add(nil); err != nil || added != nil {
		t.Errorf("Add(nil) = %v, %v", added, err)
	}
}

func TestAddAllOrNothing(t *testing.T) {
	j := open(t, filepath.Join(t.TempDir(), "j.sqlite"))
	good := env("good", 1)
	bad := env("bad", 1)
	bad.Msg["nan"] = math.NaN() // the canonical encoder refuses NaN
	if _, err := j.Add([]*bus.Envelope{good, bad}); err == nil {
		t.Fatal("Add with a NaN succeeded")
	}
	if good.SeqID != 0 {
		t.Errorf("SeqID set to %d by a failed Add", good.SeqID)
	}
	if n, _ := j.Count(); n != 0 {
		t.Errorf("failed Add stored %d rows", n)
	}
	if added, err := j.Add([]*bus.Envelope{good}); err != nil || good.SeqID != 1 || len(added) != 1 {
		t.Errorf("seq after a failed Add: %d, %v", good.SeqID, err)
	}
}

// TestConcurrentAdders: goroutines on two handles of the same file add
// overlapping envelopes; every msg_id is stored once and seq_ids are
// 1..N without gaps.
func TestConcurrentAdders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.sqlite")
	js := []*Journal{open(t, path), open(t, path)}
	const workers, batches, per = 8, 10, 5
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				var envs []*bus.Envelope
				for i := range per {
					// Workers w and w^1 share their ids.
					envs = append(envs, env(fmt.Sprintf("%d-%d-%d", w/2, b, i), 1))
				}
				if _, err := js[w%2].Add(envs); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	n, _ := js[0].Count()
	last, _ := js[1].LastSeq()
	if want := int64(workers / 2 * batches * per); n != want || last != want {
		t.Fatalf("count %d, last seq %d, want %d", n, last, want)
	}
	bodies, err := js[0].BySeqRange(1, last, int(last))
	if err != nil || int64(len(bodies)) != last {
		t.Fatalf("BySeqRange: %d bodies, %v", len(bodies), err)
	}
	for i, b := range bodies {
		e, _ := bus.ParseEnvelope(b)
		if e.SeqID != int64(i+1) {
			t.Fatalf("row %d has seq_id %d", i, e.SeqID)
		}
	}
}

func TestUnpublished(t *testing.T) {
	j := open(t, filepath.Join(t.TempDir(), "j.sqlite"))
	var envs []*bus.Envelope
	for i := range 5 {
		envs = append(envs, env(fmt.Sprint(i), int64(i)))
	}
	j.Add(envs)
	if err := j.MarkPublished(1, 3); err != nil {
		t.Fatal(err)
	}
	un, err := j.Unpublished(10)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, e := range un {
		got = append(got, e.SeqID)
		if e.Topic != "org.debian.dev.dak.package.upload" || e.MsgID != envs[e.SeqID-1].MsgID || len(e.Body) == 0 {
			t.Errorf("entry %+v", e)
		}
	}
	if fmt.Sprint(got) != "[2 4 5]" {
		t.Errorf("unpublished %v, want [2 4 5]", got)
	}
	if un, _ := j.Unpublished(1); len(un) != 1 || un[0].SeqID != 2 {
		t.Errorf("Unpublished(1) = %v", un)
	}
	j.MarkPublished(2, 4, 5)
	if un, _ := j.Unpublished(10); len(un) != 0 {
		t.Errorf("still unpublished: %v", un)
	}
	if err := j.MarkPublished(); err != nil {
		t.Error(err)
	}
}

func TestQueries(t *testing.T) {
	j := open(t, filepath.Join(t.TempDir(), "j.sqlite"))
	var envs []*bus.Envelope
	for i := range 10 {
		envs = append(envs, env(fmt.Sprint(i), int64(1000+i*10)))
	}
	j.Add(envs)
	seqOf := func(bodies [][]byte, err error) string {
		if err != nil {
			return err.Error()
		}
		var s []int64
		for _, b := range bodies {
			e, err := bus.ParseEnvelope(b)
			if err != nil {
				return err.Error()
			}
			s = append(s, e.SeqID)
		}
		return fmt.Sprint(s)
	}
	cases := []struct {
		name string
		got  string
		want string
	}{
		{"range", seqOf(j.BySeqRange(3, 5, 10)), "[3 4 5]"},
		{"range past end", seqOf(j.BySeqRange(9, 50, 10)), "[9 10]"},
		{"range empty", seqOf(j.BySeqRange(20, 30, 10)), "[]"},
		{"range at limit", seqOf(j.BySeqRange(1, 3, 3)), "[1 2 3]"},
		{"seq ids unordered", seqOf(j.BySeqIDs([]int64{7, 2, 99, 2}, 10)), "[2 7]"},
		{"msg ids", seqOf(j.ByMsgIDs([]string{envs[8].MsgID, "nope", envs[0].MsgID}, 10)), "[1 9]"},
		{"time", seqOf(j.ByTime(1020, 1045, 10)), "[3 4 5]"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, c.got, c.want)
		}
	}
	for name, err := range map[string]error{
		"range": second(j.BySeqRange(1, 10, 9)),
		"ids":   second(j.BySeqIDs([]int64{1, 2, 3}, 2)),
		"msgs":  second(j.ByMsgIDs([]string{envs[0].MsgID, envs[1].MsgID}, 1)),
		"time":  second(j.ByTime(0, 5000, 0)),
	} {
		var tm *TooManyError
		if !errors.Is(err, ErrTooMany) || !errors.As(err, &tm) {
			t.Errorf("%s: err %v, want ErrTooMany", name, err)
		}
	}
	// More ids than one IN list holds.
	ids := make([]int64, 0, 1200)
	for i := range 1200 {
		ids = append(ids, int64(1200-i))
	}
	if got := seqOf(j.BySeqIDs(ids, 100)); got != "[1 2 3 4 5 6 7 8 9 10]" {
		t.Errorf("1200 ids: %s", got)
	}
}

func second(_ [][]byte, err error) error { return err }

// BenchmarkJournalAdd measures journaled envelopes per second when Add
// gets batches of 100 (the pipeline's group commit) and of 1.
func BenchmarkJournalAdd(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch%d", batch), func(b *testing.B) {
			j := open(b, filepath.Join(b.TempDir(), "j.sqlite"))
			n := 0
			for b.Loop() {
				envs := make([]*bus.Envelope, batch)
				for i := range envs {
					envs[i] = env(fmt.Sprint(n), int64(n))
					n++
				}
				if _, err := j.Add(envs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "envelopes/s")
		})
	}
}
