package backfill

import (
	"context"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/spool"
)

// TestSpoolMode delivers the mails with new events into the spool; once
// serve's pipeline has journaled them, a second replay spools nothing.
func TestSpoolMode(t *testing.T) {
	_, mails := testMails(t)
	p := newPublishSetup(t)
	sp := p.spool(t)
	f := writeArchive(t, t.TempDir(), "a.mbox", mails, len(mails))
	o := p.options()
	o.Mode, o.Spool, o.Publisher = ModeSpool, sp, nil
	s1 := run(t, o, f)
	pending, _ := sp.Pending()
	if s1.Spooled == 0 || len(pending) != s1.Spooled || s1.Spooled+s1.Quarantined != s1.Mails {
		t.Fatalf("spooled %d files, summary %s", len(pending), s1.String())
	}
	// Journal the events as serve would.
	var envs []*bus.Envelope
	o.Observe = func(env *bus.Envelope, added bool) { envs = append(envs, env) }
	o.Mode, o.Restart = ModeDryRun, true
	run(t, o, f)
	if _, err := p.j.Add(envs); err != nil {
		t.Fatal(err)
	}
	o.Mode, o.Observe = ModeSpool, nil
	s2 := run(t, o, f)
	if s2.Spooled != 0 || s2.Duplicates != s2.Events {
		t.Errorf("second run: %s", s2.String())
	}
}

// TestSpoolBackpressure: in spool mode the replay waits while serve has
// SpoolMax mails or more to process.
func TestSpoolBackpressure(t *testing.T) {
	_, mails := testMails(t)
	p := newPublishSetup(t)
	sp := p.spool(t)
	f := writeArchive(t, t.TempDir(), "a.mbox", mails, len(mails))
	o := p.options()
	o.Mode, o.Spool, o.Publisher, o.Journal = ModeSpool, sp, nil, nil
	o.SpoolMax, o.BatchSize = 10, 4
	type result struct {
		s   Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := Run(context.Background(), o, []string{f})
		done <- result{s, err}
	}()
	// Play serve: once the spool is full, take mails off it.
	maxPending, drained, reachedMax := 0, 0, false
	for {
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatal(r.err)
			}
			if !reachedMax || r.s.Spooled == 0 {
				t.Errorf("spool never reached %d pending; %s", o.SpoolMax, r.s.String())
			}
			if maxPending > o.SpoolMax-1+o.BatchSize {
				t.Errorf("%d mails pending at once, want at most %d", maxPending, o.SpoolMax-1+o.BatchSize)
			}
			if rest, _ := sp.Pending(); drained+len(rest) != r.s.Spooled {
				t.Errorf("drained %d + %d left, spooled %d", drained, len(rest), r.s.Spooled)
			}
			return
		default:
		}
		pending, _ := sp.Pending()
		maxPending = max(maxPending, len(pending))
		if len(pending) >= o.SpoolMax {
			reachedMax = true
		}
		if reachedMax {
			for _, n := range pending {
				sp.Done(n)
				drained++
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// spool creates and opens the setup's spool (as serve's first start does).
func (p *publishSetup) spool(t *testing.T) *spool.Spool {
	t.Helper()
	if err := spool.Create(p.cfg.SpoolDir); err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(p.cfg.SpoolDir, 0)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}
