package auth

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/auth/authtest"
	"github.com/debian/mailgw/parsers"
)

// BenchmarkCheckCached is the DKIM check of a real debbugs mail (signed
// again here, RSA-2048 like Debian's keys, relaxed/relaxed) with its key
// cached: the cost verification adds per signed mail. Target (issue 13):
// at least 5,000 mails per second per core, -cpu 1.
func BenchmarkCheckCached(b *testing.B) {
	benchCheck(b, authtest.RSAKey(b))
}

// BenchmarkCheckCachedEd25519 is the same with an Ed25519 key.
func BenchmarkCheckCachedEd25519(b *testing.B) {
	benchCheck(b, authtest.Ed25519Key(b))
}

func benchCheck(b *testing.B, key *authtest.Key) {
	raw, err := os.ReadFile("../../testdata/mails/117-done-1000974-by-done-mail.eml")
	if err != nil {
		b.Fatal(err)
	}
	// One signature, as Debian's mail has: the original one goes.
	signed := authtest.Resign(b, raw, "bugs.example.org", "sel1", key)
	m, err := parsers.ReadMessage(signed)
	if err != nil {
		b.Fatal(err)
	}
	v, err := New(trustConfig("127.0.0.1:9"), fixedResolver{record: key.Record})
	if err != nil {
		b.Fatal(err)
	}
	if d := v.Check(m, Intake{}, debbugsEvents); !d.Trusted {
		b.Fatalf("not trusted: %+v", d)
	}
	b.SetBytes(int64(len(signed)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		if d := v.Check(m, Intake{}, debbugsEvents); !d.Trusted {
			b.Fatal("not trusted")
		}
	}
	// On a shared machine the CPU clock is steadier than the wall clock.
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "mails/cpu-s")
}

// cpuTime is the CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
