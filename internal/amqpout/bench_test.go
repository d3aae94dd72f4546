package amqpout

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/amqpout/rabbittest"
	"github.com/debian/mailgw/internal/config"
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

// BenchmarkOutlet publishes the corpus's events, journaled again and
// again under new msg_ids, to the test broker with confirms: messages/s
// and the outlet's CPU per message (run with -cpuprofile to see where).
func BenchmarkOutlet(b *testing.B) {
	br := sharedBroker(b)
	j, _ := corpusJournal(b)
	es := entries(b, j)
	for len(es) < b.N {
		var envs []*bus.Envelope
		for _, e := range es[:min(len(es), b.N-len(es))] {
			env, err := bus.ParseEnvelope(e.Body)
			if err != nil {
				b.Fatal(err)
			}
			env.MsgID = fmt.Sprintf("%s-%d", env.MsgID, len(es))
			env.SeqID = 0
			envs = append(envs, env)
		}
		if _, err := j.Add(envs); err != nil {
			b.Fatal(err)
		}
		es = entries(b, j)
	}
	queue(b, br, "amq.topic", "bench-outlet", "org.debian.#", nil)
	last := es[b.N-1].SeqID
	b.ResetTimer()
	cpu0 := cpuTime()
	out, stop := runOutlet(b, limitJournal{j, last}, config.AMQP{URL: br.URL(rabbittest.Admin, rabbittest.AdminPassword), Exchange: "amq.topic"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := out.Wait(ctx, last); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	stop()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}
