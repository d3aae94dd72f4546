package parsers_test

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/debian/mailgw/parsers"
)

// corpus loads every golden mail for the benchmarks.
func corpus(b *testing.B) [][]byte {
	var mails [][]byte
	for _, f := range goldenFiles(b) {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		mails = append(mails, raw)
	}
	return mails
}

// BenchmarkReadMessageCorpus decodes the golden mails round-robin; one op
// is one mail, so ns/op and allocs/op are per mail.
func BenchmarkReadMessageCorpus(b *testing.B) {
	mails := corpus(b)
	b.ReportAllocs()
	cpu := cpuTime()
	i := 0
	for b.Loop() {
		parsers.ReadMessage(mails[i%len(mails)])
		i++
	}
	reportRates(b, i, cpu)
}

// BenchmarkClassifyCorpus is the parse stage of the pipeline: decode,
// classify and build the payloads (with MailInfo) for each golden mail.
func BenchmarkClassifyCorpus(b *testing.B) {
	mails := corpus(b)
	c := goldenClassifier()
	b.ReportAllocs()
	cpu := cpuTime()
	i := 0
	for b.Loop() {
		m, err := parsers.ReadMessage(mails[i%len(mails)])
		i++
		if err != nil {
			continue
		}
		evs, _ := c.Classify(m)
		for _, e := range evs {
			e.Payload["mail"] = parsers.MailInfo(m)
		}
	}
	reportRates(b, i, cpu)
}

// cpuTime is the CPU time (user and system) this process has used. On a
// busy machine it measures the work better than the wall clock does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRates adds mails/s (wall clock) and mails/cpu-s (process CPU time,
// garbage collection included) for n mails.
func reportRates(b *testing.B, n int, cpuStart time.Duration) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "mails/s")
	if cpu := cpuTime() - cpuStart; cpu > 0 {
		b.ReportMetric(float64(n)/cpu.Seconds(), "mails/cpu-s")
	}
}
