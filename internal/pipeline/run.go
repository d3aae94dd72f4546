package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/debian/mailgw/internal/spool"
)

// batchMax bounds the mails the committer takes at once (one
// QuarantineMany for those that yield no event).
const batchMax = 256

// ErrHeld is matched by the error of a replay (internal/backfill) stopped
// at a mail that cannot be judged yet (Result.Held): run again later, it
// resumes at that mail.
var ErrHeld = errors.New("mail held for a retry")

// spooled is one mail of the spool on its way through Run.
type spooled struct {
	name string
	pr   *prepared
}

// prepareSpooled reads and prepares one spooled mail; nil, nil means the
// mail is gone.
func (p *Pipeline) prepareSpooled(name string) (*spooled, error) {
	raw, err := p.o.Spool.Read(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var bad *spool.BadEntryError
	if errors.As(err, &bad) {
		// A symlink, FIFO, directory or oversized file dropped into new/:
		// never followed, blocked on or read, but moved to quarantine.
		return &spooled{name: name, pr: &prepared{res: badEntryResult(bad)}}, nil
	}
	if err != nil {
		return nil, err
	}
	// What the gateway knew at intake (replayed, relay, pipe sender,
	// trusted archive) is in the name, not the bytes (which a msg_id may
	// hash, and which a sender writes): spool.Origin.
	pr, err := p.prepare(raw, spool.OriginOf(name))
	if err != nil {
		return nil, err
	}
	return &spooled{name: name, pr: pr}, nil
}

// badEntryResult is the Result of a refused spool entry.
func badEntryResult(bad *spool.BadEntryError) Result {
	if bad.Kind == spool.KindTooBig {
		return Result{}.quarantined(QuarantineTooBig, fmt.Sprintf("over max_message_bytes: %d bytes", bad.Size))
	}
	return Result{}.quarantined(QuarantineBadEntry, fmt.Sprintf("spool entry is not a regular mail file (%s)", bad.Kind))
}

// logMail writes the one line per mail (keys spool, message_id, topics,
// msg_ids, outcome, and for quarantined mail reason and kind) and calls
// OnMail with the same Result: serve's metrics count from there.
func (p *Pipeline) logMail(name string, r *Result) {
	topics := make([]string, len(r.Envelopes))
	ids := make([]string, len(r.Envelopes))
	for i, env := range r.Envelopes {
		topics[i], ids[i] = env.Topic, env.MsgID
	}
	attrs := []any{"spool", name, "message_id", r.MessageID, "topics", topics, "msg_ids", ids, "outcome", r.Outcome()}
	if r.Quarantine != "" {
		attrs = append(attrs, "reason", r.Quarantine, "kind", string(r.QuarantineKind))
	}
	p.o.Logger.Info("mail", attrs...)
	if p.o.OnMail != nil {
		p.o.OnMail(name, r)
	}
}

// Run processes the spool until ctx ends: everything in new/ at start and
// each mail as it lands. Workers prepare in parallel; the committer hands
// each mail to the engine (Options.Engine, or the pipeline's own) as a
// live job, which journals the envelopes of all ready mails in one
// transaction and publishes them; a mail's file is removed once it is
// journaled. A mail whose journal write fails stays in the spool and is
// retried. Run republishes journaled-but-unpublished envelopes at start
// (the engine does after publish failures). It returns nil when ctx
// ends, once what it submitted is published.
func (p *Pipeline) Run(ctx context.Context) error {
	if n, err := p.o.Spool.CleanTmp(time.Hour); err == nil && n > 0 {
		p.o.Logger.Warn("spool: removed stale files from tmp/", "count", n)
	}
	e := p.engine()
	defer p.closeOwn()
	if _, err := e.PublishPending(ctx); err != nil {
		p.o.Logger.Warn("republish from journal", "err", err)
	}
	names, err := p.o.Spool.Watch(ctx)
	if err != nil {
		return err
	}
	ready := make(chan *spooled, batchMax)
	held := newRetrier(ctx, p.o.Config.Trust.RetryMin.Duration, p.o.Config.Trust.RetryMax.Duration)
	var inflight sync.Map
	var wg sync.WaitGroup
	for range p.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var name string
				select {
				case n, ok := <-names:
					if !ok {
						return
					}
					name = n
				case name = <-held.due:
				}
				if _, busy := inflight.LoadOrStore(name, true); busy {
					continue
				}
				sp, err := p.prepareSpooled(name)
				if err != nil {
					p.o.Logger.Error("spool read", "spool", name, "err", err)
					p.retryLater()
				}
				if sp == nil {
					held.forget(name)
					inflight.Delete(name)
					continue
				}
				if sp.pr.res.Held != "" {
					n, wait := held.hold(name)
					p.o.Logger.Warn("mail held: its proof waits on a temporary failure; it stays in the spool",
						"spool", name, "message_id", sp.pr.res.MessageID, "reason", sp.pr.res.Held, "attempt", n, "retry_in", wait.Round(time.Millisecond).String())
					inflight.Delete(name)
					continue
				}
				held.forget(name)
				select {
				case ready <- sp:
				case <-ctx.Done():
					inflight.Delete(name)
				}
			}
		}()
	}
	go func() { wg.Wait(); close(ready) }()
	p.committer(ctx, e, ready, &inflight)
	return nil
}
