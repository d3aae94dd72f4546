// Package bustest has test doubles for the bus package: an in-memory
// Publisher that records what it is given, for unit tests of code that
// publishes without a ZeroMQ socket.
package bustest

import (
	"context"
	"errors"
	"sync"

	"github.com/debian/mailgw/bus"
)

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("bustest: publisher closed")

// Publisher is an in-memory bus.Publisher. It sets env.I from 1 like the
// real publisher, keeps a copy of each envelope (and its canonical body),
// and can be told to fail. The zero value is ready to use and it is safe
// for concurrent use.
type Publisher struct {
	mu     sync.Mutex
	envs   []*bus.Envelope
	bodies [][]byte
	i      int64
	closed bool
	// Err, when set, is returned by Publish and nothing is recorded.
	Err error
}

var _ bus.Publisher = (*Publisher)(nil)

// Publish records env (a shallow copy, after setting env.I) and its
// canonical body. It fails if the envelope has no canonical form, like
// the real publisher.
func (p *Publisher) Publish(ctx context.Context, env *bus.Envelope) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if p.Err != nil {
		return p.Err
	}
	env.I = p.i + 1
	body, err := env.Marshal()
	if err != nil {
		env.I = 0
		return err
	}
	p.i++
	cp := *env
	p.envs = append(p.envs, &cp)
	p.bodies = append(p.bodies, body)
	return nil
}

// Close makes later Publish calls fail with ErrClosed.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return nil
}

// Envelopes returns the envelopes published so far, in order.
func (p *Publisher) Envelopes() []*bus.Envelope {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*bus.Envelope(nil), p.envs...)
}

// Bodies returns the canonical wire bodies published so far, in order.
func (p *Publisher) Bodies() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.bodies...)
}

// Topics returns the topics published so far, in order.
func (p *Publisher) Topics() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, len(p.envs))
	for i, e := range p.envs {
		out[i] = e.Topic
	}
	return out
}

// Reset forgets what was published (the I counter keeps counting).
func (p *Publisher) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.envs, p.bodies = nil, nil
}
