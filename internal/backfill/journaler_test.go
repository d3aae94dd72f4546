package backfill

import (
	"context"
	"sync"
	"testing"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/journal"
)

// TestCoalesce merges queued batches up to the limit, keeping the last
// merged batch's checkpoint position, and never waits for more.
func TestCoalesce(t *testing.T) {
	mk := func(n, index int) journalBatch {
		b := journalBatch{index: index, offset: int64(100 * index)}
		for i := range n {
			b.items = append(b.items, &item{seq: index*10 + i})
		}
		return b
	}
	in := make(chan journalBatch, 4)
	in <- mk(3, 2)
	in <- mk(3, 3)
	in <- mk(3, 4)
	b := coalesce(mk(3, 1), in, 7)
	if len(b.items) != 9 || b.index != 3 || b.offset != 300 || b.items[3].seq != 20 {
		t.Errorf("merged %d items up to mail %d (offset %d), want 9 up to 3 (300)", len(b.items), b.index, b.offset)
	}
	b = coalesce(b, in, 100) // one left, then nothing queued: no wait
	if len(b.items) != 12 || b.index != 4 || len(in) != 0 {
		t.Errorf("second merge: %d items, index %d, %d left", len(b.items), b.index, len(in))
	}
	close(in)
	if b = coalesce(mk(1, 5), in, 100); len(b.items) != 1 || b.index != 5 {
		t.Errorf("closed channel: %d items, index %d", len(b.items), b.index)
	}
}

// TestJournalFailure closes the journal under a running replay: Run
// fails, and the checkpoint covers only journaled mails, so the next run
// journals every event of the archive and leaves none unpublished.
func TestJournalFailure(t *testing.T) {
	_, mails := testMails(t)
	p := newPublishSetup(t)
	f := writeArchive(t, t.TempDir(), "a.mbox", mails, 3*len(mails))
	want, _ := distinct(expectedMsgIDs(t, p.cfg, splitArchive(t, f)))

	j2, err := journal.Open(p.cfg.Journal)
	if err != nil {
		t.Fatal(err)
	}
	o := p.options()
	o.Journal = j2
	var once sync.Once
	n := 0
	o.Observe = func(*bus.Envelope, bool) {
		if n++; n > want/3 {
			once.Do(func() { j2.Close() })
		}
	}
	s1, err := Run(context.Background(), o, []string{f})
	if err == nil {
		t.Fatalf("Run on a closed journal succeeded: %s", s1.String())
	}
	if s1.New == 0 || s1.New >= want {
		t.Fatalf("first run journaled %d of %d", s1.New, want)
	}
	o.Journal, o.Observe = p.j, nil
	s2 := run(t, o, f)
	if s2.Resumed == 0 {
		t.Errorf("second run resumed nothing: %s", s2.String())
	}
	if count, _ := p.j.Count(); count != int64(want) {
		t.Errorf("journal has %d envelopes, want %d (first run %d, second %d)", count, want, s1.New, s2.New)
	}
	if got, _ := distinct(msgIDs(p.pub.Envelopes())); got != want {
		t.Errorf("published %d distinct msg_ids, want %d", got, want)
	}
	if left, _ := p.j.Unpublished(10); len(left) != 0 {
		t.Errorf("%d envelopes left unpublished", len(left))
	}
}
