package pipeline

import (
	"context"
	"fmt"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/engine"
	"github.com/debian/mailgw/internal/spool"
)

// Process runs one mail through the pipeline without a spool: prepare,
// then journal and publish through the engine. An error means the mail's
// events are not journaled (journal or signing key unavailable); a mail
// that yields no event is a Result with Quarantine set.
func (p *Pipeline) Process(ctx context.Context, raw []byte, replayed bool) (Result, error) {
	res, err := p.ProcessBatch(ctx, [][]byte{raw}, replayed)
	if err != nil {
		return Result{}, err
	}
	return res[0], nil
}

// ProcessBatch is Process for many mails, all their envelopes journaled
// in one transaction; results are in the order of raws; on error nothing
// of the batch is journaled.
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

// ProcessSpooled (tests only; serve uses Run) processes the spooled mail called name: its events are
// journaled and published and the file is removed, or it goes to
// quarantine with the reason. A parser panic is recovered and quarantines
// the mail with the panic text. An error leaves the mail in the spool for
// a later retry. A name that is no longer in new/ (processed already) is
// not an error.
func (p *Pipeline) ProcessSpooled(ctx context.Context, name string) error {
	sp, err := p.prepareSpooled(name)
	if err != nil || sp == nil {
		return err
	}
	if sp.pr.res.Held != "" {
		return fmt.Errorf("%w: %s: %s", ErrHeld, name, sp.pr.res.Held)
	}
	if sp.pr.res.Quarantine != "" {
		return p.quarantine(sp)
	}
	if err := p.commit(ctx, []*prepared{sp.pr}); err != nil {
		return err
	}
	return p.done(sp)
}

func (p *Pipeline) quarantine(sp *spooled) error {
	if err := p.o.Spool.Quarantine(sp.name, sp.pr.res.Quarantine); err != nil {
		p.failed(ComponentQuarantine, err)
		return fmt.Errorf("quarantine %s: %w", sp.name, err)
	}
	p.failed(ComponentQuarantine, nil)
	p.logMail(sp.name, &sp.pr.res)
	return nil
}

func (p *Pipeline) done(sp *spooled) error {
	if err := p.o.Spool.Done(sp.name); err != nil {
		return fmt.Errorf("spool done %s: %w", sp.name, err)
	}
	p.logMail(sp.name, &sp.pr.res)
	return nil
}

// commit journals the envelopes of prs in one engine job and waits until
// they are published (or left to PublishPending); the pipeline's own
// engine is then stopped, which records the marks of what it published
// (the next call starts another). It is Process's and ProcessSpooled's
// (tests only): Run submits to the engine without waiting.
func (p *Pipeline) commit(ctx context.Context, prs []*prepared) error {
	defer p.closeOwn()
	var all []*bus.Envelope
	for _, pr := range prs {
		all = append(all, pr.res.Envelopes...)
	}
	done := make(chan struct{})
	var added []*bus.Envelope
	var jerr error
	published := false
	j := &engine.Job{
		Envelopes: all,
		Journaled: func(a []*bus.Envelope, err error) {
			added, jerr = a, err
			if err != nil {
				close(done)
			}
		},
		Published: func(err error) { published = err == nil; close(done) },
	}
	if err := p.engine().Submit(ctx, engine.Live, j); err != nil {
		return err
	}
	<-done
	if jerr != nil {
		return jerr
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
		pr.res.Published = len(pr.res.Added) == 0 || published
	}
	return nil
}

// PublishPending publishes every journaled envelope not yet marked
// published, in seq_id order, and returns how many it published
// (engine.Engine.PublishPending, which Run calls at start).
func (p *Pipeline) PublishPending(ctx context.Context) (int, error) {
	return p.engine().PublishPending(ctx)
}
