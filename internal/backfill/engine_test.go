package backfill

import (
	"context"
	"slices"
	"testing"

	"github.com/debian/mailgw/internal/archive"
	"github.com/debian/mailgw/internal/engine"
)

// TestSharedEngine: a replay given an engine it does not own (as serve
// runs one) and an archive.Reader the caller opened journals and
// publishes every event once, through that engine, and leaves the engine
// running for its owner.
func TestSharedEngine(t *testing.T) {
	_, mails := testMails(t)
	p := newPublishSetup(t)
	f := writeArchive(t, t.TempDir(), "a.mbox", mails, 2*len(mails))
	want, _ := distinct(expectedMsgIDs(t, p.cfg, splitArchive(t, f)))
	e := engine.Start(context.Background(), engine.Options{Journal: p.j, Publisher: p.pub, Logger: p.options().Logger})
	defer e.Close()
	r, err := archive.Open(f, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	o := p.options()
	o.Engine, o.Publisher = e, nil
	s, err := RunArchives(context.Background(), o, []Archive{{Name: "upload", Reader: r, Path: f}})
	if err != nil {
		t.Fatal(err)
	}
	got, dup := distinct(msgIDs(p.pub.Envelopes()))
	if s.New != want || got != want || dup != "" || s.Files != 1 {
		t.Errorf("replay counted %d new, the bus got %d distinct (dup %q), want %d; %s", s.New, got, dup, want, s.String())
	}
	// The engine still takes jobs, and the checkpoint of Path is done.
	if err := e.Submit(context.Background(), engine.Live, &engine.Job{}); err != nil {
		t.Errorf("the shared engine was stopped by the replay: %v", err)
	}
	r2, err := archive.Open(f, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	s2, err := RunArchives(context.Background(), o, []Archive{{Name: "upload", Reader: r2, Path: f}})
	if err != nil || s2.Mails != 0 || s2.New != 0 {
		t.Errorf("second run over a done checkpoint: %v; %s", err, s2.String())
	}
	ids := msgIDs(p.pub.Envelopes())
	slices.Sort(ids)
	if len(slices.Compact(ids)) != want {
		t.Errorf("after the second run the bus has %d distinct msg_ids, want %d", len(ids), want)
	}
}
