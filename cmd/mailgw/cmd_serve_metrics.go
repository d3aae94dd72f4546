package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/control"
	"github.com/debian/mailgw/internal/metrics"
	"github.com/debian/mailgw/internal/pipeline"
	"github.com/debian/mailgw/internal/spool"
)

// Metrics wiring for serve: the pipeline reports each mail's Result
// through its OnMail hook and publishes through a Publisher, so serve
// counts there instead of threading *metrics.Metrics through the
// pipeline.

// installProbes computes the spool, journal and bus-drop gauges on scrape.
func (d *daemon) installProbes() {
	d.m.SetSpoolProbe(func() (int, time.Time, error) {
		names, err := d.spool.Pending()
		if err != nil || len(names) == 0 {
			return 0, time.Time{}, err
		}
		// Names start with the delivery time, so the first is the oldest.
		fi, err := os.Lstat(filepath.Join(d.spool.Dir(), "new", names[0]))
		if err != nil {
			return len(names), time.Now(), nil // picked up meanwhile
		}
		return len(names), fi.ModTime(), nil
	})
	d.m.SetJournalProbe(func() (int64, int64, error) {
		rows, err := d.journal.Count()
		if err != nil {
			return 0, 0, err
		}
		last, err := d.journal.LastSeq()
		return rows, last, err
	})
	d.m.SetDiskProbe(func() (metrics.DiskUsage, error) {
		j, err := d.journal.DiskUsage()
		if err != nil {
			return metrics.DiskUsage{}, err
		}
		u := metrics.DiskUsage{Journal: j}
		u.QuarantineMails, u.QuarantineBytes, err = d.spool.QuarantineUsage()
		return u, err
	})
	d.m.SetBusDropProbe(d.pub.Dropped)
	d.m.SetSpoolRefusedProbe(d.spool.BadEntries)
	d.m.SetJournalDamageProbe(d.journal.Damaged)
	d.m.SetBusSubscribersProbe(d.pub.Subscribers)
	d.m.SetBusRefusedProbe(d.pub.Refused)
	if r := d.replay; r != nil {
		d.m.SetReplayProbe(func() (int, uint64, uint64) { return r.Clients(), r.Evicted(), r.Refused() })
	}
}

// backfillHooks count the mails and events of the backfills serve runs
// for mailgw replay (control socket): typed events, not log lines.
func (d *daemon) backfillHooks() control.Hooks {
	return control.Hooks{
		Mail: func(kind pipeline.QuarantineKind) {
			d.m.Received(metrics.ModeReplay)
			if kind != "" {
				d.m.Quarantined(string(kind))
			}
		},
		Event: func(env *bus.Envelope, added bool) {
			if added {
				d.m.Event(env.Topic)
			} else {
				d.m.Duplicate()
			}
		},
	}
}

// countingPublisher counts publishes and their failures.
type countingPublisher struct {
	bus.Publisher
	m *metrics.Metrics
}

// Publish implements bus.Publisher.
func (p countingPublisher) Publish(ctx context.Context, env *bus.Envelope) error {
	err := p.Publisher.Publish(ctx, env)
	if err != nil {
		p.m.PublishError()
	} else {
		p.m.Published()
	}
	return err
}

// countMail is the pipeline's OnMail hook: it counts each mail's outcome
// from its typed Result (events and duplicates by topic, quarantine by
// kind), and counts as received (mode deliver-pickup) the mails that
// "mailgw deliver" or an MTA's own Maildir delivery put in the spool:
// mail that came over SMTP/LMTP, counted by smtpd when it was accepted,
// or through mailgw replay, says so in its spool name (spool.OriginOf),
// even when the pipeline picks it up before smtpd's Deliver returned, or
// after a restart.
func countMail(m *metrics.Metrics) func(name string, r *pipeline.Result) {
	return func(name string, r *pipeline.Result) {
		outcome := r.Outcome()
		if outcome == pipeline.OutcomeHeld {
			return // still in the spool: counted once decided
		}
		switch o := spool.OriginOf(name); {
		case o.Relay.IsValid(): // over SMTP/LMTP: smtpd counted it at the 250
		case o.Replayed:
			m.Received(metrics.ModeReplay)
		default:
			m.Received(metrics.ModeDeliver)
		}
		if outcome == pipeline.OutcomeQuarantined {
			m.Quarantined(string(r.QuarantineKind))
			return
		}
		added := make(map[*bus.Envelope]bool, len(r.Added))
		for _, env := range r.Added {
			added[env] = true
			m.Event(env.Topic)
		}
		for _, env := range r.Envelopes {
			if !added[env] {
				m.Duplicate()
			}
		}
	}
}
