package replayd

import (
	"context"
	"testing"

	"github.com/debian/mailgw/bus"
)

// BenchmarkQueryRange100: one REQ round trip (fresh connection) fetching
// 100 envelopes from a SQLite journal.
func BenchmarkQueryRange100(b *testing.B) {
	j := newJournal(b, 1000)
	s := startServer(b, j, 1000)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lo := int64(i%900) + 1
		frames, err := QueryRaw(ctx, s.Addr(), SeqRange(lo, lo+99), 0)
		if err != nil || len(frames) != 100 {
			b.Fatal(len(frames), err)
		}
	}
}

// BenchmarkGapFillerInOrder: the per-message cost of tracking when no
// message is missed.
func BenchmarkGapFillerInOrder(b *testing.B) {
	g := NewGapFiller(map[string]string{pubA: replayA}, GapOptions{Logger: quiet})
	ctx := context.Background()
	m := bus.Message{Endpoint: pubA, Env: &bus.Envelope{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Env.SeqID = int64(i + 1)
		if len(g.Filter(ctx, m)) != 1 {
			b.Fatal("not delivered")
		}
	}
}
