package pipeline

import (
	"context"
	"testing"
	"time"
)

// The wait doubles from retry_min up to retry_max (±10% jitter) and
// starts over once a mail is forgotten: a DNS server that stays down
// costs one attempt per mail per retry_max.
func TestRetrierBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newRetrier(ctx, time.Hour, 8*time.Hour)
	want := []time.Duration{1, 2, 4, 8, 8, 8}
	for i, w := range want {
		n, d := r.hold("m")
		lo, hi := time.Duration(float64(w*time.Hour)*0.9), time.Duration(float64(w*time.Hour)*1.1)
		if n != i+1 || d < lo || d > hi {
			t.Errorf("attempt %d: #%d after %v, want #%d after %v±10%%", i+1, n, d, i+1, w*time.Hour)
		}
	}
	r.forget("m")
	if n, d := r.hold("m"); n != 1 || d > 66*time.Minute {
		t.Errorf("after forget: #%d after %v", n, d)
	}
}
