package pipeline

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// retrier schedules the mails Run holds (Result.Held: a temporary failure,
// such as a DKIM key lookup while DNS is down, leaves them undecided):
// each comes back on due after min, then twice as long each time up to
// max, with ±10% jitter so that many held mails do not come back at once.
// A DNS server that stays down thus costs one attempt per mail per max,
// never a busy loop.
type retrier struct {
	ctx      context.Context
	min, max time.Duration
	due      chan string

	mu       sync.Mutex
	attempts map[string]int
}

func newRetrier(ctx context.Context, first, limit time.Duration) *retrier {
	if first <= 0 {
		first = time.Second
	}
	return &retrier{ctx: ctx, min: first, max: max(limit, first), due: make(chan string), attempts: map[string]int{}}
}

// hold schedules name's next attempt and returns its number and the wait.
func (r *retrier) hold(name string) (int, time.Duration) {
	r.mu.Lock()
	r.attempts[name]++
	n := r.attempts[name]
	r.mu.Unlock()
	d := r.min
	for i := 1; i < n && d < r.max; i++ {
		d *= 2
	}
	d = min(d, r.max)
	d += time.Duration((rand.Float64() - 0.5) * 0.2 * float64(d))
	time.AfterFunc(d, func() {
		select {
		case r.due <- name:
		case <-r.ctx.Done():
		}
	})
	return n, d
}

// forget drops what is known of name (it was judged, or is gone).
func (r *retrier) forget(name string) {
	r.mu.Lock()
	delete(r.attempts, name)
	r.mu.Unlock()
}
