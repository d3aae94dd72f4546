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
