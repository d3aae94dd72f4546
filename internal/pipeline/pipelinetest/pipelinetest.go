// Package pipelinetest runs a pipeline the way serve does, through
// (*pipeline.Pipeline).Run, for tests of other packages that need spooled
// mail processed: no second way through the pipeline.
package pipelinetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/pipeline"
)

// Timeout bounds how long Wait waits for a mail's final outcome.
const Timeout = time.Minute

// Runner is a pipeline running in the background (Start), told the final
// outcome of each spooled mail through Options.OnMail.
type Runner struct {
	// P is the running pipeline.
	P *pipeline.Pipeline

	mu      sync.Mutex
	results map[string]*pipeline.Result
	changed chan struct{} // closed and replaced at each outcome

	cancel context.CancelFunc
	ended  chan struct{} // closed when Run returns, runErr set
	runErr error
}

// Start builds a pipeline of o and runs it (Run) until Stop or the end of
// the test. o.OnMail, if set, is still called, before Wait hears of the
// mail. o.Spool must be set.
func Start(t testing.TB, o pipeline.Options) *Runner {
	t.Helper()
	r := &Runner{results: map[string]*pipeline.Result{}, changed: make(chan struct{}), ended: make(chan struct{})}
	onMail := o.OnMail
	o.OnMail = func(name string, res *pipeline.Result) {
		if onMail != nil {
			onMail(name, res)
		}
		if res.Outcome() == pipeline.OutcomeHeld {
			return
		}
		r.mu.Lock()
		r.results[name] = res
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}
	r.P = pipeline.New(o)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.runErr = r.P.Run(ctx); close(r.ended) }()
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("pipeline Run: %v", err)
		}
	})
	return r
}

// Wait waits until each spooled mail of names has its final outcome
// (published, duplicate, journaled or quarantined) and returns their
// Results in the order of names. A mail still without one after Timeout
// (held, or its journal write failing) is an error.
func (r *Runner) Wait(names ...string) ([]*pipeline.Result, error) {
	deadline := time.NewTimer(Timeout)
	defer deadline.Stop()
	out := make([]*pipeline.Result, len(names))
	for i, name := range names {
		for {
			r.mu.Lock()
			res, changed := r.results[name], r.changed
			r.mu.Unlock()
			if res != nil {
				out[i] = res
				break
			}
			select {
			case <-changed:
			case <-r.ended:
				return nil, fmt.Errorf("pipeline Run ended (%v) before %s had an outcome", r.runErr, name)
			case <-deadline.C:
				return nil, fmt.Errorf("%s: no final outcome after %v", name, Timeout)
			}
		}
	}
	return out, nil
}

// Stop ends Run, once what it submitted is published, and returns its
// error (the same at every call).
func (r *Runner) Stop() error {
	r.cancel()
	<-r.ended
	return r.runErr
}
