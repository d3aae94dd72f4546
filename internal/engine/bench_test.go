package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/bus/bustest"
)

// BenchmarkLiveUnderBackfill: a backfill producer keeps the engine busy
// with jobs of 384 envelopes (a batch of 256 replayed mails) while live
// mail comes one envelope every 2 ms; it reports the latency from a live
// Submit to its Published callback (p50, p99) and the backfill's
// envelopes/s. Live mail must not wait behind a backfill for more than
// about 100 ms at p99 (issue 19).
//
// "sliced" is serve's setting: BackfillTxTime 20ms and, while live mail
// flows, backfill jobs of 96 envelopes (a batch of 64 mails,
// backfill.liveBatch).
func BenchmarkLiveUnderBackfill(b *testing.B) {
	b.Run("whole", func(b *testing.B) { benchLiveUnderBackfill(b, Options{}, 384) })
	b.Run("sliced", func(b *testing.B) { benchLiveUnderBackfill(b, Options{BackfillTxTime: 20 * time.Millisecond}, 96) })
}

func benchLiveUnderBackfill(b *testing.B, o Options, jobEnvs int) {
	o.Journal, o.Publisher, o.Logger = openJournal(b), &bustest.Publisher{}, quiet()
	e := Start(context.Background(), o)
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var back sync.WaitGroup
	backEnvs := 0
	back.Add(1)
	go func() {
		defer back.Done()
		for n := 0; ctx.Err() == nil; n++ {
			envs := make([]*bus.Envelope, jobEnvs)
			for i := range envs {
				envs[i] = env(fmt.Sprintf("back-%d-%d", n, i))
			}
			if e.Submit(ctx, Backfill, &Job{Envelopes: envs}) != nil {
				return
			}
			backEnvs += len(envs)
		}
	}()
	var lat []time.Duration
	var mu sync.Mutex
	var live sync.WaitGroup
	start := time.Now()
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		live.Add(1)
		jb := &Job{Envelopes: []*bus.Envelope{env(fmt.Sprintf("live-%d", i))}, Published: func(error) {
			mu.Lock()
			lat = append(lat, time.Since(t0))
			mu.Unlock()
			live.Done()
		}}
		if err := e.Submit(context.Background(), Live, jb); err != nil {
			b.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	live.Wait()
	cancel()
	back.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(backEnvs)/elapsed.Seconds(), "backfill-envs/s")
}
