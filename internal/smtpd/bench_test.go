package smtpd

import (
	"io"
	"net/smtp"
	"testing"
)

// BenchmarkSMTPTransaction measures one MAIL/RCPT/DATA transaction over a
// kept-open connection against the in-memory spooler (protocol cost only;
// bench/smtp_ingest.sh measures the daemon with the real spool).
func BenchmarkSMTPTransaction(b *testing.B) {
	sp := &FakeSpooler{}
	ts := startServer(b, sp, false, nil)
	b.RunParallel(func(pb *testing.PB) {
		c, err := smtp.Dial(ts.addr)
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
