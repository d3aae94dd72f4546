package backfill

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"net/textproto"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/pipeline"
	"github.com/debian/mailgw/parsers"
)

// worker classifies and builds (and in ModePublish signs) one mail; it is
// shared by the worker goroutines; its only mutable state is the
// (locked) dupGate.
type worker struct {
	o    *Options
	gate dupGate // ModePublish: which envelopes to look up before signing
}

// prepare fills it.envs, it.dups and it.reason, or it.fatal. A parser
// panic is recovered and counts as a quarantine reason, as in serve.
func (w *worker) prepare(it *item) {
	defer func() {
		if r := recover(); r != nil {
			w.o.Logger.Error("replay: parser panic", "mail", it.mail.Index, "offset", it.mail.Offset, "panic", r)
			it.envs, it.dups, it.fatal = nil, nil, nil
			it.reason = fmt.Sprintf("parser panic: %v", r)
		}
	}()
	m, err := parsers.ReadMessage(it.mail.Data)
	if err != nil {
		it.reason = "unreadable mail: " + err.Error()
		return
	}
	evs, refused := w.o.Classifier.Classify(m)
	if len(evs) == 0 {
		it.reason = refused.Reason
		return
	}
	dec := w.o.Verifier.Check(m, auth.Intake{Archive: w.o.TrustArchive}, evs)
	switch {
	case w.o.Mode == ModeSpool:
		// serve judges spooled mail; the envelopes built here only name
		// the msg_ids that the pre-check below looks up.
		dec = spoolDecision(w.o.Config, m, dec)
	case dec.Retry != "":
		if w.o.Mode == ModePublish {
			it.fatal = fmt.Errorf("%w: %s (run the same command again later: it resumes at this mail)", pipeline.ErrHeld, dec.Retry)
			return
		}
		it.reason = "held: " + dec.Retry
		return
	case dec.Quarantine != "":
		it.reason = dec.Quarantine
		return
	}
	it.envs = pipeline.Build(w.o.Config, m, evs, w.o.Now(), true, dec)
	it.dups = make([]bool, len(it.envs))
	if w.o.Mode == ModeDryRun {
		return
	}
	if w.o.Journal != nil {
		for i, env := range it.envs {
			if w.o.Mode == ModePublish && !w.gate.want() {
				continue // Journal.Add drops it if it is a duplicate
			}
			has, err := w.o.Journal.Seen(env)
			if err != nil {
				it.fatal = err
				return
			}
			it.dups[i] = has
			w.gate.record(has)
		}
	}
	if w.o.Mode != ModePublish {
		return
	}
	for i, env := range it.envs {
		if it.dups[i] {
			continue
		}
		if err := w.sign(env); err != nil {
			var ce *bus.CanonicalError
			if errors.As(err, &ce) {
				it.envs, it.dups = nil, nil
				it.reason = fmt.Sprintf("envelope %s: %v", env.Topic, err)
				return
			}
			it.fatal = err
			return
		}
	}
}

// spoolDecision is the decision by which ModeSpool names a mail's
// msg_ids for its pre-check, from dec, the replay's own (made without
// DNS: NewOffline). serve judges the mail again, and may prove by DKIM a
// mail that dec does not prove. Such a mail counts as proven here: a
// proven event is a duplicate only of its proven msg_id, and an
// envelope journaled under that msg_id makes serve drop the mail's
// event whatever it decides (docs/dedup.md), while a mail wrongly judged
// unproven here would be left out of the spool when an unproven copy of
// its happening is journaled, which serve would not have done.
func spoolDecision(cfg *config.Config, m *parsers.Message, dec *auth.Decision) *auth.Decision {
	if dec.Trusted || !cfg.Trust.DKIM || !m.Header.Has("DKIM-Signature") {
		return dec
	}
	if p := cfg.Trust.Policy(dec.Service); p == nil || len(p.DKIMDomains) == 0 {
		return dec
	}
	maybe := *dec
	maybe.Trusted = true
	return &maybe
}

func (w *worker) sign(env *bus.Envelope) error {
	if w.o.Signer == nil {
		_, err := bus.Canonical(env.Msg)
		return err
	}
	return bus.SignSealed(env, w.o.Signer)
}

// headerDate returns the Date header of raw, zero when absent or
// unparsable. It reads only the header, so filtering by date costs little.
func headerDate(raw []byte) time.Time {
	end := bytes.Index(raw, []byte("\n\n"))
	if end < 0 {
		end = len(raw)
	} else {
		end++
	}
	if e := bytes.Index(raw[:end], []byte("\r\n\r\n")); e >= 0 {
		end = e + 2
	}
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw[:end]))).ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return time.Time{}
	}
	t, err := mail.ParseDate(h.Get("Date"))
	if err != nil {
		return time.Time{}
	}
	return t
}
