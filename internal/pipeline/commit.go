package pipeline

import (
	"context"
	"sync"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/engine"
	"github.com/debian/mailgw/internal/spool"
)

// journalRetry is how long a mail whose journal write failed waits
// before it is submitted again (it stays in the spool meanwhile).
const journalRetry = time.Second

// committer takes the prepared mails until ready closes: it moves those
// that yield no event to quarantine, a batch at a time, and submits the
// others to the engine as live jobs; it returns once every job it
// submitted is published (or left to PublishPending).
func (p *Pipeline) committer(ctx context.Context, e *engine.Engine, ready <-chan *spooled, inflight *sync.Map) {
	var jobs sync.WaitGroup
	defer jobs.Wait()
	for {
		sp, ok := <-ready
		if !ok {
			return
		}
		batch := []*spooled{sp}
		// Take whatever else is ready, without waiting.
	more:
		for len(batch) < batchMax {
			select {
			case sp, ok := <-ready:
				if !ok {
					break more
				}
				batch = append(batch, sp)
			default:
				break more
			}
		}
		var quar []*spooled
		for _, sp := range batch {
			if sp.pr.res.Quarantine != "" {
				quar = append(quar, sp)
				continue
			}
			jobs.Add(1)
			p.submit(ctx, e, sp, inflight, &jobs)
		}
		p.quarantineMany(quar, inflight)
	}
}

// submit hands one mail to the engine. Once its envelopes are journaled
// its file leaves the spool; once they are published its line is logged.
// A journal failure keeps it in the spool and submits it again after
// journalRetry, until ctx ends (the next start picks it up then).
func (p *Pipeline) submit(ctx context.Context, e *engine.Engine, sp *spooled, inflight *sync.Map, jobs *sync.WaitGroup) {
	giveUp := func() {
		inflight.Delete(sp.name)
		jobs.Done()
	}
	j := &engine.Job{Envelopes: sp.pr.res.Envelopes}
	j.Journaled = func(added []*bus.Envelope, err error) {
		if err != nil {
			time.AfterFunc(journalRetry, func() {
				if ctx.Err() != nil || e.Submit(ctx, engine.Live, j) != nil {
					giveUp()
				}
			})
			return
		}
		sp.pr.res.Added = added
		if err := p.o.Spool.Done(sp.name); err != nil {
			p.o.Logger.Error("spool", "spool", sp.name, "err", err)
		}
		inflight.Delete(sp.name)
	}
	j.Published = func(err error) {
		sp.pr.res.Published = err == nil || len(sp.pr.res.Added) == 0
		p.logMail(sp.name, &sp.pr.res)
		jobs.Done()
	}
	if e.Submit(ctx, engine.Live, j) != nil {
		giveUp() // stopping: the mail stays in the spool
	}
}

// quarantineMany moves the mails of a batch that yield no event to
// quarantine with two syncs in all instead of two per mail
// (spool.QuarantineMany); a mail that fails stays in new/ for a retry.
func (p *Pipeline) quarantineMany(quar []*spooled, inflight *sync.Map) {
	if len(quar) == 0 {
		return
	}
	items := make([]spool.Quarantined, len(quar))
	for i, sp := range quar {
		items[i] = spool.Quarantined{Name: sp.name, Reason: sp.pr.res.Quarantine}
	}
	errs := p.o.Spool.QuarantineMany(items)
	var failed error
	for i, sp := range quar {
		if errs[i] != nil {
			p.o.Logger.Error("quarantine", "spool", sp.name, "err", errs[i])
			failed = errs[i]
		} else {
			p.logMail(sp.name, &sp.pr.res)
		}
		inflight.Delete(sp.name)
	}
	// A mail that could not be quarantined (a full disk) stays in new/:
	// the spool is listed again after a backoff, so it moves once the
	// cause is gone, without a restart.
	p.failed(ComponentQuarantine, failed)
	if failed != nil {
		p.retryLater()
	}
}
