package debbugs

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/debian/mailgw/parsers"
)

// benchMails loads the debbugs corpus mix: the 1NN golden mails and every
// mail of the spool logs.
func benchMails(b *testing.B) [][]byte {
	b.Helper()
	var mails [][]byte
	files, _ := filepath.Glob(filepath.Join(mailsDir, "1[0-9][0-9]-*.eml"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		mails = append(mails, raw)
	}
	logs, _ := filepath.Glob("testdata/*.log")
	for _, f := range logs {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		recs, err := splitLog(data)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			mails = append(mails, r.mail)
		}
	}
	if len(mails) < 100 {
		b.Fatalf("only %d mails", len(mails))
	}
	return mails
}

// BenchmarkDebbugsCorpus decodes (parsers.ReadMessage) and parses every
// mail of the mix once per iteration, with debmessenger compat on; it
// reports mails/s and allocations per mail.
func BenchmarkDebbugsCorpus(b *testing.B) {
	mails := benchMails(b)
	p := New(Options{Compat: true})
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, m0 := cpuSeconds(), mallocs()
	for i := 0; i < b.N; i++ {
		for _, raw := range mails {
			m, err := parsers.ReadMessage(raw)
			if err != nil {
				b.Fatal(err)
			}
			p.Parse(m)
		}
	}
	b.StopTimer()
	n := float64(b.N * len(mails))
	b.ReportMetric(n/b.Elapsed().Seconds(), "mails/s")
	b.ReportMetric(n/(cpuSeconds()-cpu0), "mails/cpu-s")
	b.ReportMetric(float64(mallocs()-m0)/n, "allocs/mail")
}

// BenchmarkDebbugsParse is the parser alone on already decoded mail.
func BenchmarkDebbugsParse(b *testing.B) {
	raws := benchMails(b)
	ms := make([]*parsers.Message, len(raws))
	for i, raw := range raws {
		m, err := parsers.ReadMessage(raw)
		if err != nil {
			b.Fatal(err)
		}
		ms[i] = m
	}
	p := New(Options{Compat: true})
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, m0 := cpuSeconds(), mallocs()
	for i := 0; i < b.N; i++ {
		for _, m := range ms {
			p.Parse(m)
		}
	}
	b.StopTimer()
	n := float64(b.N * len(ms))
	b.ReportMetric(n/b.Elapsed().Seconds(), "mails/s")
	b.ReportMetric(n/(cpuSeconds()-cpu0), "mails/cpu-s")
	b.ReportMetric(float64(mallocs()-m0)/n, "allocs/mail")
}

// cpuSeconds is the CPU time (user and system) this process has used: on
// a shared machine mails per CPU-second is the per-core rate, where
// mails/s also counts time the benchmark spent waiting for a core.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// mallocs is the number of heap allocations made so far.
func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}
