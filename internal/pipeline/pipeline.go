package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/internal/config"
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
	// Spool is needed by ProcessSpooled and Run only.
	Spool *spool.Spool
	// Logger gets one line per mail; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock for envelope timestamps; nil means time.Now.
	Now func() time.Time
	// Workers parse mail in parallel in Run; 0 means 4.
	Workers int
	// OnMail, if set, is called once per spooled mail after its outcome
	// is final (published, duplicate, journaled or quarantined), or when
	// it is held for a retry (OutcomeHeld), with the spool name: for
	// metrics. It must not block.
	OnMail func(name string, r *Result)
	// Health, if set, is told when journal writes or quarantine moves
	// start and stop failing (serve's /healthz).
	Health Health
	// Verifier authenticates every mail before its events are signed
	// (internal/auth). nil means Config.Trust's policy without DKIM
	// checking (no DNS lookups): for tests and tools that ask no DNS.
	// SetVerifier replaces it while running.
	Verifier *auth.Verifier
}

// Pipeline processes mail. It is safe for concurrent use.
type Pipeline struct {
	o Options
	// classifier is o.Classifier, replaced by SetClassifier (serve's
	// reload) while workers classify.
	classifier atomic.Pointer[parsers.Classifier]
	// pubMu orders journal additions and publication, so that envelopes
	// reach the bus in seq_id order and PublishPending never races a
	// fresh publish.
	pubMu sync.Mutex
	// pubFailed is set (under pubMu) when a publish failed: later
	// envelopes are only journaled until PublishPending catches up, which
	// keeps the bus in seq_id order.
	pubFailed bool
	// retry schedules rescans of the spool after failures (health.go).
	retry retry
	// verifier is the trust policy in force (SetVerifier swaps it).
	verifier atomic.Pointer[auth.Verifier]
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
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	p := &Pipeline{o: o}
	p.classifier.Store(o.Classifier)
	v := o.Verifier
	if v == nil {
		var err error
		if v, err = auth.NewOffline(o.Config.Trust); err != nil {
			// Config.Check validated the policy; without DKIM nothing else
			// can fail.
			panic(fmt.Sprintf("pipeline: trust policy: %v", err))
		}
	}
	p.verifier.Store(v)
	return p
}

// SetClassifier replaces the classifier for the mail processed from now
// on (serve's reload: new upload keyrings, say); mail being classified
// meanwhile finishes with the old one.
func (p *Pipeline) SetClassifier(c *parsers.Classifier) { p.classifier.Store(c) }

// SetVerifier puts a new trust policy in force (serve's reload): mail
// judged from now on is judged by v; mail being judged meanwhile finishes
// with the old one.
func (p *Pipeline) SetVerifier(v *auth.Verifier) { p.verifier.Store(v) }

// errNoSigner is returned when signing is on but no key is wired.
var errNoSigner = errors.New("pipeline: sign_messages is on but no signing key is loaded")

// prepared is a mail parsed, built and signed, ready for the journal.
type prepared struct {
	res Result
}

// prepare reads, guards, classifies, authenticates, builds and signs.
// Content problems end in res.Quarantine, a mail that cannot be judged yet
// in res.Held; an error is an environment problem (signing key). A parser
// panic is recovered and quarantines the mail with the panic text: one bad
// mail must not stop the daemon.
func (p *Pipeline) prepare(raw []byte, o spool.Origin) (pr *prepared, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.o.Logger.Error("parser panic", "panic", r, "stack", string(debug.Stack()))
			pr, err = &prepared{res: Result{}.quarantined(QuarantineParser, fmt.Sprintf("parser panic: %v", r))}, nil
		}
	}()
	m, err := parsers.ReadMessage(raw)
	if err != nil {
		return &prepared{res: Result{}.quarantined(QuarantineUnreadable, "unreadable mail: "+err.Error())}, nil
	}
	pr = &prepared{res: Result{MessageID: m.MessageID}}
	// Classify runs the loop, auto-reply and DSN guards first.
	evs, refused := p.classifier.Load().Classify(m)
	if len(evs) == 0 {
		pr.res = pr.res.quarantined(QuarantineKind(refused.Kind), refused.Reason)
		return pr, nil
	}
	dec := p.verifier.Load().Check(m, Intake(o), evs)
	pr.res.Trust = dec
	if dec.Retry != "" {
		pr.res.Held = dec.Retry
		return pr, nil
	}
	if dec.Quarantine != "" {
		pr.res = pr.res.quarantined(QuarantineUntrusted, dec.Quarantine)
		return pr, nil
	}
	envs := Build(p.o.Config, m, evs, p.o.Now(), o.Replayed, dec)
	for _, env := range envs {
		if err := p.sign(env); err != nil {
			var ce *bus.CanonicalError
			if errors.As(err, &ce) {
				// A parser produced a payload the bus cannot carry.
				pr.res = pr.res.quarantined(QuarantineEnvelope, fmt.Sprintf("envelope %s: %v", env.Topic, err))
				return pr, nil
			}
			return nil, err
		}
	}
	pr.res.Envelopes = envs
	return pr, nil
}

func (p *Pipeline) sign(env *bus.Envelope) error {
	if p.o.Signer == nil {
		if p.o.Config.SignMessages {
			return errNoSigner
		}
		return checkCanonical(env.Msg)
	}
	return bus.SignSealed(env, p.o.Signer)
}

// Process runs one mail through the pipeline: no spool is involved
// (replay and parse use it; ProcessSpooled wraps it for spooled mail).
// An error means the mail's events are not journaled and it must be
// retried (journal or signing key unavailable); a mail that yields no
// event is not an error but a Result with Quarantine set.
func (p *Pipeline) Process(ctx context.Context, raw []byte, replayed bool) (Result, error) {
	pr, err := p.prepare(raw, spool.Origin{Replayed: replayed})
	if err != nil {
		return Result{}, err
	}
	if pr.res.Quarantine == "" && pr.res.Held == "" {
		if err := p.commit(ctx, []*prepared{pr}); err != nil {
			return pr.res, err
		}
	}
	return pr.res, nil
}

// ProcessBatch is Process for many mails at once (replay): the mails are
// prepared one by one and all their envelopes journaled in one
// transaction, which is much faster than one Process per mail. Results are
// in the order of raws; on error nothing of the batch is journaled. As
// with Process, raws must not change afterwards.
func (p *Pipeline) ProcessBatch(ctx context.Context, raws [][]byte, replayed bool) ([]Result, error) {
	prs := make([]*prepared, len(raws))
	var commit []*prepared
	for i, raw := range raws {
		pr, err := p.prepare(raw, spool.Origin{Replayed: replayed})
		if err != nil {
			return nil, err
		}
		prs[i] = pr
		if pr.res.Quarantine == "" && pr.res.Held == "" {
			commit = append(commit, pr)
		}
	}
	if len(commit) > 0 {
		if err := p.commit(ctx, commit); err != nil {
			return nil, err
		}
	}
	out := make([]Result, len(prs))
	for i, pr := range prs {
		out[i] = pr.res
	}
	return out, nil
}

// commit journals the envelopes of prs in one transaction and publishes
// what the journal added, in seq_id order.
func (p *Pipeline) commit(ctx context.Context, prs []*prepared) error {
	var all []*bus.Envelope
	for _, pr := range prs {
		all = append(all, pr.res.Envelopes...)
	}
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	added, err := p.o.Journal.Add(all)
	if err != nil {
		return err
	}
	isAdded := make(map[*bus.Envelope]bool, len(added))
	for _, env := range added {
		isAdded[env] = true
	}
	for _, pr := range prs {
		for _, env := range pr.res.Envelopes {
			if isAdded[env] {
				pr.res.Added = append(pr.res.Added, env)
			}
		}
	}
	if p.pubFailed {
		return nil
	}
	var seqs []int64
	for _, env := range added {
		if err := p.o.Publisher.Publish(ctx, env); err != nil {
			p.pubFailed = true
			p.o.Logger.Warn("publish failed; will republish from the journal", "seq_id", env.SeqID, "err", err)
			break
		}
		seqs = append(seqs, env.SeqID)
	}
	if err := p.o.Journal.MarkPublished(seqs...); err != nil {
		// Published but not marked: republished after a restart, which
		// consumers drop by msg_id.
		p.o.Logger.Warn("journal: mark published", "err", err)
	}
	done := make(map[int64]bool, len(seqs))
	for _, s := range seqs {
		done[s] = true
	}
	for _, pr := range prs {
		pr.res.Published = true
		for _, env := range pr.res.Added {
			if !done[env.SeqID] {
				pr.res.Published = false
			}
		}
	}
	return nil
}

// PublishPending publishes every journaled envelope not yet marked
// published, in seq_id order, and returns how many it published. serve
// calls it at start (a crash between journal and publish republishes
// instead of losing) and Run calls it after a publish failure.
func (p *Pipeline) PublishPending(ctx context.Context) (int, error) {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	n := 0
	for {
		entries, err := p.o.Journal.Unpublished(500)
		if err != nil {
			return n, err
		}
		if len(entries) == 0 {
			p.pubFailed = false
			return n, nil
		}
		seqs := make([]int64, 0, len(entries))
		var perr error
		for _, e := range entries {
			env, err := bus.ParseEnvelope(e.Body)
			if err == nil {
				err = p.o.Publisher.Publish(ctx, env)
			}
			if err != nil {
				perr = fmt.Errorf("republish seq_id %d: %w", e.SeqID, err)
				break
			}
			seqs = append(seqs, e.SeqID)
		}
		if err := p.o.Journal.MarkPublished(seqs...); err != nil {
			return n, err
		}
		n += len(seqs)
		if perr != nil {
			p.pubFailed = true
			return n, perr
		}
	}
}

// Intake is the auth.Intake of a spooled mail's Origin.
func Intake(o spool.Origin) auth.Intake {
	return auth.Intake{Relay: o.Relay, Sender: o.Sender, Archive: o.TrustArchive}
}
