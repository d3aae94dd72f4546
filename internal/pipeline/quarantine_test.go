package pipeline

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/parsers"
)

// TestQuarantineKinds: every way a spooled mail ends in quarantine gives
// the Result its QuarantineKind where the reason is decided, OnMail sees
// it, and the mail's log line carries it as kind=; every kind of
// QuarantineKinds is reached.
func TestQuarantineKinds(t *testing.T) {
	corpus := func(name string) []byte { return pick(t, name)[0] }
	untrusted := func(o *Options) {
		c := *o.Config
		c.Trust.Debbugs = config.Policy{Relays: []string{"192.0.2.25"}, Action: config.ActionQuarantine}
		o.Config = &c
	}
	cases := []struct {
		kind QuarantineKind
		raw  []byte
		opts func(*Options)
		// spool writes the entry itself (new/NAME) instead of Deliver.
		spool func(t *testing.T, newDir string) string
		max   int64
	}{
		{kind: QuarantineLoop, raw: corpus("303-loop-marker")},
		{kind: QuarantineDSN, raw: corpus("300-dsn-postfix")},
		{kind: QuarantineAutoReply, raw: corpus("301-auto-reply")},
		{kind: QuarantineNoRule, raw: corpus("024-dsa-1553")},
		{kind: QuarantineParser, raw: corpus("240-pts-invalid-package")},
		{kind: QuarantineParser, raw: corpus("009-bash"), opts: func(o *Options) { o.Classifier = parsers.NewClassifier(panicParser{}) }},
		{kind: QuarantineUnreadable, raw: corpus("315-no-header")},
		{kind: QuarantineUntrusted, raw: corpus("117-done-1000974"), opts: untrusted},
		{kind: QuarantineEnvelope, raw: corpus("009-bash"), opts: func(o *Options) { o.Classifier = parsers.NewClassifier(nanParser{}) }},
		{kind: QuarantineTooBig, raw: corpus("009-bash"), max: 100},
		{kind: QuarantineBadEntry, spool: func(t *testing.T, newDir string) string {
			name := "1.M1P1Q1R1.host"
			if err := os.Symlink("/etc/passwd", filepath.Join(newDir, name)); err != nil {
				t.Fatal(err)
			}
			return name
		}},
	}
	reached := map[QuarantineKind]bool{}
	for i, c := range cases {
		r := newRig(t)
		opts := r.opts
		r.sp.MaxMessageBytes = c.max
		if c.opts != nil {
			c.opts(&opts)
		}
		var got *Result
		opts.OnMail = func(_ string, res *Result) { got = res }
		p := New(opts)
		var name string
		if c.spool != nil {
			name = c.spool(t, filepath.Join(r.sp.Dir(), "new"))
		} else {
			var err error
			if name, err = r.sp.Deliver(bytes.NewReader(c.raw), 0); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.ProcessSpooled(context.Background(), name); err != nil {
			t.Fatalf("case %d (%s): %v", i, c.kind, err)
		}
		if got == nil || got.Outcome() != OutcomeQuarantined || got.QuarantineKind != c.kind || got.Quarantine == "" {
			t.Errorf("case %d: OnMail saw %+v, want kind %q", i, got, c.kind)
			continue
		}
		if log := r.log.String(); !strings.Contains(log, "outcome=quarantined") || !strings.Contains(log, " kind="+string(c.kind)+"\n") {
			t.Errorf("case %d: log line lacks kind=%s:\n%s", i, c.kind, log)
		}
		reached[c.kind] = true
	}
	for _, k := range QuarantineKinds {
		if !reached[k] {
			t.Errorf("no case reaches kind %q", k)
		}
	}
}
