package auth

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/auth/authtest"
	"github.com/debian/mailgw/internal/config"
)

// A mail signed with go-msgauth's signer, its key served by a DNS server
// in the test, passes; one changed body byte fails; an unknown selector
// is a permerror; with the DNS server stopped the lookup is a temperror
// that holds the mail (Retry), and once it is back the mail passes.
func TestDKIM(t *testing.T) {
	dns := authtest.StartDNS(t)
	key := authtest.RSAKey(t)
	dns.SetKey("bugs.example.org", "sel1", key)
	signed := authtest.Sign(t, []byte(testMail), "bugs.example.org", "sel1", key)

	v := newVerifier(t, trustConfig(dns.Addr))
	d := check(t, v, signed, Intake{})
	if !d.Trusted || d.By != "dkim:bugs.example.org" || d.Retry != "" || d.Quarantine != "" {
		t.Fatalf("signed mail: %+v", d)
	}
	if got := results(d); !slices.Equal(got, []string{"bugs.example.org/sel1=pass"}) {
		t.Fatalf("results %v", got)
	}
	body, err := bus.Canonical(map[string]any{"auth": d.Object()})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"auth":{"by":"dkim:bugs.example.org","dkim":[{"domain":"bugs.example.org","result":"pass","selector":"sel1"}],"trusted":true}}`; string(body) != want {
		t.Fatalf("object %s\nwant   %s", body, want)
	}

	// One changed body byte.
	bad := bytes.Replace(signed, []byte("caused the bug"), []byte("caused the bux"), 1)
	d = check(t, v, bad, Intake{})
	if d.Trusted || d.DKIM[0].Result != ResultFail {
		t.Fatalf("changed byte: %+v", d)
	}

	// An unknown selector: NXDOMAIN.
	other := authtest.Sign(t, []byte(testMail), "bugs.example.org", "nosuch", key)
	d = check(t, v, other, Intake{})
	if d.Trusted || d.DKIM[0].Result != ResultPermError || d.Retry != "" {
		t.Fatalf("unknown selector: %+v", d)
	}

	// DNS down, with a fresh Verifier (nothing cached): temperror, and the
	// mail is held, neither published untrusted nor quarantined.
	tc := trustConfig(dns.Addr)
	tc.Debbugs.Action = config.ActionQuarantine
	v = newVerifier(t, tc)
	dns.Stop()
	d = check(t, v, signed, Intake{})
	if d.Trusted || d.DKIM[0].Result != ResultTempError || d.Retry == "" || d.Quarantine != "" {
		t.Fatalf("DNS down: %+v", d)
	}
	if !strings.Contains(d.Retry, "d=bugs.example.org s=sel1") {
		t.Errorf("retry reason %q", d.Retry)
	}
	// A temperror for a domain the policy does not accept decides
	// nothing: the mail is judged (quarantined) at once.
	foreign := authtest.Sign(t, []byte(testMail), "elsewhere.example", "sel1", key)
	if d := check(t, v, foreign, Intake{}); d.Retry != "" || !strings.HasPrefix(d.Quarantine, "untrusted: ") {
		t.Fatalf("foreign domain, DNS down: %+v", d)
	}
	// Mail proven otherwise is not held either.
	tc.TrustedRelays = []string{"192.0.2.0/24"}
	vr := newVerifier(t, tc)
	if d := check(t, vr, signed, Intake{Relay: mustAddr("192.0.2.7")}); !d.Trusted || d.By != "relay:192.0.2.7" || d.Retry != "" {
		t.Fatalf("relay, DNS down: %+v", d)
	}

	dns.Start(t)
	waitTempTTL(v)
	if d := check(t, v, signed, Intake{}); !d.Trusted || d.DKIM[0].Result != ResultPass {
		t.Fatalf("DNS back: %+v", d)
	}
}

// Ed25519 keys (RFC 8463) verify too.
func TestDKIMEd25519(t *testing.T) {
	dns := authtest.StartDNS(t)
	key := authtest.Ed25519Key(t)
	dns.SetKey("bugs.example.org", "ed", key)
	d := check(t, newVerifier(t, trustConfig(dns.Addr)), authtest.Sign(t, []byte(testMail), "bugs.example.org", "ed", key), Intake{})
	if !d.Trusted || d.DKIM[0].Result != ResultPass {
		t.Fatalf("%+v", d)
	}
}

// Keys are cached: the second mail asks DNS nothing; so is the absence
// of a key.
func TestKeyCache(t *testing.T) {
	dns := authtest.StartDNS(t)
	key := authtest.RSAKey(t)
	dns.SetKey("bugs.example.org", "sel1", key)
	v := newVerifier(t, trustConfig(dns.Addr))
	signed := authtest.Sign(t, []byte(testMail), "bugs.example.org", "sel1", key)
	missing := authtest.Sign(t, []byte(testMail), "bugs.example.org", "gone", key)
	for range 3 {
		check(t, v, signed, Intake{})
		check(t, v, missing, Intake{})
	}
	if n := dns.Queries.Load(); n != 2 {
		t.Fatalf("%d DNS queries for 6 mails with 2 distinct keys, want 2", n)
	}
}

// A header field that a signature signs, added again above the signed
// mail, is what the parsers would read: such a signature proves nothing
// (result policy), and neither does one that leaves Subject unsigned.
func TestDKIMPrependedHeader(t *testing.T) {
	dns := authtest.StartDNS(t)
	key := authtest.RSAKey(t)
	dns.SetKey("bugs.example.org", "sel1", key)
	v := newVerifier(t, trustConfig(dns.Addr))
	signed := authtest.Sign(t, []byte(testMail), "bugs.example.org", "sel1", key)
	forged := append([]byte("Subject: Accepted openssl 9.9.9-1 (source)\r\n"), signed...)
	d := check(t, v, forged, Intake{})
	if d.Trusted || d.DKIM[0].Result != ResultPolicy {
		t.Fatalf("prepended Subject: %+v", d)
	}
	// An unsigned header field of another name changes nothing.
	extra := append([]byte("X-Extra: 1\r\n"), signed...)
	if d := check(t, v, extra, Intake{}); !d.Trusted {
		t.Fatalf("unsigned extra field: %+v", d)
	}
}

// waitTempTTL makes v forget remembered temporary failures.
func waitTempTTL(v *Verifier) {
	v.keys.mu.Lock()
	for k, e := range v.keys.m {
		if e.err != nil {
			delete(v.keys.m, k)
		}
	}
	v.keys.mu.Unlock()
}
