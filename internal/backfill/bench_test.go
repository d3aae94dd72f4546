package backfill

import (
	"log/slog"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time so far. Benchmarks report
// mails per CPU-second too: on a shared machine wall time is noisy.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

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
	cpu0 := cpuTime()
	for b.Loop() {
		s := run(b, o, f)
		if s.Mails != n {
			b.Fatalf("%d mails", s.Mails)
		}
		total += s.Elapsed.Seconds()
	}
	b.ReportMetric(float64(n*b.N)/total, "mails/s")
	b.ReportMetric(float64(n*b.N)/(cpuTime()-cpu0).Seconds(), "mails/cpu-s")
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
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		p := newPublishSetup(b)
		p.cfg.SignMessages = true
		o := p.options()
		o.Signer = testSigner(b)
		o.BatchSize, o.CheckpointEvery = 256, 1000
		b.StartTimer()
		cpu0 := cpuTime()
		s := run(b, o, f)
		cpu += cpuTime() - cpu0
		total += s.Elapsed.Seconds()
	}
	b.ReportMetric(float64(5000*b.N)/total, "mails/s")
	b.ReportMetric(float64(5000*b.N)/cpu.Seconds(), "mails/cpu-s")
}
