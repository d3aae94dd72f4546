package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/auth/authtest"
)

// 50 signatures in one mail: every one gets a result, only max_signatures
// are checked (so only that many keys are looked up), and the rest say
// they were not.
func TestManySignatures(t *testing.T) {
	dns := authtest.StartDNS(t)
	key := authtest.RSAKey(t)
	raw := []byte(testMail)
	for i := range 50 {
		sel := fmt.Sprintf("s%02d", i)
		dns.SetKey("bugs.example.org", sel, key)
		raw = authtest.Sign(t, raw, "bugs.example.org", sel, key)
	}
	tc := trustConfig(dns.Addr)
	v := newVerifier(t, tc)
	d := check(t, v, raw, Intake{})
	if len(d.DKIM) != 50 {
		t.Fatalf("%d results, want 50", len(d.DKIM))
	}
	checked := 0
	for i, s := range d.DKIM {
		if s.Domain != "bugs.example.org" || s.Selector != fmt.Sprintf("s%02d", 49-i) {
			t.Errorf("signature %d: %+v", i, s)
		}
		switch {
		case i < tc.MaxSignatures && s.Result == ResultPass:
			checked++
		case i >= tc.MaxSignatures && s.Result == ResultPermError && strings.Contains(s.Reason, "max_signatures"):
		default:
			t.Errorf("signature %d: %+v", i, s)
		}
	}
	if checked != tc.MaxSignatures {
		t.Errorf("%d checked, want %d", checked, tc.MaxSignatures)
	}
	if n := dns.Queries.Load(); n != int64(tc.MaxSignatures) {
		t.Errorf("%d DNS queries, want %d", n, tc.MaxSignatures)
	}
	// Far more signatures than are listed: the list stops at MaxListed.
	many := bytes.Repeat([]byte("DKIM-Signature: v=1; d=x.example; s=y\r\n"), 5000)
	if d := check(t, v, append(many, testMail...), Intake{}); len(d.DKIM) != MaxListed {
		t.Errorf("%d listed of 5000, want %d", len(d.DKIM), MaxListed)
	}
}

// A 16 KiB key record (over TCP after a truncated UDP answer) and keys
// that are not keys give a result, not a crash.
func TestHugeAndBadKeys(t *testing.T) {
	dns := authtest.StartDNS(t)
	key := authtest.RSAKey(t)
	junk := make([]byte, 12<<10)
	rand.Read(junk)
	dns.Set(authtest.KeyName("bugs.example.org", "huge"), "v=DKIM1; k=rsa; p="+base64.StdEncoding.EncodeToString(junk))
	dns.Set(authtest.KeyName("bugs.example.org", "text"), strings.Repeat("not a key record at all ", 700))
	dns.Set(authtest.KeyName("bugs.example.org", "revoked"), "v=DKIM1; p=")
	dns.Set(authtest.KeyName("bugs.example.org", "ed"), "v=DKIM1; k=ed25519; p=AAAA")
	v := newVerifier(t, trustConfig(dns.Addr))
	for _, sel := range []string{"huge", "text", "revoked", "ed"} {
		d := check(t, v, authtest.Sign(t, []byte(testMail), "bugs.example.org", sel, key), Intake{})
		if d.Trusted || len(d.DKIM) != 1 || d.DKIM[0].Result != ResultPermError {
			t.Errorf("%s: %+v", sel, d)
		}
	}
}

// Junk from the DNS server: every kind is a temporary failure (the mail
// of an accepted domain is held), each lookup bounded by dns_timeout.
func TestJunkDNS(t *testing.T) {
	dns := authtest.StartDNS(t)
	key := authtest.RSAKey(t)
	signed := authtest.Sign(t, []byte(testMail), "bugs.example.org", "sel1", key)
	for _, mode := range []authtest.Mode{authtest.ServFail, authtest.Silent, authtest.Garbage, authtest.WrongQuestion} {
		dns.SetMode(mode)
		tc := trustConfig(dns.Addr)
		tc.DNSTimeout.Duration = 300 * time.Millisecond
		d := check(t, newVerifier(t, tc), signed, Intake{})
		if d.Trusted || d.DKIM[0].Result != ResultTempError || d.Retry == "" {
			t.Errorf("mode %d: %+v", mode, d)
		}
	}
	// An answer of another type is no key: permerror.
	dns.SetMode(authtest.WrongType)
	dns.SetKey("bugs.example.org", "sel1", key)
	if d := check(t, newVerifier(t, trustConfig(dns.Addr)), signed, Intake{}); d.DKIM[0].Result != ResultPermError || d.Retry != "" {
		t.Errorf("wrong type: %+v", d)
	}
}

// Malformed signature fields: a result for each, in order.
func TestMalformedSignatures(t *testing.T) {
	dns := authtest.StartDNS(t)
	v := newVerifier(t, trustConfig(dns.Addr))
	fields := []string{
		"DKIM-Signature: garbage",
		"DKIM-Signature: v=1; d=a.example; d=b.example; s=x",
		"DKIM-Signature: v=2; a=rsa-sha256; d=bugs.example.org; s=s; h=from; bh=AA==; b=AA==",
		"DKIM-Signature: v=1; a=rsa-sha1; d=bugs.example.org; s=s; h=from:subject; bh=AA==; b=AA==",
		"DKIM-Signature: v=1; a=rsa-sha256; d=bugs.example.org; s=s; h=subject; bh=AA==; b=AA==",
		"DKIM-Signature: v=1; a=rsa-sha256; d=" + strings.Repeat("x", 1000) + "; s=s; h=from; bh=!!; b=AA==",
		"DKIM-Signature: v=1; a=rsa-sha256; d=bugs.example.org; s=s; h=from; bh=AA==; b=AA==; x=1",
		"DKIM-Signature: \xff\xfe; d=\xff.example; s=\xfe",
	}
	raw := []byte(strings.Join(fields, "\r\n") + "\r\n" + testMail)
	d := check(t, v, raw, Intake{})
	if len(d.DKIM) != len(fields) {
		t.Fatalf("%d results for %d fields: %v", len(d.DKIM), len(fields), results(d))
	}
	for i, s := range d.DKIM {
		if s.Result != ResultPermError || len(s.Domain) > maxName {
			t.Errorf("field %d: %+v", i, s)
		}
	}
	if n := dns.Queries.Load(); n > 3 {
		t.Errorf("%d DNS queries; the name that is no domain name must not be asked", n)
	}
	if d.DKIM[1].Domain != "b.example" && d.DKIM[1].Domain != "a.example" {
		t.Errorf("domain of a field with two d= tags: %q", d.DKIM[1].Domain)
	}
}
