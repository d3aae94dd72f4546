package amqpout

import (
	"syscall"
	"testing"
	"time"
)

// BenchmarkMessage makes the AMQP messages of the corpus events: the
// outlet's own CPU per message, besides the client's encoding and the
// journal's reads.
func BenchmarkMessage(b *testing.B) {
	j, _ := corpusJournal(b)
	es := entries(b, j)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		e := &es[i%len(es)]
		if _, err := NewMessage(e, int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system CPU time: steadier than the
// wall clock on a machine others load too.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBuild is BenchmarkMessage as the outlet makes its messages:
// one builder, reused.
func BenchmarkBuild(b *testing.B) {
	j, _ := corpusJournal(b)
	es := entries(b, j)
	var mb builder
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		e := &es[i%len(es)]
		if _, err := mb.build(e, int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}
