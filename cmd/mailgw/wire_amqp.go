package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/debian/mailgw/internal/amqpout"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/journal"
	"github.com/debian/mailgw/internal/metrics"
)

// amqpOutlet is the AMQP outlet of serve or replay --publish: made by
// newAMQP, run by start, ended by stop.
type amqpOutlet struct {
	*amqpout.Outlet
	j      *journal.Journal
	log    *slog.Logger
	m      *metrics.Metrics // nil: no metrics, no /healthz
	cancel context.CancelFunc
	done   chan struct{}
}

// newAMQP makes the AMQP outlet when [amqp] is enabled (nil, nil when it
// is not): it checks the URL, loads the TLS files and opens the outlet's
// watermark in the journal; it does not connect. Errors are
// configuration errors. m (nil: none) gets its metrics and its /healthz
// reason once it runs.
func newAMQP(cfg *config.Config, j *journal.Journal, log *slog.Logger, m *metrics.Metrics) (*amqpOutlet, error) {
	if !cfg.AMQP.Enabled {
		return nil, nil
	}
	a := &amqpOutlet{j: j, log: log.With("component", "amqp"), m: m}
	out, err := amqpout.New(amqpout.Options{
		Config:  cfg.AMQP,
		Journal: j,
		Logger:  a.log,
		OnState: func(err error) {
			if err != nil {
				err = errors.New("broker unreachable or refusing: " + err.Error())
			}
			setAMQPHealth(m, err)
		},
	})
	if err != nil {
		return nil, err
	}
	a.Outlet = out
	return a, nil
}

// forgetAMQP drops the outlet's watermark: serve, whose config is the
// gateway's own, calls it when [amqp] is off, because the watermark
// would otherwise hold journal pruning back for good. (replay --publish
// leaves it: the events it journals wait for serve's outlet.)
func forgetAMQP(j *journal.Journal, log *slog.Logger) error {
	mark, existed, err := j.DropOutlet(amqpout.OutletName)
	if err == nil && existed {
		log.Warn("amqp: [amqp] is off: the outlet's watermark is forgotten; turned on again, it starts per amqp.start",
			"component", "amqp", "was_at_seq_id", mark)
	}
	return err
}

// start runs the outlet and installs its metrics.
func (a *amqpOutlet) start() {
	a.m.SetAMQPProbe(func() metrics.AMQPStatus {
		st := a.Status()
		backlog, err := a.Backlog()
		return metrics.AMQPStatus{Connected: st.Connected, Published: st.Published, Confirmed: st.Confirmed,
			Nacked: st.Nacked, Skipped: st.Skipped, Connects: st.Connects, Failures: st.Failures,
			Mark: st.Mark, Backlog: backlog, BacklogErr: err}
	})
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel, a.done = cancel, make(chan struct{})
	go func() {
		defer close(a.done)
		a.Run(ctx)
	}()
}

// stop stops a started outlet (after the confirms of what it sent, for a
// few seconds at most) and takes its metrics and /healthz reason away.
func (a *amqpOutlet) stop() {
	if a == nil || a.cancel == nil {
		return
	}
	a.cancel()
	<-a.done
	a.m.SetAMQPProbe(nil)
	setAMQPHealth(a.m, nil)
}

// amqpIdle bounds how long drain waits for the broker to confirm more.
const amqpIdle = 10 * time.Second

// drain waits until the broker confirmed everything journaled, for as
// long as it keeps confirming (replay --publish ends with its events on
// the broker); what is left waits in the journal for serve's outlet.
func (a *amqpOutlet) drain() {
	last, err := a.j.LastSeq()
	if err != nil {
		a.log.Warn("amqp: journal", "err", err)
		return
	}
	for {
		before := a.Status().Mark
		ctx, cancel := context.WithTimeout(context.Background(), amqpIdle)
		err := a.Wait(ctx, last)
		cancel()
		if err == nil {
			return
		}
		if a.Status().Mark == before {
			a.log.Warn("amqp: the broker confirmed nothing for a while; the rest waits in the journal for serve's outlet",
				"unconfirmed", last-before, "err", a.Status().Err)
			return
		}
	}
}

// setAMQPHealth puts the outlet's failure on /healthz (nil: none).
func setAMQPHealth(m *metrics.Metrics, err error) { m.SetFailing("amqp", err) }
