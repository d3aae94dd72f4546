package journal

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debian/mailgw/bus"
)

// BenchmarkJournalAddMark journals batches of 256 envelopes with bodies
// of about 3 KiB (a replayed upload's size) and marks each batch
// published, as replay --publish does; it reports envelopes per second.
func BenchmarkJournalAddMark(b *testing.B) {
	j := open(b, filepath.Join(b.TempDir(), "j.sqlite"))
	n := 0
	for b.Loop() {
		envs := uploadBatch(&n, "2008-%d")
		added, err := j.Add(envs)
		if err != nil || len(added) != len(envs) {
			b.Fatal(len(added), err)
		}
		if err := j.MarkPublished(seqs(added)...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "envelopes/s")
}

// uploadBatch makes 256 envelopes with bodies of about 3 KiB, msg_ids
// made of format and the count *n, which it advances.
func uploadBatch(n *int, format string) []*bus.Envelope {
	text := strings.Repeat("0123456789abcdef", 190)
	envs := make([]*bus.Envelope, 256)
	for i := range envs {
		msg := map[string]any{"source": "bash", "changes": text}
		envs[i] = bus.NewEnvelope("org.debian.dev.dak.package.upload", msg, fmt.Sprintf(format, *n), int64(*n), "mailgw")
		*n++
	}
	return envs
}

// BenchmarkQueryRange100 reads 100 envelopes of 3 KiB by seq_id range
// (the replay endpoint's gap-fill query), and BenchmarkPruneMark the
// check every query now makes first (one single-row SELECT): run
// together, their ratio is what the "pruned" answer costs a query.
func BenchmarkQueryRange100(b *testing.B) {
	j := open(b, filepath.Join(b.TempDir(), "j.sqlite"))
	n := 0
	for range 4 {
		if _, err := j.Add(uploadBatch(&n, "2008-%d")); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		lo := int64(i%900) + 1
		i++
		if bodies, err := j.BySeqRange(lo, lo+99, 1000); err != nil || len(bodies) != 100 {
			b.Fatal(len(bodies), err)
		}
	}
}

func BenchmarkPruneMark(b *testing.B) {
	j := open(b, filepath.Join(b.TempDir(), "j.sqlite"))
	for b.Loop() {
		if _, err := j.Pruned(); err != nil {
			b.Fatal(err)
		}
	}
}
