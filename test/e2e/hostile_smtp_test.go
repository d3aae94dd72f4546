//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHostileSMTPSlots (issue 14, item 6): clients from outside
// smtp.allowed_networks are refused at connect (554) and never hold a
// slot, one address cannot take more than max_connections_per_address,
// and a client that dribbles a byte a second is dropped when the
// command's or DATA's total deadline runs out, although every single
// read is within read_timeout.
func TestHostileSMTPSlots(t *testing.T) {
	d := newDaemon(t,
		`allowed_networks = ["127.0.0.1/32", "127.0.0.3/32"]`,
		`max_connections = 10`,
		`max_connections_per_address = 4`,
		`read_timeout = "3s"`,
		`command_timeout = "5s"`,
		`data_timeout = "6s"`)
	d.start()

	// 20 idle clients from a network that is not allowed: each is told
	// 554 and hung up on.
	for i := range 20 {
		c := dialRaw(t, d.smtpAddr(), &net.TCPAddr{IP: net.ParseIP("127.0.0.2")})
		if got := c.reply(); !strings.HasPrefix(got, "554 5.7.1") {
			t.Fatalf("client %d from 127.0.0.2: greeting %q, want 554 5.7.1", i, got)
		}
		if got := c.reply(); !strings.HasPrefix(got, "EOF") {
			t.Fatalf("client %d from 127.0.0.2 still connected after 554: %q", i, got)
		}
	}
	// An allowed address holds at most 4 of the 10 slots.
	var greetings []string
	for range 10 {
		c := dialRaw(t, d.smtpAddr(), &net.TCPAddr{IP: net.ParseIP("127.0.0.3")})
		greetings = append(greetings, c.reply()[:3])
	}
	if got := strings.Join(greetings, " "); got != "220 220 220 220 421 421 421 421 421 421" {
		t.Errorf("greetings to 10 clients from 127.0.0.3: %s", got)
	}
	// The MTA on 127.0.0.1 still gets through (a real SMTP client).
	if out := d.swaks(t, corpus("100-report-476920-xulrunner-FTBFS-sparc.eml")); !regexp.MustCompile(`(?m)^<-  250 .*queued|^<-  250 2\.0\.0`).MatchString(out) {
		t.Errorf("swaks from 127.0.0.1:\n%s", tail(out, 2000))
	}

	// Dribbling: one byte a second, each read well within read_timeout.
	// dribble returns the first 4xx reply (a partial line may get a 5xx
	// syntax error first: the connection must end all the same).
	dribble := func(c *rawConn, text string) (string, time.Duration) {
		start := time.Now()
		got := make(chan string, 1)
		go func() {
			for {
				r := c.reply()
				if strings.HasPrefix(r, "4") || strings.HasPrefix(r, "EOF") {
					got <- r
					return
				}
			}
		}()
		for i := 0; i < 30; i++ {
			select {
			case r := <-got:
				return r, time.Since(start)
			case <-time.After(time.Second):
			}
			io.WriteString(c.c, text[i%len(text):i%len(text)+1])
		}
		return "still connected after 30 bytes", time.Since(start)
	}
	c := dialRaw(t, d.smtpAddr(), nil)
	c.reply()
	reply, took := dribble(c, "EHLO dribble.example.org ")
	t.Logf("command dribbled a byte a second: %q after %.1fs", reply, took.Seconds())
	if !strings.HasPrefix(reply, "421 4.4.2") || took > 12*time.Second {
		t.Errorf("dribbled command: %q after %v, want 421 4.4.2 within about command_timeout (5s)", reply, took)
	}

	c = dialRaw(t, d.smtpAddr(), nil)
	c.reply()
	c.cmd("EHLO e2e.test", "250")
	c.cmd("MAIL FROM:<a@example.org>", "250")
	c.cmd("RCPT TO:<mailgw@localhost>", "250")
	c.cmd("DATA", "354")
	reply, took = dribble(c, "Subject: dribble\r\n\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n")
	t.Logf("DATA dribbled a byte a second: %q after %.1fs", reply, took.Seconds())
	if !strings.HasPrefix(reply, "451 4.4.2") || took > 12*time.Second {
		t.Errorf("dribbled DATA: %q after %v, want 451 4.4.2 within about data_timeout (6s)", reply, took)
	}
}

// TestHostileReceivedCountedOnce (issue 14, item 14): 500 mails sent by
// postfix's smtp-source over 20 concurrent sessions are counted once
// each, as mode "smtp", however fast the pipeline picks them up; none as
// deliver-pickup.
func TestHostileReceivedCountedOnce(t *testing.T) {
	d := newDaemon(t)
	d.start()
	const n = 500
	out, err := exec.Command(need(t, "smtp-source"), "-s", "20", "-m", fmt.Sprint(n),
		"-f", "sender@example.org", "-t", "mailgw@localhost", d.smtpAddr()).CombinedOutput()
	if err != nil {
		t.Fatalf("smtp-source: %v\n%s", err, out)
	}
	waitFor(t, 60*time.Second, "all mail to be processed", func() bool {
		q, _ := d.metric(`mailgw_mails_quarantined_total{reason="no-rule"}`)
		return q == n && d.spoolEmpty()
	})
	smtp, _ := d.metric(`mailgw_mails_received_total{mode="smtp"}`)
	pickup, _ := d.metric(`mailgw_mails_received_total{mode="deliver-pickup"}`)
	t.Logf("after %d SMTP mails: smtp=%v deliver-pickup=%v", n, smtp, pickup)
	if smtp != n || pickup != 0 {
		t.Errorf(`mailgw_mails_received_total: smtp=%v deliver-pickup=%v, want %d and 0`, smtp, pickup, n)
	}
}
