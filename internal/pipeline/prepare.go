package pipeline

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/spool"
	"github.com/debian/mailgw/parsers"
)

// Preparer is the one prepare step from a mail's bytes to its envelopes,
// used by serve (Pipeline), replay (package backfill) and "mailgw parse":
// read the mail, classify it (loop, auto-reply and DSN guards first),
// judge its trust and build its envelopes (Build). It is safe for
// concurrent use; SetClassifier and SetVerifier swap its parts while
// mail is being prepared.
type Preparer struct {
	cfg        *config.Config
	now        func() time.Time
	classifier atomic.Pointer[parsers.Classifier]
	verifier   atomic.Pointer[auth.Verifier]
}

// NewPreparer returns a Preparer. v nil means cfg.Trust's policy without
// DKIM checking (auth.NewOffline); now nil means time.Now.
func NewPreparer(cfg *config.Config, cl *parsers.Classifier, v *auth.Verifier, now func() time.Time) (*Preparer, error) {
	if v == nil {
		var err error
		if v, err = auth.NewOffline(cfg.Trust); err != nil {
			return nil, err
		}
	}
	if now == nil {
		now = time.Now
	}
	p := &Preparer{cfg: cfg, now: now}
	p.classifier.Store(cl)
	p.verifier.Store(v)
	return p, nil
}

// SetClassifier replaces the classifier for the mail prepared from now
// on; mail being classified meanwhile finishes with the old one.
func (p *Preparer) SetClassifier(c *parsers.Classifier) { p.classifier.Store(c) }

// SetVerifier puts a new trust policy in force for the mail judged from
// now on.
func (p *Preparer) SetVerifier(v *auth.Verifier) { p.verifier.Store(v) }

// Intake is what the gateway knows of a mail besides its bytes.
type Intake struct {
	// Origin is how it came in: relay, pipe sender, trusted archive, and
	// whether it is replayed (Build marks its envelopes so).
	Origin spool.Origin
	// Unjudged: the trust decision is left to serve, which judges the
	// mail again once it is spooled (replay into the spool). The
	// envelopes built then only name the msg_ids serve may give the mail
	// (for replay's look-up of what is journaled already): the policy's
	// quarantine and retry are ignored, and a mail that DKIM may prove
	// counts as proven (unjudgedDecision).
	Unjudged bool
}

// Prepared is a mail prepared: either Envelopes (unsigned, one per event,
// in order), or the reason it yields none (Quarantine), or the temporary
// failure that keeps it from being judged now (Held).
type Prepared struct {
	MessageID string
	// Events are the classified events (Envelopes[i] is Events[i]'s).
	Events    []parsers.Event
	Envelopes []*bus.Envelope
	// Trust is the auth decision (nil for a mail that yields no event).
	Trust      *auth.Decision
	Quarantine string
	// QuarantineKind classifies Quarantine (set with it).
	QuarantineKind QuarantineKind
	Held           string
	// Panic is set when a parser panicked (Quarantine then says
	// "parser panic: ..."): the panic's stack, for the caller's log.
	Panic []byte
}

// Prepare reads, classifies, judges and builds one mail. It never fails:
// content problems end in Quarantine, a mail that cannot be judged yet in
// Held. A parser panic is recovered and quarantines the mail with the
// panic text: one bad mail must not stop the daemon or a replay.
func (p *Preparer) Prepare(raw []byte, in Intake) (pr *Prepared) {
	defer func() {
		if r := recover(); r != nil {
			pr = &Prepared{Quarantine: fmt.Sprintf("parser panic: %v", r), QuarantineKind: QuarantineParser, Panic: debug.Stack()}
		}
	}()
	m, err := parsers.ReadMessage(raw)
	if err != nil {
		return &Prepared{Quarantine: "unreadable mail: " + err.Error(), QuarantineKind: QuarantineUnreadable}
	}
	pr = &Prepared{MessageID: m.MessageID}
	evs, refused := p.classifier.Load().Classify(m)
	if len(evs) == 0 {
		pr.Quarantine, pr.QuarantineKind = refused.Reason, QuarantineKind(refused.Kind)
		return pr
	}
	dec := p.verifier.Load().Check(m, AuthIntake(in.Origin), evs)
	switch {
	case in.Unjudged:
		dec = unjudgedDecision(p.cfg, m, dec)
	case dec.Retry != "":
		pr.Trust, pr.Held = dec, dec.Retry
		return pr
	case dec.Quarantine != "":
		pr.Trust, pr.Quarantine, pr.QuarantineKind = dec, dec.Quarantine, QuarantineUntrusted
		return pr
	}
	pr.Trust, pr.Events = dec, evs
	pr.Envelopes = Build(p.cfg, m, evs, p.now(), in.Origin.Replayed, dec)
	return pr
}

// unjudgedDecision is the decision by which an Unjudged mail's msg_ids
// are named, from dec, one made without DNS (NewOffline). serve judges
// the mail again, and may prove by DKIM a mail that dec does not prove.
// Such a mail counts as proven here: a proven event is a duplicate only
// of its proven msg_id, and an envelope journaled under that msg_id makes
// serve drop the mail's event whatever it decides (docs/dedup.md), while
// a mail wrongly judged unproven here would be left out of the spool when
// an unproven copy of its happening is journaled, which serve would not
// have done.
func unjudgedDecision(cfg *config.Config, m *parsers.Message, dec *auth.Decision) *auth.Decision {
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

// errNoSigner is returned when signing is on but no key is wired.
var errNoSigner = errors.New("sign_messages is on but no signing key is loaded")

// Sign signs the mail's envelopes with s, leaving out those whose skip[i]
// is true (skip may be nil). s nil only checks that each envelope has a
// canonical form, or fails when required (sign_messages is on). An
// envelope the bus cannot carry (a parser's payload without a canonical
// form) quarantines the mail and drops its envelopes; the error is for a
// signer that fails.
func (pr *Prepared) Sign(s bus.Signer, required bool, skip []bool) error {
	for i, env := range pr.Envelopes {
		if skip != nil && skip[i] {
			continue
		}
		var err error
		switch {
		case s != nil:
			err = bus.SignSealed(env, s)
		case required:
			return errNoSigner
		default:
			err = checkCanonical(env.Msg)
		}
		if err != nil {
			var ce *bus.CanonicalError
			if errors.As(err, &ce) {
				pr.Quarantine, pr.QuarantineKind = fmt.Sprintf("envelope %s: %v", env.Topic, err), QuarantineEnvelope
				pr.Envelopes, pr.Events = nil, nil
				return nil
			}
			return err
		}
	}
	return nil
}

// AuthIntake is the auth.Intake of a spooled mail's Origin.
func AuthIntake(o spool.Origin) auth.Intake {
	return auth.Intake{Relay: o.Relay, Sender: o.Sender, Archive: o.TrustArchive}
}
