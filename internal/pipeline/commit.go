package pipeline

import (
	"context"
	"sync"
	"time"

	"github.com/debian/mailgw/internal/spool"
)

// publishGrace bounds how long Run keeps publishing after ctx ends.
const publishGrace = 5 * time.Second

// committer journals and publishes prepared mails in batches until ready
// closes.
func (p *Pipeline) committer(ctx context.Context, ready <-chan *spooled, inflight *sync.Map) {
	// What is committed while stopping is still published, for up to
	// publishGrace; after that it is left to PublishPending at the next
	// start.
	pubCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(publishGrace, cancel) })
	defer stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var retry []*spooled
	for {
		var batch []*spooled
		if len(retry) > 0 {
			batch, retry = retry, nil
		} else {
			select {
			case sp, ok := <-ready:
				if !ok {
					return
				}
				batch = append(batch, sp)
			case <-tick.C:
				p.republishIfFailed(pubCtx)
				continue
			}
		}
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
		retry = p.commitBatch(pubCtx, batch, inflight)
		if len(retry) > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
}

// commitBatch quarantines, journals and publishes one batch and returns
// the mails to retry (journal failure).
func (p *Pipeline) commitBatch(ctx context.Context, batch []*spooled, inflight *sync.Map) []*spooled {
	var prs []*prepared
	var ok, quar []*spooled
	for _, sp := range batch {
		if sp.pr.res.Quarantine != "" {
			quar = append(quar, sp)
			continue
		}
		prs = append(prs, sp.pr)
		ok = append(ok, sp)
	}
	p.quarantineMany(quar, inflight)
	if len(prs) == 0 {
		return nil
	}
	if err := p.commit(ctx, prs); err != nil {
		p.o.Logger.Error("journal", "mails", len(prs), "err", err)
		p.failed(ComponentJournal, err)
		return ok
	}
	p.failed(ComponentJournal, nil)
	for _, sp := range ok {
		if err := p.done(sp); err != nil {
			p.o.Logger.Error("spool", "spool", sp.name, "err", err)
		}
		inflight.Delete(sp.name)
	}
	return nil
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

func (p *Pipeline) republishIfFailed(ctx context.Context) {
	p.pubMu.Lock()
	failed := p.pubFailed
	p.pubMu.Unlock()
	if !failed {
		return
	}
	if n, err := p.PublishPending(ctx); err != nil {
		p.o.Logger.Warn("republish from journal", "published", n, "err", err)
	} else {
		p.o.Logger.Info("republished from journal", "count", n)
	}
}
