package backfill

import (
	"context"
	"sync"
	"testing"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/journal"
)

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
