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

// amqpOutlet is the running AMQP outlet of serve or replay --publish.
type amqpOutlet struct {
	*amqpout.Outlet
	j      *journal.Journal
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

// startAMQP starts the AMQP outlet when [amqp] is enabled (nil, nil when
// it is not), with its metrics and its /healthz reason on m (nil: none).
// forget, for serve, whose config is the gateway's own, makes a disabled
// [amqp] forget the outlet's watermark, which would otherwise hold
// journal pruning back for good; replay --publish leaves it alone (the
// events it journals wait for serve's outlet). Errors are configuration
// errors (TLS files, URL).
func startAMQP(cfg *config.Config, j *journal.Journal, log *slog.Logger, m *metrics.Metrics, forget bool) (*amqpOutlet, error) {
	log = log.With("component", "amqp")
	if !cfg.AMQP.Enabled {
		if !forget {
			return nil, nil
		}
		mark, existed, err := j.DropOutlet(amqpout.OutletName)
		if err != nil {
			return nil, err
		}
		if existed {
			log.Warn("amqp: [amqp] is off: the outlet's watermark is forgotten; turned on again, it starts per amqp.start",
				"was_at_seq_id", mark)
		}
		return nil, nil
	}
	out, err := amqpout.New(amqpout.Options{
		Config:      cfg.AMQP,
		TopicPrefix: cfg.TopicPrefix,
		Journal:     j,
		Logger:      log,
		OnState: func(err error) {
			if err != nil {
				err = errors.New("broker unreachable or refusing: " + err.Error())
			}
			_ = err // TODO(amqp): /healthz reason, with hostile's SetFailing
		},
	})
	if err != nil {
		return nil, err
	}
	m.SetAMQPProbe(func() metrics.AMQPStatus {
		st := out.Status()
		backlog, err := out.Backlog()
		return metrics.AMQPStatus{Connected: st.Connected, Published: st.Published, Confirmed: st.Confirmed,
			Nacked: st.Nacked, Skipped: st.Skipped, Connects: st.Connects, Failures: st.Failures,
			Mark: st.Mark, Backlog: backlog, BacklogErr: err}
	})
	ctx, cancel := context.WithCancel(context.Background())
	a := &amqpOutlet{Outlet: out, j: j, log: log, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		out.Run(ctx)
	}()
	return a, nil
}

// amqpIdle bounds how long drain waits for the broker to confirm more.
const amqpIdle = 10 * time.Second

// drain waits until the broker confirmed everything journaled, for as
// long as it keeps confirming (replay --publish ends with its events on
// the broker); what is left waits in the journal for the next outlet.
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

// stop stops the outlet (after the confirms of what it sent, briefly).
func (a *amqpOutlet) stop() {
	if a == nil {
		return
	}
	a.cancel()
	<-a.done
}

