package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/engine"
	"github.com/debian/mailgw/internal/journal"
	"github.com/debian/mailgw/internal/spool"
	"github.com/debian/mailgw/parsers"
)

// Options wires a Pipeline.
type Options struct {
	Config     *config.Config
	Classifier *parsers.Classifier
	// Signer signs every envelope; it may be nil only when
	// Config.SignMessages is false (unsigned publishing on purpose).
	Signer    bus.Signer
	Journal   *journal.Journal
	Publisher bus.Publisher
	// Spool is needed by Run only.
	Spool *spool.Spool
	// Logger gets one line per mail; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock for envelope timestamps; nil means time.Now.
	Now func() time.Time
	// Workers parse mail in parallel in Run; 0 means 4.
	Workers int
	// OnMail, if set, is called once per spooled mail after its outcome
	// is final (published, duplicate, journaled or quarantined), with the
	// spool name: for metrics. A mail held for a retry is reported when
	// its retry decides it. It must not block.
	OnMail func(name string, r *Result)
	// Health, if set, is told when journal writes or quarantine moves
	// start and stop failing (serve's /healthz).
	Health Health
	// Verifier authenticates every mail before its events are signed
	// (internal/auth). nil means Config.Trust's policy without DKIM
	// checking (no DNS lookups): for tests and tools that ask no DNS.
	// SetVerifier replaces it while running.
	Verifier *auth.Verifier
	// Engine journals and publishes (serve's, shared with the replays it
	// runs); nil means the pipeline starts its own on Journal and
	// Publisher, reporting to Health.
	Engine *engine.Engine
}

// Pipeline processes mail. It is safe for concurrent use.
type Pipeline struct {
	o Options
	// prep is the prepare step (read, classify, judge, build).
	prep *Preparer
	// retry schedules rescans of the spool after failures (health.go).
	retry retry
	// own is the engine the pipeline started when Options.Engine is nil.
	ownMu sync.Mutex
	own   *engine.Engine
}

// Outcome of one mail.
const (
	OutcomePublished   = "published"
	OutcomeDuplicate   = "duplicate"
	OutcomeQuarantined = "quarantined"
	OutcomeJournaled   = "journaled" // publish failed; PublishPending retries
	// OutcomeHeld: the mail stays in the spool, undecided until a
	// temporary failure (a DKIM key lookup) passes; it is retried.
	OutcomeHeld = "held"
)

// Result says what became of one mail.
type Result struct {
	MessageID string
	// Envelopes are all the envelopes the mail yields, signed, in order.
	Envelopes []*bus.Envelope
	// Added are those the journal took (the others were duplicates);
	// their SeqID is set.
	Added []*bus.Envelope
	// Quarantine is the reason the mail yields no event ("" otherwise).
	Quarantine string
	// QuarantineKind classifies Quarantine (set with it, where the
	// reason is decided): serve's metrics label and the log line's kind.
	QuarantineKind QuarantineKind
	// Published is false when the publisher failed after journaling;
	// PublishPending publishes them later.
	Published bool
	// Held, when not "", is why the mail could not be judged yet (a
	// temporary DNS failure): it yields nothing now and is retried.
	Held string
	// Trust is the auth decision (nil for a mail that yields no event).
	Trust *auth.Decision
}

// Outcome names the result for logs: published, duplicate, journaled or
// quarantined.
func (r *Result) Outcome() string {
	switch {
	case r.Held != "":
		return OutcomeHeld
	case r.Quarantine != "":
		return OutcomeQuarantined
	case len(r.Added) == 0:
		return OutcomeDuplicate
	case !r.Published:
		return OutcomeJournaled
	}
	return OutcomePublished
}

// QuarantineKind is why a mail yields no event, as a fixed word: the
// reason label of mailgw_mails_quarantined_total (docs/monitoring.md).
type QuarantineKind string

// The kinds of quarantine: the Classifier's (parsers.Refusal.Kind) and the
// pipeline's own.
const (
	QuarantineLoop      QuarantineKind = parsers.RefusedLoop
	QuarantineDSN       QuarantineKind = parsers.RefusedDSN
	QuarantineAutoReply QuarantineKind = parsers.RefusedAutoReply
	QuarantineNoRule    QuarantineKind = parsers.RefusedNoRule
	// QuarantineParser: a parser claimed the mail and found no event, or
	// it panicked.
	QuarantineParser QuarantineKind = parsers.RefusedByParser
	// QuarantineUnreadable: not a mail ReadMessage can read.
	QuarantineUnreadable QuarantineKind = "unreadable"
	// QuarantineUntrusted: the trust policy quarantines unproven mail of
	// the service (docs/trust.md).
	QuarantineUntrusted QuarantineKind = "untrusted"
	// QuarantineEnvelope: a payload the bus cannot carry.
	QuarantineEnvelope QuarantineKind = "envelope"
	// QuarantineTooBig: a spool entry over max_message_bytes, never read.
	QuarantineTooBig QuarantineKind = "too-big"
	// QuarantineBadEntry: a spool entry that is not a regular file.
	QuarantineBadEntry QuarantineKind = "bad-entry"
)

// QuarantineKinds are all the kinds, for tests and documentation.
var QuarantineKinds = []QuarantineKind{
	QuarantineLoop, QuarantineDSN, QuarantineAutoReply, QuarantineNoRule, QuarantineParser,
	QuarantineUnreadable, QuarantineUntrusted, QuarantineEnvelope, QuarantineTooBig, QuarantineBadEntry,
}

// quarantined returns r refusing the mail for reason, of kind.
func (r Result) quarantined(kind QuarantineKind, reason string) Result {
	r.Quarantine, r.QuarantineKind = reason, kind
	return r
}

// New returns a pipeline.
func New(o Options) *Pipeline {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	prep, err := NewPreparer(o.Config, o.Classifier, o.Verifier, o.Now)
	if err != nil {
		// Config.Check validated the policy; without DKIM nothing else
		// can fail.
		panic(fmt.Sprintf("pipeline: trust policy: %v", err))
	}
	return &Pipeline{o: o, prep: prep}
}

// SetClassifier replaces the classifier for the mail processed from now
// on (serve's reload: new upload keyrings, say); mail being classified
// meanwhile finishes with the old one.
func (p *Pipeline) SetClassifier(c *parsers.Classifier) { p.prep.SetClassifier(c) }

// SetVerifier puts a new trust policy in force (serve's reload): mail
// judged from now on is judged by v; mail being judged meanwhile finishes
// with the old one.
func (p *Pipeline) SetVerifier(v *auth.Verifier) { p.prep.SetVerifier(v) }

// prepared is a mail parsed, built and signed, ready for the journal.
type prepared struct {
	res Result
}

// prepare runs the Preparer and signs the envelopes. Content problems end
// in res.Quarantine, a mail that cannot be judged yet in res.Held; an
// error is an environment problem (signing key).
func (p *Pipeline) prepare(raw []byte, o spool.Origin) (*prepared, error) {
	pp := p.prep.Prepare(raw, Intake{Origin: o})
	if pp.Panic != nil {
		p.o.Logger.Error("parser panic", "panic", strings.TrimPrefix(pp.Quarantine, "parser panic: "), "stack", string(pp.Panic))
	}
	if pp.Quarantine == "" && pp.Held == "" {
		if err := pp.Sign(p.o.Signer, p.o.Config.SignMessages, nil); err != nil {
			return nil, err
		}
	}
	res := Result{MessageID: pp.MessageID, Envelopes: pp.Envelopes, Held: pp.Held, Trust: pp.Trust}
	if pp.Quarantine != "" {
		res = res.quarantined(pp.QuarantineKind, pp.Quarantine)
	}
	return &prepared{res: res}, nil
}

// engine returns the journal-then-publish engine: Options.Engine, or the
// pipeline's own, started on first use.
func (p *Pipeline) engine() *engine.Engine {
	if p.o.Engine != nil {
		return p.o.Engine
	}
	p.ownMu.Lock()
	defer p.ownMu.Unlock()
	if p.own == nil {
		p.own = engine.Start(context.Background(), engine.Options{Journal: p.o.Journal, Publisher: p.o.Publisher, Logger: p.o.Logger, Health: p.o.Health})
	}
	return p.own
}

// closeOwn stops the pipeline's own engine, if it started one: what it
// holds is journaled, published and marked.
func (p *Pipeline) closeOwn() {
	p.ownMu.Lock()
	e := p.own
	p.own = nil
	p.ownMu.Unlock()
	if e != nil {
		e.Close()
	}
}
