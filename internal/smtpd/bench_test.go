package smtpd

import (
	"io"
	"net/smtp"
	"testing"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/smtpd/smtpdtest"
	"github.com/debian/mailgw/internal/spool"
)

// BenchmarkSMTPTransaction measures one MAIL/RCPT/DATA transaction over a
// kept-open connection against the in-memory spooler (protocol cost only;
// bench/smtp_ingest.sh measures the daemon with the real spool).
func BenchmarkSMTPTransaction(b *testing.B) {
	sp := &smtpdtest.FakeSpooler{}
	ts := startServer(b, sp, false, nil)
	sendParallel(b, ts.addr)
}

// BenchmarkSMTPIngestSpool is BenchmarkSMTPTransaction against the real
// Maildir spool (fsync per mail, grouped directory fsyncs) with 50
// concurrent clients, as bench/smtp_ingest.sh does against the daemon.
func BenchmarkSMTPIngestSpool(b *testing.B) {
	dir := b.TempDir()
	if err := spool.Create(dir); err != nil {
		b.Fatal(err)
	}
	sp, err := spool.Open(dir, 0)
	if err != nil {
		b.Fatal(err)
	}
	ts := startServer(b, sp, false, func(c *config.SMTP) { c.MaxConnections = 1000 })
	b.SetParallelism(25) // 2 CPUs × 25 = 50 clients
	sendParallel(b, ts.addr)
}

// sendParallel runs MAIL/RCPT/DATA transactions from parallel clients,
// each on one kept-open connection, until b.N are done.
func sendParallel(b *testing.B, addr string) {
	b.RunParallel(func(pb *testing.PB) {
		c, err := smtp.Dial(addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		for pb.Next() {
			if err := c.Mail("a@example.org"); err != nil {
				b.Error(err)
				return
			}
			if err := c.Rcpt("mailgw@localhost"); err != nil {
				b.Error(err)
				return
			}
			w, err := c.Data()
			if err != nil {
				b.Error(err)
				return
			}
			io.WriteString(w, testMail)
			if err := w.Close(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
