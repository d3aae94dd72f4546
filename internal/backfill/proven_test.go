package backfill

import (
	"testing"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/parsers"
)

// TestReplayProvenAndUnproven: the corpus replayed with --trust-archive,
// then without, publishes nothing the second time: an unproven copy of a
// happening a proven mail announced is a duplicate. The other way round,
// the trusted replay publishes each happening's event once more, proven
// (a happening has at most one proven and one unproven event), and a
// third replay, of either kind, publishes nothing.
func TestReplayProvenAndUnproven(t *testing.T) {
	_, mails := testMails(t)
	f := writeArchive(t, t.TempDir(), "a.mbox", mails, len(mails))
	for _, provenFirst := range []bool{true, false} {
		p := newPublishSetup(t)
		o := p.options()
		o.Restart = true
		var proven, happenings int
		o.Observe = func(env *bus.Envelope, added bool) {
			if added && env.Proven {
				proven++
			}
			if env.Proven || env.ProvenMsgID != "" {
				happenings++
			}
		}
		o.TrustArchive = provenFirst
		s1 := run(t, o, f)
		o.TrustArchive = !provenFirst
		happenings = 0
		s2 := run(t, o, f)
		if s1.New != s1.Events || s1.Events < 100 || s2.Events != s1.Events || happenings < 50 {
			t.Fatalf("first replay: %s; %d events with a happening", s1.String(), happenings)
		}
		if provenFirst && s2.New != 0 {
			t.Errorf("unproven replay after a proven one: %d new, want 0", s2.New)
		}
		if !provenFirst && (s2.New != happenings || proven != happenings) {
			t.Errorf("proven replay after an unproven one: %d new, %d of them proven; want the %d events with a happening", s2.New, proven, happenings)
		}
		for _, trust := range []bool{true, false} {
			o.TrustArchive = trust
			if s := run(t, o, f); s.New != 0 {
				t.Errorf("proven first %v, then replayed with trust %v: %d new", provenFirst, trust, s.New)
			}
		}
	}
}

// TestSpoolModeProven: replay's pre-check in spool mode follows the
// journal's rule for the decision serve will make. Proven rows make
// every unproven copy a duplicate; over unproven rows, a --trust-archive
// replay spools the mails with a happening (serve publishes their proven
// events) and an unproven one spools nothing; and when serve may prove a
// mail by DKIM, which the replay does not check, the mail counts as
// proven, so it is spooled rather than wrongly left out.
func TestSpoolModeProven(t *testing.T) {
	_, mails := testMails(t)
	f := writeArchive(t, t.TempDir(), "a.mbox", mails, len(mails))
	journaled := func(t *testing.T, p *publishSetup, trust bool) {
		o := p.options()
		o.TrustArchive = trust
		if s := run(t, o, f); s.New != s.Events {
			t.Fatal(s.String())
		}
	}
	// spooled replays f in spool mode and returns the mails it spooled,
	// taking them off the spool.
	spooled := func(t *testing.T, p *publishSetup, trust bool) [][]byte {
		sp := p.spool(t)
		o := p.options()
		o.Mode, o.Spool, o.Publisher, o.Restart, o.TrustArchive = ModeSpool, sp, nil, true, trust
		s := run(t, o, f)
		pending, _ := sp.Pending()
		var raws [][]byte
		for _, name := range pending {
			raw, err := sp.Read(name)
			if err != nil {
				t.Fatal(err)
			}
			raws = append(raws, raw)
			sp.Done(name)
		}
		if len(raws) != s.Spooled {
			t.Fatalf("%d mails in the spool, %s", len(raws), s.String())
		}
		return raws
	}
	t.Run("proven rows", func(t *testing.T) {
		p := newPublishSetup(t)
		journaled(t, p, true)
		if n := len(spooled(t, p, false)); n != 0 {
			t.Errorf("%d mails spooled", n)
		}
	})
	t.Run("unproven rows", func(t *testing.T) {
		p := newPublishSetup(t)
		journaled(t, p, false)
		if n := len(spooled(t, p, false)); n != 0 {
			t.Errorf("unproven: %d mails spooled", n)
		}
		want := 0
		for _, raw := range mails {
			if happening(t, p, raw) {
				want++
			}
		}
		if n := len(spooled(t, p, true)); n != want || n < 50 {
			t.Errorf("--trust-archive: %d mails spooled, want the %d with a happening", n, want)
		}
	})
	t.Run("unproven rows, DKIM policy", func(t *testing.T) {
		p := newPublishSetup(t)
		journaled(t, p, false)
		p.cfg.Trust.Dak.DKIMDomains = []string{"ftp-master.debian.org"}
		raws := spooled(t, p, false)
		if len(raws) == 0 {
			t.Fatal("no mail spooled")
		}
		c := newClassifier(p.cfg)
		for _, raw := range raws {
			m, err := parsers.ReadMessage(raw)
			if err != nil {
				t.Fatal(err)
			}
			evs, _ := c.Classify(m)
			if !m.Header.Has("DKIM-Signature") || len(evs) == 0 || evs[0].Service != "dak" || !happening(t, p, raw) {
				t.Errorf("spooled a mail serve cannot prove by DKIM, or without a happening: %s", m.Subject)
			}
		}
		p.cfg.Trust.DKIM = false
		if n := len(spooled(t, p, false)); n != 0 {
			t.Errorf("with DKIM checking off: %d mails spooled", n)
		}
	})
}

// happening reports whether an event of raw has a happening.
func happening(t *testing.T, p *publishSetup, raw []byte) bool {
	for _, env := range buildAll(p.cfg, [][]byte{raw}) {
		if env.ProvenMsgID != "" {
			return true
		}
	}
	return false
}
