package auth

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/debian/mailgw/internal/auth/authtest"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/parsers"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// The delivery path: relays (global and per service), pipe senders and
// the operator's word for an archive.
func TestDeliveryPath(t *testing.T) {
	tc := trustConfig(authtest.ClosedAddr(t))
	tc.TrustedRelays = []string{"10.1.0.0/16"}
	tc.Debbugs.Relays = []string{"192.0.2.5"}
	tc.Debbugs.Senders = []string{"owner@bugs.example.org", "@lists.example.org"}
	tc.Dak.Relays = []string{"198.51.100.0/24"}
	tc.Debbugs.Action = config.ActionQuarantine
	v := newVerifier(t, tc)
	for _, c := range []struct {
		in Intake
		by string
	}{
		{Intake{Relay: mustAddr("10.1.2.3")}, "relay:10.1.2.3"},
		{Intake{Relay: mustAddr("::ffff:10.1.2.3")}, "relay:10.1.2.3"},
		{Intake{Relay: mustAddr("192.0.2.5")}, "relay:192.0.2.5"},
		{Intake{Relay: mustAddr("192.0.2.6")}, ""},
		{Intake{Relay: mustAddr("198.51.100.1")}, ""}, // dak's relay, not debbugs'
		{Intake{Sender: "Owner@Bugs.Example.org"}, "pipe:owner@bugs.example.org"},
		{Intake{Sender: "x@lists.example.org"}, "pipe:x@lists.example.org"},
		{Intake{Sender: "x@evil-lists.example.org"}, ""},
		{Intake{Sender: "owner@bugs.example.org.evil"}, ""},
		{Intake{Archive: true}, "archive"},
		{Intake{}, ""},
	} {
		d := check(t, v, []byte(testMail), c.in)
		if d.By != c.by || d.Trusted != (c.by != "") {
			t.Errorf("%+v: trusted %v by %q, want %q", c.in, d.Trusted, d.By, c.by)
		}
		if c.by == "" && !strings.HasPrefix(d.Quarantine, "untrusted: nothing proves this debbugs mail") {
			t.Errorf("%+v: quarantine %q", c.in, d.Quarantine)
		}
		if c.by != "" && d.Quarantine != "" {
			t.Errorf("%+v: trusted but quarantined", c.in)
		}
	}
}

// Without any [trust] policy every mail is untrusted and published
// (except archives vouched for); the object says so.
func TestNoPolicy(t *testing.T) {
	tc := config.Defaults().Trust
	tc.DNSResolver = authtest.ClosedAddr(t)
	if tc.Configured() {
		t.Fatal("defaults count as configured")
	}
	v := newVerifier(t, tc)
	d := check(t, v, []byte(testMail), Intake{Relay: mustAddr("127.0.0.1"), Sender: "owner@bugs.example.org"})
	if d.Trusted || d.By != "" || d.Quarantine != "" || d.Retry != "" {
		t.Fatalf("%+v", d)
	}
	if got := d.Object(); got.Get("by") != nil || got.Get("trusted") != false || len(got.Get("dkim").(parsers.Objects)) != 0 {
		t.Fatalf("object %v", got)
	}
	if !strings.Contains(v.Describe(), "no policy configured") {
		t.Errorf("Describe:\n%s", v.Describe())
	}
}

// Authentication-Results count only from trusted_authserv_ids, only for
// an accepted domain, and only when a signature of that domain in the mail
// covers what the parsers read.
func TestAuthResults(t *testing.T) {
	tc := trustConfig(authtest.ClosedAddr(t))
	tc.DKIM = false
	tc.TrustedAuthservIDs = []string{"mx.example.net"}
	v := newVerifier(t, tc)
	key := authtest.RSAKey(t)
	signed := authtest.Sign(t, []byte(testMail), "bugs.example.org", "sel1", key)
	ar := func(s string) []byte { return append([]byte("Authentication-Results: "+s+"\r\n"), signed...) }
	for _, c := range []struct {
		raw     []byte
		trusted bool
	}{
		{ar("mx.example.net; dkim=pass (2048-bit key; unprotected) header.d=bugs.example.org header.i=@bugs.example.org header.b=\"abc\""), true},
		{ar("MX.example.net 1; spf=none smtp.mailfrom=x; dkim=pass header.d=Bugs.Example.Org"), true},
		{ar("mx.example.net; dkim=fail header.d=bugs.example.org"), false},
		{ar("mx.example.net; dkim=pass header.d=other.example"), false},
		{ar("evil.example; dkim=pass header.d=bugs.example.org"), false},
		{ar("mx.example.net (comment; dkim=pass header.d=bugs.example.org)"), false},
		{append([]byte("Authentication-Results: mx.example.net; dkim=pass header.d=bugs.example.org\r\n"), testMail...), false}, // no signature of the domain
		{append([]byte("Authentication-Results: mx.example.net; dkim=pass header.d=bugs.example.org\r\nSubject: forged\r\n"), signed...), false},
	} {
		d := check(t, v, c.raw, Intake{})
		if d.Trusted != c.trusted || (c.trusted && d.By != "dkim:bugs.example.org") {
			t.Errorf("%q: trusted %v by %q, want %v", c.raw[:90], d.Trusted, d.By, c.trusted)
		}
		if len(d.DKIM) != 0 {
			t.Errorf("DKIM off, yet results %v", results(d))
		}
	}
}

func TestStripComments(t *testing.T) {
	for in, want := range map[string]string{
		`a (b) c`:               `a   c`,
		`a (b (c) d) e`:         `a   e`,
		`a "x (y)" b`:           `a "x (y)" b`,
		`a (b \) c) d`:          `a   d`,
		`a "q \" (x)" (c`:       `a "q \" (x)"  `,
		`dkim=pass (2048; bit)`: `dkim=pass  `,
	} {
		if got := stripComments(in); got != want {
			t.Errorf("stripComments(%q) = %q, want %q", in, got, want)
		}
	}
}
