package replay

import (
	"log/slog"
	"testing"
)

// BenchmarkReplayDryRun replays a generated mbox of 20,000 mails (every
// test mail in turn) in a dry run; it reports mails/s.
func BenchmarkReplayDryRun(b *testing.B) {
	_, mails := testMails(b)
	cfg := testConfig(b)
	const n = 20000
	f := writeArchive(b, b.TempDir(), "bench.mbox", mails, n)
	o := Options{Mode: ModeDryRun, Config: cfg, Classifier: newClassifier(cfg), Logger: slog.New(slog.DiscardHandler)}
	b.ResetTimer()
	var total float64
	for b.Loop() {
		s := run(b, o, f)
		if s.Mails != n {
			b.Fatalf("%d mails", s.Mails)
		}
		total += s.Elapsed.Seconds()
	}
	b.ReportMetric(float64(n*b.N)/total, "mails/s")
}

// BenchmarkArchiveRead reads the same mbox without classifying: the
// reader's own cost.
func BenchmarkArchiveRead(b *testing.B) {
	_, mails := testMails(b)
	f := writeArchive(b, b.TempDir(), "bench.mbox", mails, 20000)
	b.ResetTimer()
	for b.Loop() {
		if got := len(splitArchiveB(b, f)); got != 20000 {
			b.Fatalf("%d mails", got)
		}
	}
	b.ReportMetric(float64(20000*b.N)/b.Elapsed().Seconds(), "mails/s")
}

// BenchmarkReplayPublish replays 5,000 mails with Ed25519 signing into a
// fresh journal and the in-memory publisher; it reports mails/s.
func BenchmarkReplayPublish(b *testing.B) {
	_, mails := testMails(b)
	f := writeArchive(b, b.TempDir(), "bench.mbox", mails, 5000)
	var total float64
	for b.Loop() {
		b.StopTimer()
		p := newPublishSetup(b)
		p.cfg.SignMessages = true
		o := p.options()
		o.Signer = testSigner(b)
		o.BatchSize, o.CheckpointEvery = 256, 1000
		b.StartTimer()
		s := run(b, o, f)
		total += s.Elapsed.Seconds()
	}
	b.ReportMetric(float64(5000*b.N)/total, "mails/s")
}
