package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/control"
	"github.com/debian/mailgw/internal/metrics"
	"github.com/debian/mailgw/internal/pipeline"
	"github.com/debian/mailgw/internal/spool"
)

// Metrics wiring for serve: the pipeline reports through its one log line
// per mail and its Publisher, so serve counts there instead of threading
// *metrics.Metrics through the pipeline.

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
		Mail: func(reason string) {
			d.m.Received(metrics.ModeReplay)
			if reason != "" {
				d.m.Quarantined(reasonClass(reason))
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

// pickupTracker counts each mail's outcome from the pipeline's "mail" log
// line, and counts as received (mode deliver-pickup) the mails that
// "mailgw deliver" or an MTA's own Maildir delivery put in the spool:
// mail that came over SMTP/LMTP, counted by smtpd when it was accepted,
// or through mailgw replay, says so in its spool name (spool.OriginOf),
// even when the pipeline picks it up before smtpd's Deliver returned, or
// after a restart.
type pickupTracker struct {
	m *metrics.Metrics
}

func newPickupTracker(m *metrics.Metrics) *pickupTracker { return &pickupTracker{m: m} }

// handler wraps h: it sees every "mail" record (whatever the log level)
// and counts it, and passes on what h wants.
func (t *pickupTracker) handler(h slog.Handler) slog.Handler { return mailCounter{h: h, t: t} }

type mailCounter struct {
	h slog.Handler
	t *pickupTracker
}

// Enabled implements slog.Handler: Info is always let through, to count.
func (c mailCounter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || c.h.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (c mailCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "mail" {
		c.count(r)
	}
	if !c.h.Enabled(ctx, r.Level) {
		return nil
	}
	return c.h.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (c mailCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return mailCounter{h: c.h.WithAttrs(as), t: c.t}
}

// WithGroup implements slog.Handler.
func (c mailCounter) WithGroup(name string) slog.Handler {
	return mailCounter{h: c.h.WithGroup(name), t: c.t}
}

func (c mailCounter) count(r slog.Record) {
	var name, outcome, reason string
	var topics []string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "spool":
			name = a.Value.String()
		case "outcome":
			outcome = a.Value.String()
		case "reason":
			reason = a.Value.String()
		case "topics":
			topics, _ = a.Value.Any().([]string)
		}
		return true
	})
	m := c.t.m
	if name != "" {
		switch o := spool.OriginOf(name); {
		case o.Relay.IsValid(): // over SMTP/LMTP: smtpd counted it at the 250
		case o.Replayed:
			m.Received(metrics.ModeReplay)
		default:
			m.Received(metrics.ModeDeliver)
		}
	}
	switch outcome {
	case pipeline.OutcomeQuarantined:
		m.Quarantined(reasonClass(reason))
	case pipeline.OutcomeDuplicate:
		for range topics {
			m.Duplicate()
		}
	case pipeline.OutcomePublished, pipeline.OutcomeJournaled:
		for _, topic := range topics {
			m.Event(topic)
		}
	}
}

// reasonClass maps a quarantine reason (free text) to the few fixed
// values of the reason label.
func reasonClass(reason string) string {
	r := strings.ToLower(reason)
	switch {
	case strings.HasPrefix(r, "loop"):
		return "loop"
	case strings.HasPrefix(r, "delivery status"):
		return "dsn"
	case strings.HasPrefix(r, "automatic report"), strings.Contains(r, "auto-repl"),
		strings.Contains(r, "auto-submitted"), strings.Contains(r, "rfc 3834"), strings.Contains(r, "vacation"):
		return "auto-reply"
	case strings.HasPrefix(r, "no rule matched"):
		return "no-rule"
	case strings.HasPrefix(r, "unreadable"):
		return "unreadable"
	case strings.HasPrefix(r, "envelope "):
		return "envelope"
	case strings.HasPrefix(reason, pipeline.ReasonTooBig):
		return "too-big"
	case strings.HasPrefix(reason, pipeline.ReasonBadEntry):
		return "bad-entry"
	}
	return "parser"
}
