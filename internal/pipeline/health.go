package pipeline

import (
	"sync"
	"time"

	"github.com/debian/mailgw/internal/engine"
)

// Components whose failures the pipeline reports to Options.Health.
const (
	ComponentJournal    = engine.ComponentJournal
	ComponentQuarantine = "quarantine"
)

// Health is told when a component starts or stops failing: err is the
// failure, nil when the component works again. *metrics.Metrics
// implements it (/healthz).
type Health interface {
	SetFailing(component string, err error)
}

// failed reports a component's state to Options.Health.
func (p *Pipeline) failed(component string, err error) {
	if p.o.Health != nil {
		p.o.Health.SetFailing(component, err)
	}
}

// Retry backoff: a failed mail (a spool read or quarantine that failed)
// is picked up again by a rescan of new/ after retryMin, doubling to
// retryMax while failures go on.
const (
	retryMin = time.Second
	retryMax = 30 * time.Second
)

// retry is the state of the rescan backoff.
type retry struct {
	mu      sync.Mutex
	pending bool
	delay   time.Duration
	last    time.Time
}

// retryLater asks the spool for a rescan after the backoff; calls while
// one is pending add nothing.
func (p *Pipeline) retryLater() {
	r := &p.retry
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending || p.o.Spool == nil {
		return
	}
	if time.Since(r.last) > 2*retryMax {
		r.delay = 0 // failures long ago: start over
	}
	r.delay = min(max(2*r.delay, retryMin), retryMax)
	r.pending, r.last = true, time.Now()
	time.AfterFunc(r.delay, func() {
		r.mu.Lock()
		r.pending = false
		r.mu.Unlock()
		p.o.Spool.Rescan()
	})
}
