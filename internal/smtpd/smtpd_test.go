package smtpd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/mailerr"
	"github.com/debian/mailgw/internal/smtpd/smtpdtest"
	"github.com/debian/mailgw/internal/spool"
	"github.com/emersion/go-smtp"
)

func TestDeliverOK(t *testing.T) {
	sp := &smtpdtest.FakeSpooler{}
	ts := startServer(t, sp, false, nil)
	c := dial(t, ts.addr)
	c.expect("220 ")
	c.send("EHLO test.example")
	var caps []string
	for {
		line, _ := c.r.ReadString('\n')
		caps = append(caps, strings.TrimSpace(line))
		if len(line) < 4 || line[3] != '-' {
			break
		}
	}
	if !strings.Contains(strings.Join(caps, "\n"), "SIZE 33554432") {
		t.Errorf("EHLO does not advertise SIZE: %q", caps)
	}
	if got := c.sendMail(testMail); !strings.HasPrefix(got, "250 2.0.0") {
		t.Fatalf("DATA: %q", got)
	}
	mails := sp.Mails()
	if len(mails) != 1 || string(mails[0]) != testMail {
		t.Fatalf("spooled %q, want %q", mails, testMail)
	}
	// The client's address goes with the mail (trust judges it), and the
	// envelope sender, which any client can choose, does not.
	if o := sp.Origins(); len(o) != 1 || o[0] != (spool.Origin{Relay: netip.MustParseAddr("127.0.0.1")}) {
		t.Fatalf("origins %+v", o)
	}
	// A second transaction on the same connection works too.
	if got := c.sendMail(testMail); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("second DATA: %q", got)
	}
	c.cmd("QUIT", "221 ")
}

func TestLMTPOneReplyPerRecipient(t *testing.T) {
	sp := &smtpdtest.FakeSpooler{}
	ts := startServer(t, sp, true, nil)
	c := dial(t, ts.addr)
	c.hello("LHLO")
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	c.cmd("RCPT TO:<one@localhost>", "250 ")
	c.cmd("RCPT TO:<two@localhost>", "250 ")
	c.cmd("DATA", "354 ")
	c.send(testMail + ".")
	if got := c.expect("250 "); !strings.Contains(got, "<one@localhost>") {
		t.Errorf("first LMTP reply %q does not name one@localhost", got)
	}
	if got := c.expect("250 "); !strings.Contains(got, "<two@localhost>") {
		t.Errorf("second LMTP reply %q does not name two@localhost", got)
	}
	if n := len(sp.Mails()); n != 1 {
		t.Errorf("spooled %d copies, want 1", n)
	}
}

func TestSpoolErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{mailerr.SpoolFailed(errors.New("no such directory")), "451 4.3.0 "},
		{mailerr.SpoolFull(errors.New("12 MB free")), "452 4.3.1 "},
		{errors.New("plain error"), "451 4.3.0 "}, // never a 554
	} {
		sp := &smtpdtest.FakeSpooler{Err: tc.err}
		ts := startServer(t, sp, false, nil)
		c := dial(t, ts.addr)
		c.hello("EHLO")
		if got := c.sendMail(testMail); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%v: DATA reply %q, want %q", tc.err, got, tc.want)
		}
		if strings.Contains(c.cmd("NOOP", "250 "), "directory") {
			t.Errorf("details leaked to the client")
		}
	}
}

func TestTooBig(t *testing.T) {
	sp := &smtpdtest.FakeSpooler{}
	ts := startServer(t, sp, false, func(c *config.SMTP) { c.MaxMessageBytes = 1000 })
	c := dial(t, ts.addr)
	c.hello("EHLO")
	c.cmd("MAIL FROM:<a@example.org> SIZE=5000", "552 5.3.4 ")
	big := testMail + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 30)
	if got := c.sendMail(big); !strings.HasPrefix(got, "552 5.3.4 ") {
		t.Fatalf("over-size DATA: %q", got)
	}
	if got := c.sendMail(testMail); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("DATA after a too-big mail: %q", got)
	}

	if n := len(sp.Mails()); n != 1 {
		t.Errorf("spooled %d mails, want 1", n)
	}
}

func TestClientNotAllowed(t *testing.T) {
	sp := &smtpdtest.FakeSpooler{}
	ts := startServer(t, sp, false, func(c *config.SMTP) { c.AllowedNetworks = []string{"127.0.0.1/32"} })
	// Refused at connect, before it takes a slot, and hung up on.
	c := dialFrom(t, ts.addr, &net.TCPAddr{IP: net.ParseIP("127.0.0.2")})
	c.expect("554 5.7.1 ")
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.r.ReadByte(); err == nil {
		t.Errorf("connection from 127.0.0.2 still open after 554")
	}
	ok := dial(t, ts.addr)
	ok.hello("EHLO")
	if got := ok.sendMail(testMail); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("allowed client: %q", got)
	}
	if n := len(sp.Mails()); n != 1 {
		t.Errorf("spooled %d mails, want 1", n)
	}
}

func TestRecipientNotAllowed(t *testing.T) {
	sp := &smtpdtest.FakeSpooler{}
	ts := startServer(t, sp, false, func(c *config.SMTP) {
		c.AllowedRecipients = []string{"mailgw@localhost", "@Bugs.Debian.org"}
	})
	c := dial(t, ts.addr)
	c.hello("EHLO")
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	c.cmd("RCPT TO:<someone@example.com>", "550 5.7.1 ")
	c.cmd("RCPT TO:<MailGW@localhost>", "250 ")
	c.cmd("RCPT TO:<123@bugs.debian.org>", "250 ")
	c.cmd("RCPT TO:<x@notbugs.debian.org>", "550 5.7.1 ")
}

func TestAllowList(t *testing.T) {
	if _, err := newAllowList([]string{"nope"}); err == nil {
		t.Error("allow list accepted an entry without @")
	}
	a, err := newAllowList(nil)
	if err != nil || !a.allows("anyone@anywhere") {
		t.Errorf("empty allow list does not allow everyone: %v", err)
	}
}

func TestCheck(t *testing.T) {
	cfg := config.Defaults().SMTP
	if err := Check(cfg); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cfg.AllowedNetworks = []string{"127.0.0.1/33"}
	cfg.Listen = "no-port"
	cfg.TLSCert, cfg.TLSKey = "/nonexistent/cert.pem", "/nonexistent/key.pem"
	err := Check(cfg)
	for _, want := range []string{"allowed_networks", "smtp.listen", "tls_cert"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check error %v does not mention %s", err, want)
		}
	}
}

func TestMaxConnections(t *testing.T) {
	ts := startServer(t, &smtpdtest.FakeSpooler{}, false, func(c *config.SMTP) { c.MaxConnections = 2 })
	a, b := dial(t, ts.addr), dial(t, ts.addr)
	a.expect("220 ")
	b.expect("220 ")
	over := dial(t, ts.addr)
	over.expect("421 ")
	if got := over.reply(); !strings.HasPrefix(got, "EOF") {
		t.Errorf("rejected connection not closed: %q", got)
	}
	// The held connections still work: nothing acknowledged is lost.
	a.cmd("EHLO x", "250 ")
	if got := a.sendMail(testMail); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("DATA on a held connection: %q", got)
	}
	b.cmd("QUIT", "221 ")
	// Once b's slot is free a new client gets in (the close is asynchronous).
	for i := 0; ; i++ {
		c := dial(t, ts.addr)
		if strings.HasPrefix(c.reply(), "220 ") {
			break
		}
		if i == 100 {
			t.Fatal("slot never freed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStallMidData(t *testing.T) {
	sp := &smtpdtest.FakeSpooler{}
	ts := startServer(t, sp, false, func(c *config.SMTP) { c.ReadTimeout = config.Duration{Duration: 200 * time.Millisecond} })
	c := dial(t, ts.addr)
	c.hello("EHLO")
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	c.cmd("RCPT TO:<mailgw@localhost>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: half a mail")
	// Stall: the next thing we hear must not be a 250.
	if got := c.reply(); strings.HasPrefix(got, "250") {
		t.Fatalf("stalled DATA acknowledged: %q", got)
	} else if !strings.HasPrefix(got, "451 4.4.2") && !strings.HasPrefix(got, "421 ") && !strings.HasPrefix(got, "EOF") {
		t.Errorf("stalled DATA: %q, want 451 4.4.2, 421 or a closed connection", got)
	}
	if n := len(sp.Mails()); n != 0 {
		t.Errorf("spooled %d mails from a stalled client", n)
	}
}

func TestLongLine(t *testing.T) {
	sp := &smtpdtest.FakeSpooler{}
	ts := startServer(t, sp, false, nil)
	c := dial(t, ts.addr)
	c.hello("EHLO")
	long := testMail + strings.Repeat("y", MaxLineLength+10) + "\r\n"
	if got := c.sendMail(long); !strings.HasPrefix(got, "552 5.3.4 Line too long") {
		t.Fatalf("DATA with an over-long line: %q", got)
	}
	if n := len(sp.Mails()); n != 0 {
		t.Errorf("spooled %d mails", n)
	}
}

func TestSMTPReply(t *testing.T) {
	cases := []struct {
		name     string
		err      error
		code     int
		enhanced smtp.EnhancedCode
	}{
		{"spool full wrapped", fmt.Errorf("deliver: %w", mailerr.SpoolFull(errors.New("ENOSPC"))), 452, smtp.EnhancedCode{4, 3, 1}},
		{"too big", mailerr.TooBig(10), 552, smtp.EnhancedCode{5, 3, 4}},
		{"plain error is temporary", errors.New("disk on fire"), 451, smtp.EnhancedCode{4, 3, 0}},
		{"go-smtp's reply kept", fmt.Errorf("w: %w", &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "m"}), 554, smtp.EnhancedCode{5, 6, 0}},
	}
	for _, c := range cases {
		se := smtpReply(c.err)
		if se.Code != c.code || se.EnhancedCode != c.enhanced {
			t.Errorf("%s: smtpReply = %d %v, want %d %v", c.name, se.Code, se.EnhancedCode, c.code, c.enhanced)
		}
	}
	if smtpReply(nil) != nil {
		t.Error("smtpReply(nil) is not nil")
	}
	// A read error of go-smtp's (its size limit) wins over the spool's.
	if err := classify(mailerr.SpoolFailed(smtp.ErrDataTooLarge), smtp.ErrDataTooLarge, 10); mailerr.Reply(err).Code != 552 {
		t.Errorf("classify(ErrDataTooLarge) = %v, want 552", err)
	}
}
