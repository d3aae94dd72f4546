package spool

import (
	"bytes"
	"runtime"
	"testing"
)

// benchMail is a typical dak announce size.
var benchMail = bytes.Repeat([]byte("Accepted: bash 3.2-2 (source all amd64) into unstable\r\n"), 80)

// BenchmarkSpoolDeliver measures fsynced deliveries: one at a time, and
// from 50 goroutines at once (the SMTP target: 50 concurrent clients),
// where the group commit of directory fsyncs matters. Report mails/s.
func BenchmarkSpoolDeliver(b *testing.B) {
	b.Run("sequential", func(b *testing.B) {
		s := newSpool(b)
		b.SetBytes(int64(len(benchMail)))
		for b.Loop() {
			if _, err := s.Deliver(bytes.NewReader(benchMail), 0); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
	})
	b.Run("parallel50", func(b *testing.B) {
		s := newSpool(b)
		b.SetBytes(int64(len(benchMail)))
		// RunParallel starts parallelism × GOMAXPROCS goroutines.
		b.SetParallelism(max(1, 50/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Deliver(bytes.NewReader(benchMail), 0); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
	})
}

// BenchmarkSpoolCycle measures what serve does per mail in steady state,
// Deliver then Done, from 50 goroutines, with file recycling (recycle.go)
// and without (a new inode per mail, unlinked after). Report mails/s.
func BenchmarkSpoolCycle(b *testing.B) {
	for _, recycle := range []bool{true, false} {
		name := "recycle"
		if !recycle {
			name = "unlink"
		}
		b.Run(name, func(b *testing.B) {
			s := newSpool(b)
			s.SetRecycling(recycle)
			b.SetBytes(int64(len(benchMail)))
			b.SetParallelism(max(1, 50/runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n, err := s.Deliver(bytes.NewReader(benchMail), 0)
					if err == nil {
						err = s.Done(n)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
		})
	}
}
