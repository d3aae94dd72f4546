package auth

import (
	"testing"
	"time"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/parsers"
)

// testMail is a small debbugs-like mail; tests sign it.
const testMail = "From: Debian Bug Tracking System <owner@bugs.example.org>\r\n" +
	"To: someone@example.net\r\n" +
	"Subject: Bug#123: marked as done\r\n" +
	"Message-ID: <handler.123.D123.1@bugs.example.org>\r\n" +
	"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n" +
	"X-Debian-PR-Message: closed 123\r\n" +
	"\r\n" +
	"Your message dated ... with message-id ... has caused the bug to be closed.\r\n"

// trustConfig is the default [trust] with DNS at addr, short timeouts,
// and a debbugs policy accepting DKIM from bugs.example.org.
func trustConfig(addr string) config.Trust {
	t := config.Defaults().Trust
	t.DNSResolver = addr
	t.DNSTimeout = config.Duration{Duration: 2 * time.Second}
	t.RetryMin = config.Duration{Duration: 100 * time.Millisecond}
	t.Debbugs.DKIMDomains = []string{"bugs.example.org"}
	return t
}

func newVerifier(t testing.TB, tc config.Trust) *Verifier {
	t.Helper()
	v, err := New(tc, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// debbugsEvents are the events Check judges by: one debbugs event and its
// debmessenger copy.
var debbugsEvents = []parsers.Event{{Service: "debbugs", Object: "bug", EventType: "close"}, {Service: "debmessenger", Object: "bug", EventType: "closed"}}

func check(t testing.TB, v *Verifier, raw []byte, in Intake) *Decision {
	t.Helper()
	m, err := parsers.ReadMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v.Check(m, in, debbugsEvents)
}

// results lists the DKIM results of d.
func results(d *Decision) []string {
	var out []string
	for _, s := range d.DKIM {
		out = append(out, s.Domain+"/"+s.Selector+"="+s.Result)
	}
	return out
}
